import { HubError, HubErrorCode } from './errors.ts';

/**
 * Who asked for a change: the process itself (`system:cli`, `system:demo`), a user of the
 * management API (`user:<id>`) or one of its tokens (`token:<id>`). Every mutating operation
 * takes one and writes it to the audit log.
 */
export type Actor = `system:${string}` | `user:${string}` | `token:${string}`;

const ACTOR = /^(system|user|token):[A-Za-z0-9._@-]{1,128}$/;

/** Checks an actor that may come from outside the type system (a CLI argument, a header). */
export function assertActor(actor: string): asserts actor is Actor {
  if (!ACTOR.test(actor)) throw new HubError(HubErrorCode.BAD_ACTOR, `not an actor: ${JSON.stringify(actor).slice(0, 80)} (system:<name>, user:<id> or token:<id>)`);
}
