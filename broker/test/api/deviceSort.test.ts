import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';

/**
 * GET /devices in another order than by id: the whole matching list ordered (ties by id) and
 * paged by position. The rig's five devices (tests/harness/api.ts API_FLEET):
 *   jb-s01-201-vr       vr_kit             room 201          江北区 jb-s01
 *   yz-bashu-301-av     classroom_av       room 301          渝中区 yz-bashu
 *   yz-bashu-301-board  interactive_board  room 301          渝中区 yz-bashu
 *   yz-bashu-uplink     network_node       room server-room  渝中区 yz-bashu
 *   yz-s02-101-board    interactive_board  room 101          渝中区 yz-s02
 */
type Page = { items: Array<{ id: string }>; nextCursor: string | null };

describe('GET /devices sorted', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_device_sort');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });
  const ids = async (who: 'city' | 'yzOperator' | 'bashuIt', query: string) => {
    const r = await rig.call<Page>(who, 'GET', `/devices?${query}`);
    expect(r.status).toBe(200);
    return { ids: r.body.items.map((d) => d.id), next: r.body.nextCursor };
  };

  it('orders the whole list by kind, and pages it by position', async () => {
    expect(await ids('city', 'sort=kind&limit=2')).toEqual({ ids: ['yz-bashu-301-av', 'yz-bashu-301-board'], next: 'o2' });
    expect(await ids('city', 'sort=kind&limit=2&cursor=o2')).toEqual({ ids: ['yz-s02-101-board', 'yz-bashu-uplink'], next: 'o4' });
    expect(await ids('city', 'sort=kind&limit=2&cursor=o4')).toEqual({ ids: ['jb-s01-201-vr'], next: null });
  });

  it('descending by room, ties by id descending too; within the caller\'s scope only', async () => {
    expect((await ids('city', 'sort=room&order=desc')).ids).toEqual(['yz-bashu-uplink', 'yz-bashu-301-board', 'yz-bashu-301-av', 'jb-s01-201-vr', 'yz-s02-101-board']);
    expect((await ids('yzOperator', 'sort=room&order=desc')).ids).toEqual(['yz-bashu-uplink', 'yz-bashu-301-board', 'yz-bashu-301-av', 'yz-s02-101-board']);
    expect((await ids('bashuIt', 'sort=school&order=desc&kind=interactive_board')).ids).toEqual(['yz-bashu-301-board']);
  });

  it('by state with the state filter: nothing observed yet, every device unknown, in id order', async () => {
    expect((await ids('city', 'sort=state&state=unknown')).ids).toEqual(['jb-s01-201-vr', 'yz-bashu-301-av', 'yz-bashu-301-board', 'yz-bashu-uplink', 'yz-s02-101-board']);
  });

  it('refuses a cursor that is not a position of a sorted list', async () => {
    const r = await rig.call<{ code: string }>('city', 'GET', '/devices?sort=kind&cursor=abc');
    expect([r.status, r.body.code]).toEqual([400, 'HUB_ERR_BAD_REQUEST']);
  });
});
