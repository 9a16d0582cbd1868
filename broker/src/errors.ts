import { CodedError } from '../../runtime/src/errors.ts';
import type { LifecycleFault } from '../../runtime/src/lifecycle.ts';

/** Error codes of the hub; the catalogue is in broker/README.md. */
export const HubErrorCode = {
  AUTH_DENIED: 'HUB_ERR_AUTH_DENIED',
  AUTH_UNAVAILABLE: 'HUB_ERR_AUTH_UNAVAILABLE',
  /** A login ticket presented as the password that the hub refuses (forged, expired, the credential changed since, …). */
  TICKET_REFUSED: 'HUB_ERR_TICKET_REFUSED',
  LOGIN_BACKOFF: 'HUB_ERR_LOGIN_BACKOFF',
  /** A gateway login refused while another connection of it is live and its takeovers are damped. */
  SESSION_CONFLICT: 'HUB_ERR_SESSION_CONFLICT',
  EMPTY_CLIENT_ID: 'HUB_ERR_EMPTY_CLIENT_ID',
  CLIENT_ID_MISMATCH: 'HUB_ERR_CLIENT_ID_MISMATCH',
  ANONYMOUS_DENIED: 'HUB_ERR_ANONYMOUS_DENIED',
  ANONYMOUS_CLIENT_ID: 'HUB_ERR_ANONYMOUS_CLIENT_ID',
  PUBLISH_DENIED: 'HUB_ERR_PUBLISH_DENIED',
  SUBSCRIBE_DENIED: 'HUB_ERR_SUBSCRIBE_DENIED',
  INFLUX_UNAVAILABLE: 'HUB_ERR_INFLUX_UNAVAILABLE',
  COMMAND_REFUSED: 'HUB_ERR_COMMAND_REFUSED',
  BAD_ACTOR: 'HUB_ERR_BAD_ACTOR',
  LISTEN: 'HUB_ERR_LISTEN',
  REGISTRY_OPEN: 'HUB_ERR_REGISTRY_OPEN',
  REGISTRY_VERSION: 'HUB_ERR_REGISTRY_VERSION',
  REGISTRY_INVALID: 'HUB_ERR_REGISTRY_INVALID',
  UNAUTHENTICATED: 'HUB_ERR_UNAUTHENTICATED',
  SIGN_IN_FAILED: 'HUB_ERR_SIGN_IN_FAILED',
  SIGN_IN_BACKOFF: 'HUB_ERR_SIGN_IN_BACKOFF',
  CSRF: 'HUB_ERR_CSRF',
  FORBIDDEN: 'HUB_ERR_FORBIDDEN',
  NOT_FOUND: 'HUB_ERR_NOT_FOUND',
  BAD_REQUEST: 'HUB_ERR_BAD_REQUEST',
  IDEMPOTENCY_MISMATCH: 'HUB_ERR_IDEMPOTENCY_MISMATCH',
  PAYLOAD_TOO_LARGE: 'HUB_ERR_PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'HUB_ERR_UNSUPPORTED_MEDIA_TYPE',
  UNAVAILABLE: 'HUB_ERR_UNAVAILABLE',
  TOO_MANY_STREAMS: 'HUB_ERR_TOO_MANY_STREAMS',
  INTERNAL: 'HUB_ERR_INTERNAL',
  REGISTRY_CONFLICT: 'HUB_ERR_REGISTRY_CONFLICT',
  INVENTORY_INVALID: 'HUB_ERR_INVENTORY_INVALID',
  BOOTSTRAP_FILE: 'HUB_ERR_BOOTSTRAP_FILE',
  STARTED_TWICE: 'HUB_ERR_STARTED_TWICE',
  NOT_STARTED: 'HUB_ERR_NOT_STARTED',
  STOPPED: 'HUB_ERR_STOPPED',
  TLS_KEY_PERMISSIONS: 'HUB_ERR_TLS_KEY_PERMISSIONS',
  TLS_FILES: 'HUB_ERR_TLS_FILES',
  CLIENT_CERT_MISMATCH: 'HUB_ERR_CLIENT_CERT_MISMATCH',
  /** A cluster node's start: Redis (HUB_REDIS_URL) did not answer. */
  REDIS_UNAVAILABLE: 'HUB_ERR_REDIS_UNAVAILABLE',
} as const;
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];

export class HubError extends CodedError {
  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A value refused at the registry's edge: which entity, which field, and why; nothing was written. */
export class RegistryInvalidError extends HubError {
  readonly entity: string;
  readonly field: string;
  readonly reason: string;
  constructor(entity: string, id: string, field: string, reason: string) {
    super(HubErrorCode.REGISTRY_INVALID, `${entity} ${JSON.stringify(id)}: ${field}: ${reason}`);
    this.entity = entity;
    this.field = field;
    this.reason = reason;
  }
}

export type RegistryConflictReason = 'exists' | 'held_by_other_school' | 'retired' | 'in_use';

/** A write the registry's state forbids (the id taken, the row still referred to); nothing was written. */
export class RegistryConflictError extends HubError {
  readonly entity: string;
  readonly id: string;
  readonly reason: RegistryConflictReason;
  /** The school that holds a device id, for `held_by_other_school`. */
  readonly heldBy?: string;
  constructor(entity: string, id: string, reason: RegistryConflictReason, detail: string, heldBy?: string) {
    super(HubErrorCode.REGISTRY_CONFLICT, `${entity} ${JSON.stringify(id)}: ${reason}: ${detail}`);
    this.entity = entity;
    this.id = id;
    this.reason = reason;
    if (heldBy !== undefined) this.heldBy = heldBy;
  }
}

const LIFECYCLE_CODES: Record<LifecycleFault, HubErrorCode> = {
  started_twice: HubErrorCode.STARTED_TWICE,
  not_started: HubErrorCode.NOT_STARTED,
  stopped: HubErrorCode.STOPPED,
};

/** The fault factory a hub `Lifecycle` takes. */
export function hubLifecycleFault(f: LifecycleFault, message: string): HubError {
  return new HubError(LIFECYCLE_CODES[f], message);
}

/** A listener that could not be opened (the port taken, the address not local). */
export function listenError(what: 'MQTT' | 'HTTP' | 'HTTPS', host: string, port: number, cause: unknown): HubError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new HubError(HubErrorCode.LISTEN, `${what} cannot listen on ${host}:${port}: ${reason}`, { cause });
}
