import type { RouteTable } from '../route.ts';
import type { ApiDeps } from '../deps.ts';

/** Devices, gateways and their credentials, commands, fleet status and figures, the event stream. */
export function fleetRoutes(_table: RouteTable, _deps: ApiDeps): void {}
