import type { GatewayState } from '../../protocol/src/gatewayState.ts';

export interface PresenceEntry extends GatewayState {
  district: string;
  school: string;
  gateway: string;
}

/**
 * Current state of every gateway. A death (Last Will) whose bdSeq is older than the birth in
 * force is stale — it belongs to a connection that has already been replaced — and is ignored.
 */
export class Presence {
  readonly #byGateway = new Map<string, PresenceEntry>();

  /** Returns false when the update is a stale death and must not be applied or retained. */
  apply(entry: PresenceEntry): boolean {
    const cur = this.#byGateway.get(entry.gateway);
    if (entry.state === 'offline' && cur && cur.bdSeq > entry.bdSeq) return false;
    this.#byGateway.set(entry.gateway, { ...entry });
    return true;
  }

  get(gateway: string): PresenceEntry | undefined {
    return this.#byGateway.get(gateway);
  }

  list(): PresenceEntry[] {
    return [...this.#byGateway.values()];
  }
}
