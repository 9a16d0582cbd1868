import type { RouteTable } from '../route.ts';
import type { ApiDeps } from '../deps.ts';

/** The inventory CSV of a school: import (one transaction, every bad row reported) and export. */
export function inventoryRoutes(_table: RouteTable, _deps: ApiDeps): void {}
