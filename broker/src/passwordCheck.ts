import { HubError, HubErrorCode } from './errors.ts';
import { dummyHash, scryptParamsOf, verifyPassword } from './passwords.ts';
import type { GatewayRow } from './registry.ts';
import { VerifyQueue } from './verifyQueue.ts';

/**
 * The password checks of MQTT logins: through a VerifyQueue, and with a dummy hash at the
 * parameters of the last real hash looked up, so an unknown gateway id costs what a known one
 * does even where the registry's hashes are not at the default cost.
 */
export class PasswordCheck {
  readonly #queue: VerifyQueue;
  #dummy = dummyHash();

  constructor(queue = new VerifyQueue()) {
    this.#queue = queue;
  }

  get dummyHash(): string {
    return this.#dummy;
  }

  /** Passes a registry row (a gateway's, a user's password) through, noting its hash's parameters. */
  seen<R extends Pick<GatewayRow, 'passwordHash'>>(row: R | undefined): R | undefined {
    const params = row && scryptParamsOf(row.passwordHash);
    if (params) this.#dummy = dummyHash(params);
    return row;
  }

  /** HUB_ERR_AUTH_UNAVAILABLE (CONNACK 3) when too many checks are already waiting. */
  readonly verify = async (password: string, hash: string): Promise<boolean> => {
    const r = await this.#queue.run(() => verifyPassword(password, hash));
    if (r === undefined) throw new HubError(HubErrorCode.AUTH_UNAVAILABLE, 'too many logins being checked');
    return r;
  };
}
