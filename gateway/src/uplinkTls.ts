import { readFileSync } from 'node:fs';
import { GatewayError, GatewayErrorCode } from './errors.ts';

export interface UplinkTlsFiles {
  /** The CA the hub's certificate must chain to; the system's CAs when unset. */
  caFile?: string | undefined;
  /** The gateway's client certificate and key, for a hub that asks for one (mTLS). */
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * mqtt.js' TLS options for the uplink (used by mqtts:// and wss://, ignored by mqtt://). The
 * hub is always verified: a hub the CA does not vouch for is never sent the password.
 */
export function uplinkTlsOptions(files: UplinkTlsFiles | undefined): { rejectUnauthorized: true; ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (what: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new GatewayError(GatewayErrorCode.TLS_FILES, `${what} ${file} cannot be read: ${(e as Error).message}`, { cause: e });
    }
  };
  if ((files?.certFile === undefined) !== (files?.keyFile === undefined)) {
    throw new GatewayError(GatewayErrorCode.TLS_FILES, 'a client certificate needs both GW_CERT_FILE and GW_KEY_FILE');
  }
  const ca = read('GW_CA_FILE', files?.caFile);
  const cert = read('GW_CERT_FILE', files?.certFile);
  const key = read('GW_KEY_FILE', files?.keyFile);
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
