import { CodedError } from '../../runtime/src/errors.ts';

/** Error codes of the storage schema; the catalogue is in storage/README.md. */
export const StorageErrorCode = {
  /** A value line protocol cannot carry (control character, NaN, an integer beyond 64 bits…): refused, never altered. */
  UNENCODABLE: 'STORE_ERR_UNENCODABLE',
  /** A point names a tag or field its measurement does not have, misses a required one, or gives a value of the wrong type. */
  SCHEMA_VIOLATION: 'STORE_ERR_SCHEMA_VIOLATION',
  /** A SELECT built without a column. */
  EMPTY_SELECT: 'STORE_ERR_EMPTY_SELECT',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export class StorageError extends CodedError {
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
