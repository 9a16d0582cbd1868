export type SortKey = 'id' | 'kind' | 'room' | 'state' | 'since';
export const COLUMNS: SortKey[] = ['id', 'kind', 'room', 'state', 'since'];

/**
 * The API's order for a column (GET /devices `sort`, `order`): the whole list is ordered by the
 * hub, ties by id, so every page follows on from the one before. Id ascending is the default
 * and is sent as nothing.
 */
export function sortQuery(key: SortKey, dir: 1 | -1): { sort?: SortKey; order?: 'desc' } {
  return { ...(key === 'id' && dir === 1 ? {} : { sort: key }), ...(dir === -1 ? { order: 'desc' as const } : {}) };
}
