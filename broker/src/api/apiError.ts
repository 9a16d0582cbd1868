import type { z } from 'zod';
import { HubError, HubErrorCode } from '../errors.ts';

/**
 * An answer of the management API that is not a success: its HTTP status and the one error
 * body every endpoint uses, `{ code, message, details }`, with a code of the hub's catalogue
 * (broker/README.md, Error codes).
 */
export class ApiError extends HubError {
  readonly status: number;
  readonly details: Record<string, unknown>;
  constructor(status: number, code: HubErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
    this.details = details;
  }
}

export const notFound = (what: string, details: Record<string, unknown> = {}): ApiError => new ApiError(404, HubErrorCode.NOT_FOUND, `${what} not found`, details);
export const forbidden = (message: string): ApiError => new ApiError(403, HubErrorCode.FORBIDDEN, message);
export const badRequest = (message: string, details: Record<string, unknown> = {}): ApiError => new ApiError(400, HubErrorCode.BAD_REQUEST, message, details);

/** zod issues as `details.issues`: where (`in`: path, query, header or body, and the path within) and why. */
export function invalid(where: 'path' | 'query' | 'header' | 'body', error: z.ZodError): ApiError {
  const issues = error.issues.map((i) => ({ in: where, path: i.path.map(String).join('.'), message: i.message }));
  const first = issues[0]!;
  return badRequest(`invalid ${where}${first.path ? ` ${first.path}` : ''}: ${first.message}`, { issues });
}
