import type { RouteTable } from '../route.ts';
import type { ApiDeps } from '../deps.ts';

/** Districts, schools, timetables, rooms, users and tokens, the audit log, inventory CSV. */
export function orgRoutes(_table: RouteTable, _deps: ApiDeps): void {}
