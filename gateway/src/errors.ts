import { CodedError } from '../../protocol/src/errors.ts';

/** Error codes of the gateway; the catalogue is in gateway/README.md. */
export const GatewayErrorCode = {
  UPLINK_REFUSED: 'GW_ERR_UPLINK_REFUSED',
  OUTBOX_FULL: 'GW_ERR_OUTBOX_FULL',
  CONFIG_INVALID: 'GW_ERR_CONFIG_INVALID',
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

export class GatewayError extends CodedError {
  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
