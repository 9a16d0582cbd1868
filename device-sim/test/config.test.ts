import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/src/envConfig.ts';
import { fleetOf, lanUrlOf, loadCampusesConfig, loadSimConfig } from '../src/config.ts';
import { SIM_ERR, SimError } from '../src/errors.ts';
import { onlySchools } from '../src/fleet.ts';


function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('RUNTIME_ERR_CONFIG');
    return (e as ConfigError).problems.split('\n').map((l) => l.split(':')[0]!);
  }
  throw new Error('expected a ConfigError');
}

describe('device-sim configuration', () => {
  it('the simulator alone needs no secret and takes a LAN URL template per school', () => {
    const cfg = loadSimConfig({ SIM_LAN_URL: 'mqtt://{gateway}:1884', SIM_SCHOOLS: ' yz-s01, jb-s02 ,' });
    expect(cfg.SIM_SCHOOLS).toEqual(['yz-s01', 'jb-s02']);
    expect(lanUrlOf(cfg.SIM_LAN_URL, { id: 'yz-s01', gateway: 'gw-yz-s01' })).toBe('mqtt://gw-yz-s01:1884');
    expect(lanUrlOf('mqtt://127.0.0.1:1884/{school}', { id: 'yz-s01', gateway: 'gw-yz-s01' })).toBe('mqtt://127.0.0.1:1884/yz-s01');
    expect(loadSimConfig({}).SIM_LAN_URL).toBe('mqtt://127.0.0.1:1884');
  });

  it('the campuses register through the hub API (its bootstrap token file by default); both refuse a bad URL and a bad district list by name', () => {
    const c = loadCampusesConfig({});
    expect([c.SIM_API_URL, c.SIM_API_TOKEN, c.SIM_API_TOKEN_FILE]).toEqual(['http://127.0.0.1:8080', undefined, '.data/admin-token']);
    expect(problems(() => loadCampusesConfig({ SIM_HUB_URL: 'http://hub', SIM_API_URL: 'not a url', SIM_EXTRA_DISTRICTS: 'x:y' })).sort()).toEqual(['SIM_API_URL', 'SIM_EXTRA_DISTRICTS', 'SIM_HUB_URL']);
    expect(problems(() => loadSimConfig({ SIM_LAN_URL: 'tcp://x' }))).toEqual(['SIM_LAN_URL']);
    // A URL without its scheme parses as scheme `localhost:`: refused at start, by name.
    expect(problems(() => loadCampusesConfig({ SIM_HUB_URL: '127.0.0.1:1883', SIM_API_URL: 'localhost:8080' })).sort()).toEqual(['SIM_API_URL', 'SIM_HUB_URL']);
    expect(problems(() => loadSimConfig({ SIM_LAN_URL: '{gateway}:1884' }))).toEqual(['SIM_LAN_URL']);
    expect(loadCampusesConfig({ SIM_EXTRA_DISTRICTS: '万州区:Wanzhou:wz' }).SIM_OUTBOX_DIR).toBe('memory');
  });

  it('the fleet of a configuration: the seed districts plus the extra ones; SIM_SCHOOLS keeps only those named', () => {
    const fleet = fleetOf(loadSimConfig({ SIM_SCHOOLS_PER_DISTRICT: '1', SIM_EXTRA_DISTRICTS: '万州区:Wanzhou:wz' }));
    expect(fleet.schools.map((s) => s.id)).toEqual(['yz-s01', 'jb-s01', 'lj-s01', 'tl-s01', 'bs-s01', 'spb-s01', 'wz-s01']);
    expect(onlySchools(fleet, ['wz-s01', 'yz-s01']).schools.map((s) => s.id)).toEqual(['yz-s01', 'wz-s01']);
    expect(onlySchools(fleet, [])).toBe(fleet);
    const err = (() => {
      try {
        onlySchools(fleet, ['yz-s01', 'zz-s09']);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SimError);
    expect([(err as SimError).code, (err as SimError).message]).toEqual([SIM_ERR.UNKNOWN_SCHOOL, 'no such school in the fleet: zz-s09']);
  });
});
