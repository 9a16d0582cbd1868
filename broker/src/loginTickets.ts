import { createHmac, timingSafeEqual } from 'node:crypto';
import type { GatewayRow } from './registry.ts';

/**
 * Session-resumption tickets for gateway logins (docs/design.md#security), like TLS session
 * tickets: after a login with its password the hub hands the gateway a ticket, an HMAC-SHA256
 * under the hub's secret (registry, `hub_secrets`) over the gateway id, a keyed fingerprint of the
 * gateway's stored credential hash, and the issue and expiry times. The gateway presents it as its
 * MQTT password on reconnect; checking it is two HMACs and a registry lookup, no scrypt, so a
 * reconnect storm after a hub restart is not held back by password hashing. The stored hashes
 * stay scrypt at their cost: a ticket only stands for a password check the hub already did.
 *
 *   t1.<gateway id, base64url>.<issued, unix s>.<expires, unix s>.<fingerprint, base64url>.<mac, base64url>
 */
export const TICKET_PREFIX = 't1.';
/** Longer than any ticket the hub issues (a gateway id is at most 128 characters). */
export const MAX_TICKET_CHARS = 512;
/** Issued tickets are good this long unless configured otherwise. */
export const DEFAULT_TICKET_TTL_SEC = 86_400;
/** Another hub node's clock may run ahead of this one's by this much. */
const CLOCK_SKEW_SEC = 300;
const FP_BYTES = 16;
const MAC_BYTES = 32;

export type TicketRefusal =
  /** Not a ticket this hub could have issued (shape, lengths, numbers). */
  | 'malformed'
  /** Its MAC does not check out under the hub's secret: forged or altered. */
  | 'bad_mac'
  /** A real ticket, of another gateway than the one logging in. */
  | 'other_gateway'
  | 'expired'
  /** Issued later than now (past the clock skew allowed between hub nodes). */
  | 'not_yet_valid'
  | 'unknown_gateway'
  | 'revoked'
  /** The gateway's password was rotated since (or the gateway deleted and created again). */
  | 'credential_changed';

export type TicketCheck =
  | { ok: true; gateway: GatewayRow; expiresAt: number; renew: boolean }
  | { ok: false; reason: TicketRefusal };

/** Whether a CONNECT password is to be read as a ticket (gateway passwords are base64url: never a dot). */
export function isTicket(password: string): boolean {
  return password.startsWith(TICKET_PREFIX);
}

const ID_PART = /^[A-Za-z0-9_-]{1,172}$/u;
const NUM_PART = /^(0|[1-9][0-9]{0,10})$/u;
const FP_PART = /^[A-Za-z0-9_-]{22}$/u;
const MAC_PART = /^[A-Za-z0-9_-]{43}$/u;

interface TicketFields {
  gateway: string;
  issuedSec: number;
  expiresSec: number;
  fingerprint: Buffer;
  mac: Buffer;
  /** The text the MAC covers. */
  signed: string;
}

/** The ticket's fields, or undefined for anything not shaped as one. Never throws. */
export function decodeTicket(text: string): TicketFields | undefined {
  if (typeof text !== 'string' || text.length > MAX_TICKET_CHARS || !isTicket(text)) return undefined;
  const parts = text.slice(TICKET_PREFIX.length).split('.');
  if (parts.length !== 5) return undefined;
  const [id, issued, expires, fp, mac] = parts as [string, string, string, string, string];
  if (!ID_PART.test(id) || !NUM_PART.test(issued) || !NUM_PART.test(expires) || !FP_PART.test(fp) || !MAC_PART.test(mac)) return undefined;
  const gateway = Buffer.from(id, 'base64url').toString('utf8');
  // Only the canonical encoding of a valid UTF-8 id: one ticket text per ticket.
  if (gateway.length === 0 || Buffer.from(gateway, 'utf8').toString('base64url') !== id) return undefined;
  const issuedSec = Number(issued);
  const expiresSec = Number(expires);
  if (!Number.isSafeInteger(issuedSec) || !Number.isSafeInteger(expiresSec) || expiresSec <= issuedSec) return undefined;
  const fingerprint = Buffer.from(fp, 'base64url');
  const macBytes = Buffer.from(mac, 'base64url');
  if (fingerprint.length !== FP_BYTES || macBytes.length !== MAC_BYTES) return undefined;
  return { gateway, issuedSec, expiresSec, fingerprint, mac: macBytes, signed: text.slice(0, text.lastIndexOf('.')) };
}

