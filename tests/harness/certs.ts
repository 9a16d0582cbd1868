import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * Certificates made with `openssl` for a test: CAs, and leaves signed by them (a hub's for
 * 127.0.0.1 and localhost, gateways' with their id as CN and DNS name). Keys are mode 600, as the
 * hub requires. P-256 keys: quick to make.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'campus-pki-'));
  #n = 0;

  #openssl(args: string[]): void {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A self-signed CA (also usable as a self-signed server certificate when `san` is given). */
  ca(name: string, san?: string): CertFiles {
    const base = join(this.dir, `${name}-${++this.#n}`);
    const ext = san ? ['-addext', `subjectAltName=${san}`] : [];
    this.#openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-subj', `/CN=${name}`, '-days', '2', ...ext]);
    chmodSync(`${base}.key`, 0o600);
    return { cert: `${base}.crt`, key: `${base}.key` };
  }

  /** A certificate for `cn` with the subject alternative names `san` (e.g. `DNS:x,IP:127.0.0.1`), signed by `ca`. */
  leaf(ca: CertFiles, cn: string, san: string): CertFiles {
    const base = join(this.dir, `${cn}-${++this.#n}`);
    this.#openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(`${base}.ext`, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    this.#openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${base}.crt`, '-days', '2', '-extfile', `${base}.ext`]);
    chmodSync(`${base}.key`, 0o600);
    return { cert: `${base}.crt`, key: `${base}.key` };
  }

  /** A hub certificate for the loopback listeners. */
  hub(ca: CertFiles, cn = 'hub'): CertFiles {
    return this.leaf(ca, cn, 'DNS:localhost,IP:127.0.0.1');
  }

  /** A gateway's client certificate: its id as CN and as a DNS name. */
  gateway(ca: CertFiles, gatewayId: string): CertFiles {
    return this.leaf(ca, gatewayId, `DNS:${gatewayId}`);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
