import { z } from 'zod';

/**
 * How a gateway polls one network node over SNMP (the registry holds it; the hub gives it to
 * the node's gateway in its inventory): where the agent is, the credentials, and which
 * interface's counters are the node's. Credentials are secrets: the hub returns them to no API
 * caller and sends them only to the node's own gateway; nobody logs them.
 */
const secret = z.string().min(1).max(128);

export const snmpV3UserSchema = z.strictObject({
  name: z.string().min(1).max(64),
  level: z.enum(['noAuthNoPriv', 'authNoPriv', 'authPriv']),
  authProtocol: z.enum(['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512']).optional(),
  authKey: secret.optional(),
  privProtocol: z.enum(['des', 'aes', 'aes256b', 'aes256r']).optional(),
  privKey: secret.optional(),
});
export type SnmpV3User = z.infer<typeof snmpV3UserSchema>;

export const snmpTargetSchema = z
  .strictObject({
    /** A host name or IP address on the school's network. */
    address: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:_-]+$/, 'must be a host name or an IP address'),
    port: z.number().int().min(1).max(65535).default(161),
    version: z.enum(['2c', '3']),
    /** v2c: the community. */
    community: secret.optional(),
    /** v3: the user. */
    user: snmpV3UserSchema.optional(),
    /** The interface whose counters are the node's: by ifIndex, or by ifName / ifDescr. */
    ifIndex: z.number().int().min(1).max(2_147_483_647).optional(),
    ifName: z.string().min(1).max(255).optional(),
    /** Every this often, jittered; default 30 s. */
    pollIntervalMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  })
  .refine((t) => (t.version === '2c' ? t.community !== undefined && t.user === undefined : t.user !== undefined && t.community === undefined), {
    message: 'v2c needs a community (and no user), v3 a user (and no community)',
  })
  .refine((t) => (t.ifIndex === undefined) !== (t.ifName === undefined), { message: 'name the interface by exactly one of ifIndex and ifName' });
export type SnmpTarget = z.infer<typeof snmpTargetSchema>;

/** A secret as an API caller sees it: only that it is set, and the variable an `env:NAME` names (not a secret). */
export const secretViewSchema = z.strictObject({ set: z.literal(true), env: z.string().optional() });
export type SecretView = z.infer<typeof secretViewSchema>;

/** A target as the API shows it: every secret (`community`, `authKey`, `privKey`) replaced by a SecretView. */
export const snmpTargetViewSchema = z.strictObject({
  address: z.string(),
  port: z.number().int(),
  version: z.enum(['2c', '3']),
  community: secretViewSchema.optional(),
  user: snmpV3UserSchema.omit({ authKey: true, privKey: true }).extend({ authKey: secretViewSchema.optional(), privKey: secretViewSchema.optional() }).optional(),
  ifIndex: z.number().int().optional(),
  ifName: z.string().optional(),
  pollIntervalMs: z.number().int(),
});
export type SnmpTargetView = z.infer<typeof snmpTargetViewSchema>;

/** `env:NAME`: the gateway reads the secret from its environment variable NAME. */
export const SECRET_ENV_PREFIX = 'env:';

function secretView(v: string): SecretView {
  return v.startsWith(SECRET_ENV_PREFIX) ? { set: true, env: v.slice(SECRET_ENV_PREFIX.length) } : { set: true };
}

/** The target without its secrets: what the API returns and what may be logged or audited. */
export function snmpTargetView(t: SnmpTarget): SnmpTargetView {
  const { community, user, ...rest } = t;
  const view: SnmpTargetView = { ...rest };
  if (community !== undefined) view.community = secretView(community);
  if (user) {
    const { authKey, privKey, ...u } = user;
    view.user = { ...u, ...(authKey !== undefined ? { authKey: secretView(authKey) } : {}), ...(privKey !== undefined ? { privKey: secretView(privKey) } : {}) };
  }
  return view;
}
