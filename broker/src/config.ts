import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_LOGIN_BACKOFF } from './loginBackoff.ts';
import { DEFAULT_TICKET_TTL_SEC } from './loginTickets.ts';
import { deepFreeze, envBool, envInt, parseEnvConfig, urlWithScheme } from '../../runtime/src/envConfig.ts';
import type { HubConfig } from './hub.ts';
import { DEFAULT_MQTT_LIMITS } from './limits.ts';
import { parseRefusedSubscriptions } from './subscriptionFilters.ts';
import { DEFAULT_TAKEOVER_DAMPING } from './takeoverDamper.ts';
import { DEFAULT_SESSION_POLICY } from './auth/sessions.ts';

const DAY = 86_400_000;

const schema = z.object({
  HUB_MQTT_HOST: z.string().default('127.0.0.1'),
  HUB_MQTT_PORT: envInt(1883, -1, 65535),
  /** MQTT over TLS and over secure WebSocket: on when a certificate is configured. */
  HUB_MQTTS_PORT: envInt(8883, -1, 65535),
  HUB_WSS_PORT: envInt(-1, -1, 65535),
  HUB_WSS_PATH: z.string().regex(/^\//, 'must start with /').default('/mqtt'),
  HUB_TLS_CERT_FILE: z.string().min(1).optional(),
  HUB_TLS_KEY_FILE: z.string().min(1).optional(),
  HUB_TLS_CLIENT_CA_FILE: z.string().min(1).optional(),
  HUB_TLS_CLIENT_CERT: z.enum(['off', 'optional', 'required']).default('off'),
  HUB_TLS_RELOAD_CHECK_MS: envInt(1000, 50, 3_600_000),
  HUB_HTTP_HOST: z.string().default('127.0.0.1'),
  HUB_HTTP_PORT: envInt(8080, -1, 65535),
  /** The API and console over HTTPS with HUB_TLS_CERT_FILE / HUB_TLS_KEY_FILE; -1: off. */
  HUB_HTTPS_PORT: envInt(-1, -1, 65535),
  HUB_REGISTRY_PATH: z.string().min(1).default('.data/registry.sqlite'),
  HUB_ALLOW_ANONYMOUS: envBool(false),
  /** The MQTT URL printed in a new gateway's env block (what gateways reach the hub at). */
  HUB_PUBLIC_MQTT_URL: urlWithScheme('mqtt', 'mqtts').optional(),
  /** Where the first start writes the city admin's token; default `admin-token` beside the registry. */
  HUB_BOOTSTRAP_TOKEN_FILE: z.string().min(1).optional(),
  INFLUX_URL: urlWithScheme('http', 'https').default('http://127.0.0.1:8086'),
  INFLUX_DB: z.string().min(1).default('campus'),
  INFLUX_USERNAME: z.string().optional(),
  INFLUX_PASSWORD: z.string().optional(),
  HUB_INFLUX_BATCH_LINES: envInt(5000, 1, 100_000),
  HUB_INFLUX_LINGER_MS: envInt(20, 0, 10_000),
  HUB_INFLUX_CONCURRENCY: envInt(2, 1, 16),
  HUB_INFLUX_ATTEMPTS: envInt(3, 1, 100),
  HUB_INFLUX_TIMEOUT_MS: envInt(10_000, 100, 600_000),
  /** The protocol's largest valid batch (10 000 records of the longest form) is about 7.2 MB. */
  HUB_MAX_PAYLOAD_BYTES: envInt(8 * 1_048_576, 1024, 64 * 1_048_576),
  HUB_MAX_PACKET_BYTES: envInt(DEFAULT_MQTT_LIMITS.maxPacketBytes, 1024, 256 * 1_048_576),
  HUB_CONNECT_TIMEOUT_MS: envInt(DEFAULT_MQTT_LIMITS.connectTimeoutMs, 100, 600_000),
  HUB_MAX_PENDING_CONNECTIONS: envInt(DEFAULT_MQTT_LIMITS.maxPendingConnections, 1, 1_000_000),
  HUB_PUBLISH_RATE: envInt(DEFAULT_MQTT_LIMITS.publishRate, 1, 1_000_000),
  /** Failed logins of one gateway id, and from one address, before each backs off (loginBackoff.ts). */
  HUB_LOGIN_FREE_FAILURES_PER_ID: envInt(DEFAULT_LOGIN_BACKOFF.freeFailuresPerId, 1, 1_000_000_000),
  HUB_LOGIN_FREE_FAILURES_PER_ADDRESS: envInt(DEFAULT_LOGIN_BACKOFF.freeFailuresPerAddress, 1, 1_000_000_000),
  /** The first back-off wait (doubling per further failure) and its cap. */
  HUB_LOGIN_BACKOFF_BASE_MS: envInt(DEFAULT_LOGIN_BACKOFF.baseMs, 1, 3_600_000),
  HUB_LOGIN_BACKOFF_MAX_MS: envInt(DEFAULT_LOGIN_BACKOFF.maxMs, 1, 86_400_000),
  /** Gateways' login tickets (loginTickets.ts): how long each is good; 0 turns them off. */
  HUB_LOGIN_TICKET_TTL_SEC: envInt(DEFAULT_TICKET_TTL_SEC, 0, 30 * 86_400),
  /** Console sessions (auth/sessions.ts): absolute lifetime from sign-in, and the idle limit. */
  HUB_SESSION_TTL_MS: envInt(DEFAULT_SESSION_POLICY.ttlMs, 60_000, 30 * DAY),
  HUB_SESSION_IDLE_MS: envInt(DEFAULT_SESSION_POLICY.idleMs, 60_000, 30 * DAY),
  HUB_PUBLISH_BURST: envInt(DEFAULT_MQTT_LIMITS.publishBurst, 1, 1_000_000),
  HUB_MAX_RETAINED_PER_CLIENT: envInt(DEFAULT_MQTT_LIMITS.maxRetainedPerClient, 0, 1_000_000),
  HUB_MAX_RETAINED_BYTES_PER_CLIENT: envInt(DEFAULT_MQTT_LIMITS.maxRetainedBytesPerClient, 0, 1024 * 1_048_576),
  HUB_MAX_RETAINED_ANONYMOUS: envInt(DEFAULT_MQTT_LIMITS.maxRetainedAnonymous, 0, 1_000_000),
  HUB_MAX_RETAINED_BYTES_ANONYMOUS: envInt(DEFAULT_MQTT_LIMITS.maxRetainedBytesAnonymous, 0, 1024 * 1_048_576),
  HUB_MAX_STATE_BYTES: envInt(DEFAULT_MQTT_LIMITS.maxStateBytes, 256, 64 * 1_048_576),
  HUB_MAX_HEALTH_BYTES: envInt(DEFAULT_MQTT_LIMITS.maxHealthBytes, 256, 64 * 1_048_576),
  HUB_MAX_CMDRES_BYTES: envInt(DEFAULT_MQTT_LIMITS.maxCmdresBytes, 256, 64 * 1_048_576),
  HUB_MAX_QUEUED_BEFORE_CONNACK: envInt(DEFAULT_MQTT_LIMITS.maxQueuedBeforeConnack, 1, 10_000),
  HUB_MAX_INFLIGHT_QOS2: envInt(DEFAULT_MQTT_LIMITS.maxInflightQos2, 1, 65_535),
  /** Comma-separated topic filters every subscriber is refused (SUBACK 0x80). */
  HUB_REFUSED_SUBSCRIPTIONS: z.string().default('').transform((v, ctx) => {
    const r = parseRefusedSubscriptions(v);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
    return typeof r === 'string' ? [] : r;
  }),
  /** Takeovers of one gateway within the window that mean two devices share it, and how long it is then held (takeoverDamper.ts). */
  HUB_TAKEOVER_MAX: envInt(DEFAULT_TAKEOVER_DAMPING.maxTakeovers, 2, 1_000_000),
  HUB_TAKEOVER_WINDOW_MS: envInt(DEFAULT_TAKEOVER_DAMPING.windowMs, 1000, 86_400_000),
  HUB_TAKEOVER_HOLD_MS: envInt(DEFAULT_TAKEOVER_DAMPING.holdMs, 1000, 86_400_000),
  HUB_MAX_FUTURE_MS: envInt(300_000, 0),
  HUB_MAX_AGE_MS: envInt(400 * DAY, 60_000),
  /** Inventory and gateway states written every minute (coverage and gateway dashboards need them). */
  HUB_MINUTE_REPORTS: envBool(true),
  /** Turns clustering on: this hub is one node of a cluster sharing this Redis (broker/README.md#clustering). */
  HUB_REDIS_URL: urlWithScheme('redis', 'rediss').optional(),
  /** Names this node in logs, metrics and Redis keys; default hostname-pid. */
  HUB_NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-", at most 64').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine((e, ctx) => {
  // HTTPS serves with the hub's certificate: asking for it without one is a mistake, not "off".
  if (e.HUB_HTTPS_PORT >= 0 && e.HUB_TLS_CERT_FILE === undefined) ctx.addIssue({ code: 'custom', path: ['HUB_HTTPS_PORT'], message: 'HTTPS needs the hub\'s certificate: set HUB_TLS_CERT_FILE and HUB_TLS_KEY_FILE' });
});

/** hostname-pid, with any character a node id may not hold replaced. */
export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
}

