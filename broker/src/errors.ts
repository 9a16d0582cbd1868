import { CodedError } from '../../runtime/src/errors.ts';

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
} as const;
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];

export class HubError extends CodedError {
  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
