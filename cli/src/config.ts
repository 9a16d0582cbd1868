import { z } from 'zod';
import { parseEnvConfig, urlWithScheme } from '../../runtime/src/envConfig.ts';

const schema = z.object({
  /** The hub's HTTP listener (the API is under /api/v1). */
  CAMPUS_URL: urlWithScheme('http', 'https').default('http://127.0.0.1:8080'),
  CAMPUS_TOKEN: z.string().optional(),
  CAMPUS_TOKEN_FILE: z.string().optional(),
});

export interface CliConfig {
  /** Without a trailing slash. */
  url: string;
  token: string | undefined;
  /** Read when no token is given: CAMPUS_TOKEN_FILE, else the hub's bootstrap file. */
  tokenFile: string;
}

/** The hub's first start writes the city admin's token here (beside its default registry). */
export const DEFAULT_TOKEN_FILE = '.data/admin-token';

export function loadCliConfig(env: Record<string, string | undefined>): Readonly<CliConfig> {
  const e = parseEnvConfig(schema, env);
  return Object.freeze({ url: e.CAMPUS_URL.replace(/\/+$/, ''), token: e.CAMPUS_TOKEN?.trim(), tokenFile: e.CAMPUS_TOKEN_FILE ?? DEFAULT_TOKEN_FILE });
}
