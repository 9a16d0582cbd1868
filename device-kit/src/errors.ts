/**
 * The reference client's failure modes; catalogued in device-kit/README.md. Its own small class
 * rather than runtime/'s, so that the kit depends on the wire contract (protocol/) alone.
 */
export const KIT_ERR = {
  /** start() called on a client that was started before. */
  STARTED_TWICE: 'KIT_ERR_STARTED_TWICE',
  /** send() before start(). */
  NOT_STARTED: 'KIT_ERR_NOT_STARTED',
  /** send() after stop(). */
  STOPPED: 'KIT_ERR_STOPPED',
  /** A command-line argument is missing or wrong. */
  USAGE: 'KIT_ERR_USAGE',
} as const;
export type KitErrorCode = (typeof KIT_ERR)[keyof typeof KIT_ERR];

export class KitError extends Error {
  readonly code: KitErrorCode;
  constructor(code: KitErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'KitError';
    this.code = code;
  }
}
