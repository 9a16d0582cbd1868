import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../src/registry.ts';

let reg: Registry;

beforeEach(() => {
  reg = new Registry(':memory:');
  reg.upsertDistrict({ id: '渝中区', nameEn: 'Yuzhong' });
  reg.upsertDistrict({ id: '江北区', nameEn: 'Jiangbei' });
  reg.upsertSchool({ id: 'S01', district: '渝中区', name: '巴蜀小学' });
  reg.upsertSchool({ id: 'S02', district: '江北区', name: '新村实验小学' });
});
afterEach(() => reg.close());

describe('Registry gateways', () => {
  it('returns a gateway with its district joined from its school', () => {
    reg.setGateway('G01', 'S01', 'hash-1');
    expect(reg.getGateway('G01')).toEqual({ id: 'G01', school: 'S01', district: '渝中区', passwordHash: 'hash-1', revoked: false });
  });

  it('returns undefined for an unknown gateway', () => {
    expect(reg.getGateway('G99')).toBeUndefined();
  });

  it('revokes a gateway and reports whether one was changed', () => {
    reg.setGateway('G01', 'S01', 'hash-1');
    expect(reg.revokeGateway('G01')).toBe(true);
    expect(reg.getGateway('G01')?.revoked).toBe(true);
    expect(reg.revokeGateway('G99')).toBe(false);
  });

  it('rotating credentials replaces the hash and keeps a revocation', () => {
    reg.setGateway('G01', 'S01', 'hash-1');
    reg.revokeGateway('G01');
    reg.setGateway('G01', 'S02', 'hash-2');
    expect(reg.getGateway('G01')).toEqual({ id: 'G01', school: 'S02', district: '江北区', passwordHash: 'hash-2', revoked: true });
  });

  it('follows a school moved to another district', () => {
    reg.setGateway('G01', 'S01', 'hash-1');
    reg.upsertSchool({ id: 'S01', district: '江北区', name: '巴蜀小学' });
    expect(reg.getGateway('G01')?.district).toBe('江北区');
  });

  it('refuses a gateway of an unknown school (foreign key)', () => {
    expect(() => reg.setGateway('G01', 'S99', 'hash-1')).toThrow();
    expect(reg.getGateway('G01')).toBeUndefined();
  });
});

describe('Registry devices', () => {
  it('stores and returns devices and counts them', () => {
    reg.upsertDevice({ id: 'AV-101', school: 'S01', room: '101', kind: 'classroom_av' });
    reg.upsertDevice({ id: 'a b,c=d"e 渝中区', school: 'S02', room: '实验室', kind: 'vr_kit' });
    expect(reg.getDevice('AV-101')).toEqual({ id: 'AV-101', school: 'S01', room: '101', kind: 'classroom_av' });
    expect(reg.getDevice('a b,c=d"e 渝中区')).toEqual({ id: 'a b,c=d"e 渝中区', school: 'S02', room: '实验室', kind: 'vr_kit' });
    expect(reg.deviceCount()).toBe(2);
  });

  it('returns undefined for an unknown device', () => {
    expect(reg.getDevice('nope')).toBeUndefined();
    expect(reg.deviceCount()).toBe(0);
  });

  it('finds a device registered after a failed lookup (negative lookups are not cached)', () => {
    expect(reg.getDevice('AV-9')).toBeUndefined();
    reg.upsertDevice({ id: 'AV-9', school: 'S01', room: '109', kind: 'classroom_av' });
    expect(reg.getDevice('AV-9')).toEqual({ id: 'AV-9', school: 'S01', room: '109', kind: 'classroom_av' });
  });

  it('an upsert of a cached device is seen by the next lookup', () => {
    reg.upsertDevice({ id: 'AV-1', school: 'S01', room: '101', kind: 'classroom_av' });
    expect(reg.getDevice('AV-1')?.room).toBe('101'); // now cached
    reg.upsertDevice({ id: 'AV-1', school: 'S01', room: '201', kind: 'interactive_board' });
    reg.createRoom({ school: 'S02', id: '201', name: '' });
    reg.moveDevice('AV-1', { school: 'S02', room: '201' });
    expect(reg.getDevice('AV-1')).toEqual({ id: 'AV-1', school: 'S02', room: '201', kind: 'interactive_board' });
    expect(reg.deviceCount()).toBe(1);
  });

  it('refuses a device of an unknown school (foreign key)', () => {
    expect(() => reg.upsertDevice({ id: 'X', school: 'S99', room: '1', kind: 'vr_kit' })).toThrow();
    expect(reg.getDevice('X')).toBeUndefined();
  });
});

