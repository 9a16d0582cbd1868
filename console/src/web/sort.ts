import type { DeviceStatus } from './types.ts';

export type SortKey = 'id' | 'kind' | 'room' | 'state' | 'since';
export const COLUMNS: SortKey[] = ['id', 'kind', 'room', 'state', 'since'];

/** Orders one page of devices by a column (the API pages by id; sorting is within the page shown). */
export function sortDevices(items: DeviceStatus[], key: SortKey, dir: 1 | -1): DeviceStatus[] {
  const val = (d: DeviceStatus): string | number => (key === 'since' ? (d.since ?? -1) : d[key]);
  return [...items].sort((a, b) => {
    const x = val(a);
    const y = val(b);
    return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1) * dir;
  });
}

