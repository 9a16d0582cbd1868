import { CodedError } from '../../runtime/src/errors.ts';

/** Error codes of the gateway; the catalogue is in gateway/README.md. */
export const GatewayErrorCode = {
  /** Writing a sample to the outbox failed (disk full, I/O error): the device is not acknowledged. */
  OUTBOX_IO: 'GW_ERR_OUTBOX_IO',
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

export class GatewayError extends CodedError {
  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
