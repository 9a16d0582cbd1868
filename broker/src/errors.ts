import { CodedError } from '../../runtime/src/errors.ts';
import type { LifecycleFault } from '../../runtime/src/lifecycle.ts';

/** Error codes of the hub; the catalogue is in broker/README.md. */
export const HubErrorCode = {
  AUTH_DENIED: 'HUB_ERR_AUTH_DENIED',
  EMPTY_CLIENT_ID: 'HUB_ERR_EMPTY_CLIENT_ID',
  CLIENT_ID_MISMATCH: 'HUB_ERR_CLIENT_ID_MISMATCH',
  ANONYMOUS_DENIED: 'HUB_ERR_ANONYMOUS_DENIED',
  PUBLISH_DENIED: 'HUB_ERR_PUBLISH_DENIED',
  SUBSCRIBE_DENIED: 'HUB_ERR_SUBSCRIBE_DENIED',
  INFLUX_UNAVAILABLE: 'HUB_ERR_INFLUX_UNAVAILABLE',
  COMMAND_REFUSED: 'HUB_ERR_COMMAND_REFUSED',
  BAD_ACTOR: 'HUB_ERR_BAD_ACTOR',
  STARTED_TWICE: 'HUB_ERR_STARTED_TWICE',
  NOT_STARTED: 'HUB_ERR_NOT_STARTED',
  STOPPED: 'HUB_ERR_STOPPED',
} as const;
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];

export class HubError extends CodedError {
  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
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
