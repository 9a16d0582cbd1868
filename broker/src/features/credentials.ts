import { randomBytes } from 'node:crypto';
import { toError } from '../../../runtime/src/errors.ts';
import { assertActor, type Actor } from '../actor.ts';
import { RegistryConflictError, RegistryInvalidError } from '../errors.ts';
import { hashPassword, type ScryptParams } from '../passwords.ts';
import type { Gateway, Registry } from '../registry.ts';
import type { Feature } from './feature.ts';

export interface CredentialsDeps {
  registry: () => Registry;
  /** Closes a gateway's live session (it must log in again with what the registry now holds). */
  closeSession: (gateway: string, why: string) => boolean;
  now: () => number;
  /** scrypt parameters of new hashes (the default unless given: tests pass cheaper ones). */
  scrypt?: ScryptParams | undefined;
}

/** A new gateway password: 24 random bytes, base64url (32 characters), shown once. */
export function newGatewayPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Changes to gateways' credentials, each audited with the gateway's district and school; a
 * revocation, rotation or removal drops the live session at once.
 */
export class Credentials implements Feature {
  readonly #d: CredentialsDeps;

  constructor(deps: CredentialsDeps) {
    this.#d = deps;
  }

  start(): void {}
  stop(): void {}

  /** A new gateway of `school` with a random password (returned once; only its hash is kept). Registry refusals are audited and rethrown. */
  async create(id: string, school: string, actor: Actor): Promise<{ gateway: Gateway; password: string }> {
    assertActor(actor);
    const password = newGatewayPassword();
    const hash = await hashPassword(password, this.#d.scrypt);
    const where = this.#d.registry().getSchool(school);
    const scope = where ? { district: where.district, school: where.id } : {};
    let gateway: Gateway;
    try {
      gateway = this.#d.registry().createGateway(id, school, hash, this.#d.now());
    } catch (e) {
      this.#audit(actor, 'gateway.create', id, refusalOf(e), scope, toError(e).message);
      throw e;
    }
    this.#audit(actor, 'gateway.create', id, 'ok', scope);
    return { gateway, password };
  }

  /**
   * A new random password for a gateway (a revoked one stays revoked); undefined for an unknown
   * gateway, or one no longer in `expectSchool` (the school the caller was allowed to change)
   * once the password is hashed: it may have been deleted and re-created elsewhere meanwhile.
   */
  async rotate(id: string, actor: Actor, expectSchool?: string): Promise<{ gateway: Gateway; password: string } | undefined> {
    assertActor(actor);
    const before = this.#scope(id);
    const password = newGatewayPassword();
    const hash = await hashPassword(password, this.#d.scrypt);
    const reg = this.#d.registry();
    if (!this.#stillIn(id, expectSchool)) {
      this.#audit(actor, 'gateway.rotate', id, 'not_found', before, expectSchool === undefined ? undefined : `no longer in school ${expectSchool}`);
      return undefined;
    }
    const changed = reg.rotateGatewayHash(id, hash, this.#d.now());
    const gateway = reg.getGatewayRecord(id);
    this.#audit(actor, 'gateway.rotate', id, changed && gateway ? 'ok' : 'not_found', gateway ?? {}, gateway?.revoked ? 'still revoked' : undefined);
    if (!changed || !gateway) return undefined;
    this.#d.closeSession(id, 'credentials rotated');
    return { gateway, password };
  }

  /** Revokes a gateway's credentials; false for an unknown gateway. */
  revoke(id: string, actor: Actor): boolean {
    assertActor(actor);
    const changed = this.#d.registry().revokeGateway(id);
    this.#audit(actor, 'gateway.revoke', id, changed ? 'ok' : 'not_found', this.#scope(id));
    this.#d.closeSession(id, 'credentials revoked');
    return changed;
  }

  /** Lets a revoked gateway log in again with the password the registry holds; false for an unknown gateway. */
  reinstate(id: string, actor: Actor): boolean {
    assertActor(actor);
    const gw = this.#d.registry().getGateway(id);
    const changed = gw !== undefined && this.#d.registry().reinstateGateway(id);
    this.#audit(actor, 'gateway.reinstate', id, gw ? 'ok' : 'not_found', this.#scope(id), gw && !gw.revoked ? 'was not revoked' : undefined);
    return changed;
  }

  /** Removes a gateway and drops its session; false for an unknown gateway. */
  remove(id: string, actor: Actor): boolean {
    assertActor(actor);
    const scope = this.#scope(id);
    const removed = this.#d.registry().deleteGateway(id);
    this.#audit(actor, 'gateway.delete', id, removed ? 'ok' : 'not_found', scope);
    this.#d.closeSession(id, 'gateway removed');
    return removed;
  }

  /**
   * Sets a given password (a revoked gateway stays revoked); false for an unknown gateway, or
   * one deleted or moved to another school (or out of `expectSchool`) while the password was hashed.
   */
  async rotatePassword(id: string, password: string, actor: Actor, expectSchool?: string): Promise<boolean> {
    assertActor(actor);
    const was = this.#d.registry().getGateway(id);
    const hash = was && (await hashPassword(password, this.#d.scrypt));
    const gw = this.#d.registry().getGateway(id);
    if (!was || !hash || !gw || gw.school !== was.school || !this.#stillIn(id, expectSchool)) {
      this.#audit(actor, 'gateway.rotate_password', id, 'not_found', was ?? {});
      return false;
    }
    this.#d.registry().setGateway(id, gw.school, hash, this.#d.now());
    this.#audit(actor, 'gateway.rotate_password', id, 'ok', gw, gw.revoked ? 'still revoked' : undefined);
    this.#d.closeSession(id, 'credentials rotated');
    return true;
  }

  /** Read after an await, in the turn that writes. */
  #stillIn(id: string, school: string | undefined): boolean {
    const g = this.#d.registry().getGateway(id);
    return g !== undefined && (school === undefined || g.school === school);
  }

  #scope(id: string): { district?: string; school?: string } {
    const g = this.#d.registry().getGateway(id);
    return g ? { district: g.district, school: g.school } : {};
  }

  #audit(actor: Actor, action: string, gateway: string, outcome: string, scope: { district?: string; school?: string }, detail?: string): void {
    this.#d.registry().appendAudit({ at: this.#d.now(), actor, action, target: `gateway:${gateway}`, outcome, detail, district: scope.district, school: scope.school });
  }
}

function refusalOf(e: unknown): string {
  if (e instanceof RegistryConflictError) return 'conflict';
  if (e instanceof RegistryInvalidError) return 'invalid';
  return 'error';
}