export interface HubMainConfig {
  hub: HubConfig;
  logLevel: string;
}

export function loadHubConfig(env: Record<string, string | undefined> = process.env): Readonly<HubMainConfig> {
  const e = parseEnvConfig(schema, env);
  return deepFreeze({
    logLevel: e.LOG_LEVEL,
    hub: {
      mqttHost: e.HUB_MQTT_HOST,
      mqttPort: e.HUB_MQTT_PORT,
      mqttSecure: e.HUB_TLS_CERT_FILE === undefined ? undefined : {
        tlsPort: e.HUB_MQTTS_PORT,
        wssPort: e.HUB_WSS_PORT,
        wssPath: e.HUB_WSS_PATH,
        reloadCheckMs: e.HUB_TLS_RELOAD_CHECK_MS,
        tls: { certFile: e.HUB_TLS_CERT_FILE, keyFile: e.HUB_TLS_KEY_FILE ?? '', clientCaFile: e.HUB_TLS_CLIENT_CA_FILE, clientCert: e.HUB_TLS_CLIENT_CERT },
      },
      httpHost: e.HUB_HTTP_HOST,
      httpPort: e.HUB_HTTP_PORT,
      https: e.HUB_HTTPS_PORT < 0 || e.HUB_TLS_CERT_FILE === undefined ? undefined : { port: e.HUB_HTTPS_PORT, tls: { certFile: e.HUB_TLS_CERT_FILE, keyFile: e.HUB_TLS_KEY_FILE ?? '' }, reloadCheckMs: e.HUB_TLS_RELOAD_CHECK_MS },
      registryPath: e.HUB_REGISTRY_PATH,
      allowAnonymous: e.HUB_ALLOW_ANONYMOUS,
      publicMqttUrl: e.HUB_PUBLIC_MQTT_URL,
      bootstrapTokenFile: e.HUB_BOOTSTRAP_TOKEN_FILE,
      influx: {
        url: e.INFLUX_URL.replace(/\/$/, ''),
        database: e.INFLUX_DB,
        username: e.INFLUX_USERNAME,
        password: e.INFLUX_PASSWORD,
        maxLines: e.HUB_INFLUX_BATCH_LINES,
        lingerMs: e.HUB_INFLUX_LINGER_MS,
        concurrency: e.HUB_INFLUX_CONCURRENCY,
        attempts: e.HUB_INFLUX_ATTEMPTS,
        requestTimeoutMs: e.HUB_INFLUX_TIMEOUT_MS,
      },
      minuteReports: e.HUB_MINUTE_REPORTS,
      limits: {
        maxPayloadBytes: e.HUB_MAX_PAYLOAD_BYTES,
        maxFutureMs: e.HUB_MAX_FUTURE_MS,
        maxAgeMs: e.HUB_MAX_AGE_MS,
      },
      mqttLimits: {
        maxPacketBytes: e.HUB_MAX_PACKET_BYTES,
        connectTimeoutMs: e.HUB_CONNECT_TIMEOUT_MS,
        maxPendingConnections: e.HUB_MAX_PENDING_CONNECTIONS,
        publishRate: e.HUB_PUBLISH_RATE,
        publishBurst: e.HUB_PUBLISH_BURST,
        maxRetainedPerClient: e.HUB_MAX_RETAINED_PER_CLIENT,
        maxRetainedBytesPerClient: e.HUB_MAX_RETAINED_BYTES_PER_CLIENT,
        maxRetainedAnonymous: e.HUB_MAX_RETAINED_ANONYMOUS,
        maxRetainedBytesAnonymous: e.HUB_MAX_RETAINED_BYTES_ANONYMOUS,
        maxStateBytes: e.HUB_MAX_STATE_BYTES,
        maxHealthBytes: e.HUB_MAX_HEALTH_BYTES,
        maxCmdresBytes: e.HUB_MAX_CMDRES_BYTES,
        maxQueuedBeforeConnack: e.HUB_MAX_QUEUED_BEFORE_CONNACK,
        maxInflightQos2: e.HUB_MAX_INFLIGHT_QOS2,
        refusedSubscriptions: e.HUB_REFUSED_SUBSCRIPTIONS,
      },
      takeoverDamping: { maxTakeovers: e.HUB_TAKEOVER_MAX, windowMs: e.HUB_TAKEOVER_WINDOW_MS, holdMs: e.HUB_TAKEOVER_HOLD_MS },
      loginBackoff: {
        freeFailuresPerId: e.HUB_LOGIN_FREE_FAILURES_PER_ID,
        freeFailuresPerAddress: e.HUB_LOGIN_FREE_FAILURES_PER_ADDRESS,
        baseMs: e.HUB_LOGIN_BACKOFF_BASE_MS,
        maxMs: Math.max(e.HUB_LOGIN_BACKOFF_MAX_MS, e.HUB_LOGIN_BACKOFF_BASE_MS),
      },
      cluster: e.HUB_REDIS_URL === undefined ? undefined : { redisUrl: e.HUB_REDIS_URL, nodeId: e.HUB_NODE_ID ?? defaultNodeId() },
      loginTicketTtlSec: e.HUB_LOGIN_TICKET_TTL_SEC,
      consoleSessions: { ttlMs: e.HUB_SESSION_TTL_MS, idleMs: Math.min(e.HUB_SESSION_IDLE_MS, e.HUB_SESSION_TTL_MS) },
    },
  });
}
