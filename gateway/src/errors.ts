import { ConfigError } from '../../runtime/src/envConfig.ts';
import { CodedError } from '../../runtime/src/errors.ts';
import { Lifecycle, type LifecycleFault } from '../../runtime/src/lifecycle.ts';

/** Error codes of the gateway; the catalogue is in gateway/README.md. */
export const GatewayErrorCode = {
  /** The environment does not give a valid configuration (every problem as `VARIABLE: message`). */
  CONFIG: 'GW_ERR_CONFIG',
  /** The outbox could not be opened or recovered at start (directory, permissions, disk). */
  OUTBOX_OPEN: 'GW_ERR_OUTBOX_OPEN',
  /** Writing a sample to the outbox failed (disk full, I/O error): the device is not acknowledged. */
  OUTBOX_IO: 'GW_ERR_OUTBOX_IO',
  /** Recording an acknowledgement on disk failed: the batch is gone from memory, but may be resent after a restart. */
  OUTBOX_ACK_WRITE: 'GW_ERR_OUTBOX_ACK_WRITE',
  /** A file outbox was given a segment size above half its byte bound (the config caps it at a quarter). */
  OUTBOX_CONFIG: 'GW_ERR_OUTBOX_CONFIG',
  /** A LAN client published where devices may not (lan/v1/cmd, lan/v1/err): the publish is refused and the client disconnected. */
  LAN_PUBLISH_DENIED: 'GW_ERR_LAN_PUBLISH_DENIED',
  /** The LAN listener or the health endpoint could not listen (address in use, not permitted). */
  LISTEN: 'GW_ERR_LISTEN',
  /** A TLS file of the uplink (GW_CA_FILE, GW_CERT_FILE, GW_KEY_FILE) is missing or unreadable, or a certificate lacks its key. */
  TLS_FILES: 'GW_ERR_TLS_FILES',
  /** A state file beside the outbox (inventory.json, liveness.json) unreadable, not JSON, failing its schema or another gateway's: ignored at start. */
  STATE_FILE: 'GW_ERR_STATE_FILE',
  STARTED_TWICE: 'GW_ERR_STARTED_TWICE',
  NOT_STARTED: 'GW_ERR_NOT_STARTED',
  /** Used after stop: the gateway's accessors, or a file outbox appended to after `close()`. */
  STOPPED: 'GW_ERR_STOPPED',
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

export class GatewayError extends CodedError {
  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A bad environment: still a ConfigError (mains print it and exit 1), with the gateway's code. */
export class GatewayConfigError extends ConfigError {
  override readonly code: string = GatewayErrorCode.CONFIG;
}

const LIFECYCLE_CODES: Record<LifecycleFault, GatewayErrorCode> = {
  started_twice: GatewayErrorCode.STARTED_TWICE,
  not_started: GatewayErrorCode.NOT_STARTED,
  stopped: GatewayErrorCode.STOPPED,
};

/** A Lifecycle whose faults carry the gateway's codes. */
export function gatewayLifecycle(name: string): Lifecycle {
  return new Lifecycle(name, (f, message) => new GatewayError(LIFECYCLE_CODES[f], message));
}

/** A listener of the gateway that cannot bind (a port taken). */
export function listenError(what: string, host: string, port: number, cause: unknown): GatewayError {
  return new GatewayError(GatewayErrorCode.LISTEN, `${what} cannot listen on ${host}:${port}`, { cause });
}

/** Why a state file was ignored (the `reason` of `state_files_ignored`). */
export type StateFileFault = 'unreadable' | 'not_json' | 'invalid' | 'other_gateway';

/**
 * A state file ignored at start. Its message never quotes the file: the inventory holds SNMP
 * secrets, and JSON.parse's message quotes a fragment of its input.
 */
export class StateFileError extends GatewayError {
  readonly reason: StateFileFault;
  constructor(reason: StateFileFault, message: string) {
    super(GatewayErrorCode.STATE_FILE, message);
    this.reason = reason;
  }
}