describe('Registry transactions', () => {
  it('commits the writes of a transaction and returns its value', () => {
    const n = reg.transaction(() => {
      reg.upsertDevice({ id: 'D1', school: 'S01', room: '1', kind: 'vr_kit' });
      reg.upsertDevice({ id: 'D2', school: 'S01', room: '2', kind: 'vr_kit' });
      return 2;
    });
    expect(n).toBe(2);
    expect(reg.deviceCount()).toBe(2);
  });

  it('rolls back every write when the function throws', () => {
    reg.upsertDevice({ id: 'D0', school: 'S01', room: '0', kind: 'vr_kit' });
    expect(() =>
      reg.transaction(() => {
        reg.upsertDevice({ id: 'D1', school: 'S01', room: '1', kind: 'vr_kit' });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(reg.deviceCount()).toBe(1);
    expect(reg.getDevice('D1')).toBeUndefined();
  });

  // Fails against the current src: a row read inside a transaction is cached and stays cached
  // after the rollback, so getDevice answers with data that is not in the database.
  it('does not answer from the cache with a rolled-back device update', () => {
    reg.upsertDevice({ id: 'D0', school: 'S01', room: '101', kind: 'classroom_av' });
    expect(() =>
      reg.transaction(() => {
        reg.upsertDevice({ id: 'D0', school: 'S01', room: '201', kind: 'classroom_av' });
        reg.createRoom({ school: 'S02', id: '201', name: '' });
        reg.moveDevice('D0', { school: 'S02', room: '201' });
        expect(reg.getDevice('D0')?.room).toBe('201'); // visible inside the transaction
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(reg.getDevice('D0')).toEqual({ id: 'D0', school: 'S01', room: '101', kind: 'classroom_av' });
  });
});

describe('Registry audit log', () => {
  it('appends entries and lists them oldest first, all or of one target', () => {
    reg.appendAudit({ at: 1000, actor: 'system:cli', action: 'gateway.revoke', target: 'gateway:G01', outcome: 'ok' });
    reg.appendAudit({ at: 2000, actor: 'user:42', action: 'command.reboot', target: 'device:D1', outcome: 'refused', detail: 'device D1 is not in the registry' });
    reg.appendAudit({ at: 3000, actor: 'token:t-1', action: 'gateway.rotate_password', target: 'gateway:G01', outcome: 'not_found' });
    expect(reg.listAudit({ order: 'asc' }).items).toEqual([
      { id: 1, at: 1000, actor: 'system:cli', action: 'gateway.revoke', target: 'gateway:G01', outcome: 'ok' },
      { id: 2, at: 2000, actor: 'user:42', action: 'command.reboot', target: 'device:D1', outcome: 'refused', detail: 'device D1 is not in the registry' },
      { id: 3, at: 3000, actor: 'token:t-1', action: 'gateway.rotate_password', target: 'gateway:G01', outcome: 'not_found' },
    ]);
    expect(reg.listAudit({ target: 'gateway:G01', order: 'asc' }).items.map((r) => r.id)).toEqual([1, 3]);
    expect(reg.listAudit({ limit: 1, order: 'asc' }).items.map((r) => r.id)).toEqual([1]);
  });
});

describe('Registry open', () => {
  it('fails with HUB_ERR_REGISTRY_OPEN for a path in a directory that does not exist', () => {
    expect(() => new Registry(join(tmpdir(), `no-such-dir-${process.pid}-${Date.now()}`, 'registry.sqlite'))).toThrow(expect.objectContaining({ code: 'HUB_ERR_REGISTRY_OPEN' }));
  });
});

describe('Registry reinstatement', () => {
  it('clears a revocation, and only for a known gateway', () => {
    const reg = new Registry(':memory:');
    try {
      reg.upsertDistrict({ id: 'd', nameEn: 'D' });
      reg.upsertSchool({ id: 's', district: 'd', name: 'S' });
      reg.setGateway('g', 's', 'hash');
      expect(reg.revokeGateway('g')).toBe(true);
      expect(reg.activeGateways()).toEqual([]);
      expect(reg.reinstateGateway('g')).toBe(true);
      expect(reg.getGateway('g')?.revoked).toBe(false);
      expect(reg.activeGateways()).toEqual([{ gateway: 'g', school: 's', district: 'd' }]);
      expect(reg.reinstateGateway('nowhere')).toBe(false);
    } finally {
      reg.close();
    }
  });
});

describe('Registry values', () => {
  const invalid = (entity: string, field: string) => expect.objectContaining({ code: 'HUB_ERR_REGISTRY_INVALID', entity, field });

  it('refuses a device of a kind the product does not have, and writes nothing', () => {
    expect(() => reg.upsertDevice({ id: 'X-1', school: 'S01', room: '101', kind: 'nonsense' as never })).toThrow(invalid('device', 'kind'));
    expect(reg.getDevice('X-1')).toBeUndefined();
    expect(reg.deviceCount()).toBe(0);
  });

  it('refuses ids outside the protocol rules, and writes nothing', () => {
    expect(() => reg.upsertDevice({ id: 'AV\n101', school: 'S01', room: '101', kind: 'classroom_av' })).toThrow(invalid('device', 'id'));
    expect(() => reg.upsertDevice({ id: '', school: 'S01', room: '101', kind: 'classroom_av' })).toThrow(invalid('device', 'id'));
    expect(() => reg.upsertDevice({ id: 'AV-1', school: 'S01', room: 'a\\,b', kind: 'classroom_av' })).toThrow(invalid('device', 'room'));
    expect(reg.deviceCount()).toBe(0);
    expect(() => reg.upsertDistrict({ id: 'a+b', nameEn: 'X' })).toThrow(invalid('district', 'id'));
    expect(() => reg.upsertSchool({ id: 'S/03', district: '渝中区', name: 'X' })).toThrow(invalid('school', 'id'));
    expect(() => reg.setGateway('G 01', 'S01', 'hash')).toThrow(invalid('gateway', 'id'));
    expect(reg.getGateway('G 01')).toBeUndefined();
    // Nothing of the refused district or school exists: neither can be referred to.
    expect(() => reg.upsertSchool({ id: 'S09', district: 'a+b', name: 'X' })).toThrow(invalid('school', 'district'));
    expect(() => reg.setGateway('G09', 'S/03', 'hash')).toThrow(invalid('gateway', 'school'));
  });

  it('refuses a school of an unknown district, a new one or one moved, with the field and reason', () => {
    let err: unknown;
    try {
      reg.upsertSchool({ id: 'S03', district: '北碚区', name: '北碚小学' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'HUB_ERR_REGISTRY_INVALID', entity: 'school', field: 'district', reason: 'no district "北碚区" in the registry' });
    expect(() => reg.setGateway('G03', 'S03', 'hash')).toThrow(invalid('gateway', 'school')); // S03 was not written
    reg.setGateway('G01', 'S01', 'hash');
    expect(() => reg.upsertSchool({ id: 'S01', district: '北碚区', name: '巴蜀小学' })).toThrow(invalid('school', 'district'));
    expect(reg.getGateway('G01')?.district).toBe('渝中区');
  });

  it('refuses a device or a gateway of an unknown school with the code', () => {
    expect(() => reg.upsertDevice({ id: 'X', school: 'S99', room: '1', kind: 'vr_kit' })).toThrow(invalid('device', 'school'));
    expect(() => reg.setGateway('G01', 'S99', 'hash-1')).toThrow(invalid('gateway', 'school'));
    expect(() => reg.setGateway('G01', 'S01', '')).toThrow(invalid('gateway', 'passwordHash'));
    expect(reg.getGateway('G01')).toBeUndefined();
  });

  it('refuses an invalid timetable or one for an unknown school, and keeps the one stored', () => {
    const t = { days: [1, 2, 3], start: '08:00', end: '16:00', timeZone: 'Asia/Shanghai' };
    reg.setTimetable('S01', t);
    expect(() => reg.setTimetable('S01', { ...t, start: '25:00' })).toThrow(invalid('school', 'timetable.start'));
    expect(() => reg.setTimetable('S99', t)).toThrow(invalid('school', 'id'));
    expect(reg.timetableOf('S01')).toEqual(t);
  });

  it('a refused value inside a transaction rolls back the writes before it', () => {
    expect(() =>
      reg.transaction(() => {
        reg.upsertDevice({ id: 'D1', school: 'S01', room: '1', kind: 'vr_kit' });
        reg.upsertDevice({ id: 'D2', school: 'S01', room: '2', kind: 'projector' as never });
      }),
    ).toThrow(invalid('device', 'kind'));
    expect(reg.deviceCount()).toBe(0);
  });
});
