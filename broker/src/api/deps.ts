import type { InfluxAdmin } from '../influx/admin.ts';
import type { Commands } from '../features/commands.ts';
import type { Credentials } from '../features/credentials.ts';
import type { HealthReports } from '../features/healthReports.ts';
import type { EventBus } from '../eventBus.ts';
import type { Presence } from '../presence.ts';
import type { ApiBase } from './app.ts';

/** The hub's features the management API's routes use (wired in broker/src/hub.ts). */
export interface ApiDeps extends ApiBase {
  presence: Presence;
  bus: EventBus;
  credentials: Credentials;
  commands: Commands;
  /** Whether a gateway has a live session on this hub, and whether it takes commands. */
  sessions: { isLive(gateway: string): boolean; isCommandReady(gateway: string): boolean };
  health: HealthReports;
  admin: InfluxAdmin;
  /** The MQTT URL gateways are told to use in their env block (HUB_PUBLIC_MQTT_URL). */
  publicMqttUrl: () => string;
}