/**
 * Issues and checks tickets under one hub secret (32 random bytes). Two keys are derived from it,
 * one for MACs and one for credential fingerprints, so neither use can stand in for the other.
 */
export class LoginTickets {
  readonly #macKey: Buffer;
  readonly #fpKey: Buffer;
  readonly #ttlSec: number;
  readonly #now: () => number;

  constructor(secret: Buffer, opts: { ttlSec?: number; now?: () => number } = {}) {
    if (secret.length < 32) throw new RangeError('a ticket secret has at least 32 bytes');
    this.#macKey = createHmac('sha256', secret).update('campus login ticket mac v1').digest();
    this.#fpKey = createHmac('sha256', secret).update('campus login ticket credential fingerprint v1').digest();
    this.#ttlSec = opts.ttlSec ?? DEFAULT_TICKET_TTL_SEC;
    this.#now = opts.now ?? Date.now;
  }

  get ttlSec(): number {
    return this.#ttlSec;
  }

  /** A ticket for `gw` as the registry holds it now, and when it expires (ms). */
  issue(gw: Pick<GatewayRow, 'id' | 'passwordHash'>): { ticket: string; expiresAt: number } {
    const issued = Math.floor(this.#now() / 1000);
    const expires = issued + this.#ttlSec;
    const signed = `${TICKET_PREFIX}${Buffer.from(gw.id, 'utf8').toString('base64url')}.${issued}.${expires}.${this.#fingerprint(gw.passwordHash).toString('base64url')}`;
    return { ticket: `${signed}.${this.#mac(signed).toString('base64url')}`, expiresAt: expires * 1000 };
  }

  /**
   * Checks a ticket presented by `username`: the MAC first (a forgery learns nothing about which
   * gateways exist), then the gateway as the registry holds it now. `renew`: past three quarters
   * of its life, the hub hands out a new one. Never throws.
   */
  check(text: string, username: string, lookup: (id: string) => GatewayRow | undefined): TicketCheck {
    const t = decodeTicket(text);
    if (!t) return { ok: false, reason: 'malformed' };
    if (!timingSafeEqual(this.#mac(t.signed), t.mac)) return { ok: false, reason: 'bad_mac' };
    if (t.gateway !== username) return { ok: false, reason: 'other_gateway' };
    const nowSec = this.#now() / 1000;
    if (nowSec >= t.expiresSec) return { ok: false, reason: 'expired' };
    if (t.issuedSec > nowSec + CLOCK_SKEW_SEC) return { ok: false, reason: 'not_yet_valid' };
    const gw = lookup(t.gateway);
    if (!gw) return { ok: false, reason: 'unknown_gateway' };
    if (gw.revoked) return { ok: false, reason: 'revoked' };
    if (!timingSafeEqual(this.#fingerprint(gw.passwordHash), t.fingerprint)) return { ok: false, reason: 'credential_changed' };
    const renew = t.expiresSec - nowSec < (t.expiresSec - t.issuedSec) / 4;
    return { ok: true, gateway: gw, expiresAt: t.expiresSec * 1000, renew };
  }

  #mac(signed: string): Buffer {
    return createHmac('sha256', this.#macKey).update(signed).digest();
  }

  #fingerprint(passwordHash: string): Buffer {
    return createHmac('sha256', this.#fpKey).update(passwordHash).digest().subarray(0, FP_BYTES);
  }
}
