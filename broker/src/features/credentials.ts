import { assertActor, type Actor } from '../actor.ts';
import { hashPassword } from '../passwords.ts';
import type { Registry } from '../registry.ts';
import type { Feature } from './feature.ts';

export interface CredentialsDeps {
  registry: () => Registry;
  /** Closes a gateway's live session (it must log in again with what the registry now holds). */
  closeSession: (gateway: string, why: string) => boolean;
  now: () => number;
}

/** Changes to gateways' credentials, each audited; a revocation or rotation drops the live session at once. */
export class Credentials implements Feature {
  readonly #d: CredentialsDeps;

  constructor(deps: CredentialsDeps) {
    this.#d = deps;
  }

  start(): void {}
  stop(): void {}

  /** Revokes a gateway's credentials; false for an unknown gateway. */
  revoke(id: string, actor: Actor): boolean {
    assertActor(actor);
    const changed = this.#d.registry().revokeGateway(id);
    this.#audit(actor, 'gateway.revoke', id, changed ? 'ok' : 'not_found');
    this.#d.closeSession(id, 'credentials revoked');
    return changed;
  }

  /** Lets a revoked gateway log in again with the password the registry holds; false for an unknown gateway. */
  reinstate(id: string, actor: Actor): boolean {
    assertActor(actor);
    const gw = this.#d.registry().getGateway(id);
    const changed = gw !== undefined && this.#d.registry().reinstateGateway(id);
    this.#audit(actor, 'gateway.reinstate', id, gw ? 'ok' : 'not_found', gw && !gw.revoked ? 'was not revoked' : undefined);
    return changed;
  }

  /** Sets a new password (a revoked gateway stays revoked); false for an unknown gateway. */
  async rotatePassword(id: string, password: string, actor: Actor): Promise<boolean> {
    assertActor(actor);
    const gw = this.#d.registry().getGateway(id);
    if (!gw) {
      this.#audit(actor, 'gateway.rotate_password', id, 'not_found');
      return false;
    }
    this.#d.registry().setGateway(id, gw.school, await hashPassword(password));
    this.#audit(actor, 'gateway.rotate_password', id, 'ok', gw.revoked ? 'still revoked' : undefined);
    this.#d.closeSession(id, 'credentials rotated');
    return true;
  }

  #audit(actor: Actor, action: string, gateway: string, outcome: string, detail?: string): void {
    this.#d.registry().appendAudit({ at: this.#d.now(), actor, action, target: `gateway:${gateway}`, outcome, detail });
  }
}
