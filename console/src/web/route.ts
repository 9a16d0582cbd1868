/** The console's pages by path (under /console). */

export type Route =
  | { page: 'overview' }
  | { page: 'signIn' }
  | { page: 'school'; school: string }
  | { page: 'devices' }
  | { page: 'device'; device: string }
  | { page: 'gateways' }
  | { page: 'inventory' }
  | { page: 'notFound' };

export const BASE = '/console';

export function routeOf(pathname: string): Route {
  if (pathname !== BASE && !pathname.startsWith(`${BASE}/`)) return { page: 'notFound' };
  const parts = pathname.slice(BASE.length).split('/').filter((p) => p !== '');
  let seg: string[];
  try {
    seg = parts.map((p) => decodeURIComponent(p));
  } catch {
    return { page: 'notFound' };
  }
  const [a, b, ...rest] = seg;
  if (rest.length > 0) return { page: 'notFound' };
  if (a === undefined) return { page: 'overview' };
  if (a === 'sign-in' && b === undefined) return { page: 'signIn' };
  if (a === 'schools' && b !== undefined) return { page: 'school', school: b };
  if (a === 'devices') return b === undefined ? { page: 'devices' } : { page: 'device', device: b };
  if (a === 'gateways' && b === undefined) return { page: 'gateways' };
  if (a === 'inventory' && b === undefined) return { page: 'inventory' };
  return { page: 'notFound' };
}

export const pathOf = {
  overview: () => `${BASE}/`,
  signIn: () => `${BASE}/sign-in`,
  school: (id: string) => `${BASE}/schools/${encodeURIComponent(id)}`,
  devices: (query = '') => `${BASE}/devices${query}`,
  device: (id: string) => `${BASE}/devices/${encodeURIComponent(id)}`,
  gateways: () => `${BASE}/gateways`,
  inventory: () => `${BASE}/inventory`,
};
