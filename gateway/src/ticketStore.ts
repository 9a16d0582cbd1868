import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { loginTicketSchema } from '../../protocol/src/loginTicket.ts';
import { topicIdSchema } from '../../protocol/src/ids.ts';
import { toError } from '../../runtime/src/errors.ts';
import { StateFileError } from './errors.ts';
import { validatePayload } from './lanValidation.ts';
import type { GatewayCounters } from './metrics.ts';
import { readStateFile, writeStateFile } from './stateFile.ts';

const fileSchema = z.strictObject({ gateway: topicIdSchema, ticket: loginTicketSchema.shape.ticket, expiresAt: loginTicketSchema.shape.expiresAt });

/** A ticket this close to its expiry is not presented: the hub could refuse it on arrival. */
const EXPIRY_MARGIN_MS = 60_000;

export interface TicketStoreDeps {
  log: Logger;
  counters: GatewayCounters;
  /** This gateway's id, written in the file: another gateway's file (a state directory copied) is ignored. */
  gateway: string;
  now: () => number;
  /** Where the ticket is kept beside the outbox (mode 600); undefined keeps it in memory only. */
  file: string | undefined;
}

/**
 * The login ticket the hub handed this gateway (protocol/src/loginTicket.ts, docs/design.md#security):
 * kept beside the outbox across restarts, presented instead of the password at the next
 * connection, dropped when the hub refuses it (the gateway then logs in with its password at
 * once). To the gateway a ticket is opaque, and a credential: never logged.
 */
export class TicketStore {
  readonly #d: TicketStoreDeps;
  #current: { ticket: string; expiresAt: number } | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(deps: TicketStoreDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    const { file, log, counters, gateway } = this.#d;
    if (file === undefined) return;
    try {
      const t = await readStateFile(file, fileSchema);
      if (t && t.gateway !== gateway) throw new StateFileError('other_gateway', `${file} is gateway ${t.gateway}'s`);
      if (t) this.#current = { ticket: t.ticket, expiresAt: t.expiresAt };
    } catch (e) {
      // A damaged file only costs one password login.
      const err = e instanceof StateFileError ? e : new StateFileError('unreadable', `${file} cannot be read`);
      counters.inc('state_files_ignored', { file: 'ticket', reason: err.reason });
      log.warn({ err }, 'saved login ticket ignored; logging in with the password');
    }
  }

  async stop(): Promise<void> {
    await this.#writing;
  }

  /** The ticket to present now; undefined: log in with the password. */
  current(): string | undefined {
    const t = this.#current;
    return t && t.expiresAt - EXPIRY_MARGIN_MS > this.#d.now() ? t.ticket : undefined;
  }

  /** The payload of a message on the gateway's ticket topic. */
  offer(payload: Buffer): void {
    const { counters, log } = this.#d;
    const v = validatePayload(payload, 1024, loginTicketSchema);
    if (!v.ok) {
      counters.inc('tickets_received', { outcome: 'invalid' });
      log.warn({ detail: v.detail }, 'login ticket from the hub refused');
      return;
    }
    counters.inc('tickets_received', { outcome: 'kept' });
    this.#current = { ticket: v.value.ticket, expiresAt: v.value.expiresAt };
    log.info({ expiresAt: new Date(v.value.expiresAt).toISOString() }, 'login ticket kept for the next connection');
    this.#save();
  }

  /** The hub refused the ticket presented: forgotten, here and on disk. */
  refused(): void {
    this.#d.counters.inc('ticket_logins_refused');
    this.#d.log.warn('the hub refused the login ticket; logging in with the password');
    this.#current = undefined;
    this.#save();
  }

  #save(): void {
    const file = this.#d.file;
    if (file === undefined) return;
    const t = this.#current;
    this.#writing = this.#writing
      .then(() => (t ? writeStateFile(file, { gateway: this.#d.gateway, ...t }) : unlink(file).catch((e: unknown) => {
        if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
      })))
      .catch((err: unknown) => this.#d.log.error({ err: toError(err) }, 'login ticket not saved beside the outbox'));
  }
}
