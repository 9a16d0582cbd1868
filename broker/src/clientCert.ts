import type { Duplex } from 'node:stream';
import type { PeerCertificate, TLSSocket } from 'node:tls';

/**
 * A gateway's client certificate, as the listener that accepted the connection saw it: the
 * names it carries (CN and DNS/URI subject alternative names), each a candidate gateway id.
 * Only certificates signed by the configured client CA get here: the listener refuses others.
 */
export interface ClientCert {
  names: string[];
  subject: string;
}

/** Streams accepted with a trusted client certificate (a TLS socket, or a WebSocket stream over one). */
const certs = new WeakMap<object, ClientCert>();

export function rememberClientCert(conn: Duplex, cert: ClientCert): void {
  certs.set(conn, cert);
}

/** The trusted client certificate a connection was accepted with; undefined when it presented none. */
export function clientCertOf(conn: unknown): ClientCert | undefined {
  return typeof conn === 'object' && conn !== null ? certs.get(conn) : undefined;
}

/** The names of a peer certificate that can be a gateway id; undefined when the peer sent none. */
export function peerCert(socket: TLSSocket): ClientCert | undefined {
  const c: PeerCertificate = socket.getPeerCertificate();
  if (!c || Object.keys(c).length === 0) return undefined;
  const names = new Set<string>();
  const cn = c.subject?.CN;
  for (const n of Array.isArray(cn) ? cn : cn ? [cn] : []) names.add(n);
  for (const entry of (c.subjectaltname ?? '').split(',')) {
    const m = /^\s*(DNS|URI):(.+)$/.exec(entry);
    if (m) names.add(m[2]!.trim());
  }
  return { names: [...names], subject: typeof cn === 'string' ? `CN=${cn}` : JSON.stringify(c.subject) };
}

/**
 * Whether a login may go on given the connection's certificate: a gateway with a certificate
 * logs in only as a gateway the certificate names (its username and client id), so a
 * certificate stolen from one school cannot carry another school's password.
 */
export function certAllows(cert: ClientCert | undefined, clientId: string, username: string | undefined): boolean {
  if (!cert) return true;
  return username !== undefined && cert.names.includes(username) && cert.names.includes(clientId);
}
