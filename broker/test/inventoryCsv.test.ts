import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { deviceIdSchema, topicIdSchema } from '../../protocol/src/ids.ts';
import { DEVICE_KINDS, LINK_ROLES } from '../../protocol/src/kinds.ts';
import {
  checkInventoryAgainst,
  decodeInventoryBytes,
  formatInventory,
  parseInventory,
  type InventoryRow,
} from '../src/inventoryCsv.ts';

const HEADER = 'school,room,id,kind,model,vendor,serial,link_role,capacity_bps';
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const withoutLine = (rows: readonly InventoryRow[]): Array<Omit<InventoryRow, 'line'>> => rows.map(({ line: _, ...r }) => r);

/** The rows of the committed fixture, written out by hand. */
const BASHU: InventoryRow[] = [
  { line: 2, school: '巴蜀小学', room: '三年级二班', id: 'board-07', kind: 'interactive_board', model: '希沃 MAX', vendor: '希沃', serial: 'SN-0001', linkRole: null, capacityBps: null },
  { line: 3, school: '巴蜀小学', room: '三年级二班', id: 'av-01', kind: 'classroom_av', model: '投影仪,高亮', vendor: '爱普生', serial: 'EP123', linkRole: null, capacityBps: null },
  { line: 4, school: '巴蜀小学', room: '机房', id: 'sw-core', kind: 'network_node', model: 'S5735', vendor: '华为', serial: 'HW9', linkRole: 'school_uplink', capacityBps: 1_000_000_000 },
];
const BASHU_TEXT = [
  HEADER,
  '巴蜀小学,三年级二班,board-07,interactive_board,希沃 MAX,希沃,SN-0001,,',
  '巴蜀小学,三年级二班,av-01,classroom_av,"投影仪,高亮",爱普生,EP123,,',
  '巴蜀小学,机房,sw-core,network_node,S5735,华为,HW9,school_uplink,1000000000',
  '',
].join('\r\n');

describe('encodings', () => {
  it('reads the committed GB18030 fixture value by value', () => {
    const bytes = readFileSync(new URL('./fixtures/inventory-gb18030.csv', import.meta.url));
    // The fixture really is GB18030: its Chinese is not valid UTF-8.
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
    const r = parseInventory(bytes);
    expect(r.errors).toEqual([]);
    expect(r.encoding).toBe('gb18030');
    expect(r.rows).toEqual(BASHU);
  });

  it('gives the same rows for GB18030, UTF-8 with and without BOM, UTF-16LE and UTF-16BE', () => {
    const gb = iconv.encode(BASHU_TEXT, 'gb18030');
    const le = iconv.encode(BASHU_TEXT, 'utf-16le', { addBOM: true });
    const be = iconv.encode(BASHU_TEXT, 'utf-16be', { addBOM: true });
    expect([...le.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect([...be.subarray(0, 2)]).toEqual([0xfe, 0xff]);
    const cases: Array<[Uint8Array, string]> = [
      [gb, 'gb18030'],
      [utf8(BASHU_TEXT), 'utf-8'],
      [utf8('\uFEFF' + BASHU_TEXT), 'utf-8-bom'],
      [le, 'utf-16le'],
      [be, 'utf-16be'],
    ];
    for (const [bytes, encoding] of cases) {
      const r = parseInventory(bytes);
      expect({ encoding: r.encoding, errors: r.errors, rows: r.rows }).toEqual({ encoding, errors: [], rows: BASHU });
    }
  });

  it('refuses bytes valid in no supported encoding', () => {
    // 0xff is never valid in UTF-8 nor, followed by 0x30, in GB18030.
    const r = decodeInventoryBytes(new Uint8Array([0x61, 0xff, 0x30]));
    expect(r).toEqual({ error: { line: 1, code: 'encoding', reason: 'the file is not valid utf-8 or gb18030' } });
    expect(parseInventory(new Uint8Array([0x61, 0xff, 0x30])).errors.map((e) => e.code)).toEqual(['encoding']);
    // An odd number of bytes after a UTF-16LE BOM.
    expect(decodeInventoryBytes(new Uint8Array([0xff, 0xfe, 0x61]))).toMatchObject({ error: { code: 'encoding' } });
  });
});

describe('bad rows', () => {
  const file = [
    /* 1 */ HEADER,
    /* 2 */ 's1,r1,ok-1,vr_kit,m,v,s,,',
    /* 3 */ 's1,r1,bad-kind,projector,m,v,s,,',
    /* 4 */ 's1,r1,"bad\u0007id",vr_kit,m,v,s,,',
    /* 5 */ 's1,r1,ok-1,vr_kit,m,v,s,,',
    /* 6 */ 's1,r1,sw-1,network_node,m,v,s,access,12.5',
    /* 7 */ 's1,r1,sw-2,network_node,m,v,s,,100000000',
    /* 8 */ 's1,r1,av-1,classroom_av,m,v,s,backbone,',
    /* 9 */ 's1,r1,short,vr_kit,m,v',
    /* 10 */ '',
    /* 11 */ 's1,r1,ok-2,network_node,m,v,s,backbone,100000000000',
    /* 12 */ 's1,r1,sw-3,network_node,m,v,s,access,400000000001',
    /* 13 */ 's1,r1,ok-1,vr_kit,m,v,s,,',
    /* 14 */ ',,,,,,,,',
    /* 15 */ 's1,"r\n1",bad-room,vr_kit,m,v,s,,',
    /* 17 */ 'bad/school,r1,x-1,vr_kit,m,v,s,,',
  ].join('\r\n');

  it('reports every bad row with its line and code, and keeps only the good ones', () => {
    const r = parseInventory(utf8(file));
    expect(r.errors.map(({ line, code, column }) => ({ line, code, column }))).toEqual([
      { line: 3, code: 'unknown_kind', column: 'kind' },
      { line: 4, code: 'bad_id', column: 'id' },
      { line: 5, code: 'duplicate_id', column: 'id' },
      { line: 6, code: 'bad_capacity', column: 'capacity_bps' },
      { line: 7, code: 'bad_link', column: 'link_role' },
      { line: 8, code: 'bad_link', column: 'link_role' },
      { line: 9, code: 'malformed', column: undefined },
      { line: 12, code: 'bad_capacity', column: 'capacity_bps' },
      { line: 13, code: 'duplicate_id', column: 'id' },
      { line: 15, code: 'bad_room', column: 'room' },
      { line: 17, code: 'unknown_school', column: 'school' },
    ]);
    expect(r.errors.find((e) => e.line === 13)?.reason).toBe('device id "ok-1" is also on line 2');
    expect(r.errors.find((e) => e.line === 9)?.reason).toBe('9 fields expected, found 6');
    expect(r.rows.map((row) => [row.line, row.id])).toEqual([
      [2, 'ok-1'],
      [11, 'ok-2'],
    ]);
  });

  it('reports a wrong column set once, on line 1, naming each fault', () => {
    const r = parseInventory(utf8('School , ROOM,id,id,kind,model,vendor,colour,link_role\ns1,r1,a,a,vr_kit,m,v,red,\n'));
    expect(r.rows).toEqual([]);
    expect(r.errors).toEqual([
      {
        line: 1,
        code: 'columns',
        reason:
          'the header must be exactly school, room, id, kind, model, vendor, serial, link_role, capacity_bps: ' +
          'missing serial, capacity_bps; unknown "colour"; duplicated id',
      },
    ]);
  });

  it('takes the columns in any order, names trimmed and in any case', () => {
    const r = parseInventory(utf8(' KIND ,Id,school,room,model,vendor,serial,capacity_bps,link_role\nvr_kit,v-1,s1,r1,m,v,s,,\n'));
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([{ line: 2, school: 's1', room: 'r1', id: 'v-1', kind: 'vr_kit', model: 'm', vendor: 'v', serial: 's', linkRole: null, capacityBps: null }]);
  });

  it('calls a file with a header only, or nothing at all, empty', () => {
    expect(parseInventory(utf8(HEADER + '\r\n\r\n')).errors.map(({ line, code }) => ({ line, code }))).toEqual([{ line: 1, code: 'empty' }]);
    expect(parseInventory(new Uint8Array()).errors.map(({ line, code }) => ({ line, code }))).toEqual([{ line: 1, code: 'empty' }]);
  });

  it('reports an unclosed quote once, on the line where its record starts', () => {
    const r = parseInventory(utf8([HEADER, 's1,r1,a-1,vr_kit,m,v,s,,', 's1,r1,a-2,vr_kit,"m,v,s,,', 's1,r1,a-3,vr_kit,m,v,s,,', ''].join('\n')));
    expect(r.errors.map(({ line, code }) => ({ line, code }))).toEqual([{ line: 3, code: 'malformed' }]);
    expect(r.rows.map((row) => row.id)).toEqual(['a-1']);
  });

  it('reports a stray quote on its own line and reads the rows after it', () => {
    const r = parseInventory(utf8([HEADER, 's1,r1,a-1,vr_kit,m,v,s,,', 's1,r1,a-2,vr_kit,m"x,v,s,,', 's1,r1,a-3,vr_kit,m,v,s,,'].join('\n')));
    expect(r.errors.map(({ line, code }) => ({ line, code }))).toEqual([{ line: 3, code: 'malformed' }]);
    expect(r.rows.map((row) => [row.line, row.id])).toEqual([
      [2, 'a-1'],
      [4, 'a-3'],
    ]);
  });
  it('says when a quote error leaves the rest of the file unreadable', () => {
    const r = parseInventory(utf8([HEADER, 's1,r1,a-1,vr_kit,m,v,s,,', 's1,r1,a-2,vr_kit,"m"x,v,s,,', 's1,r1,a-3,vr_kit,m,v,s,,'].join('\r\n')));
    expect(r.errors).toEqual([
      { line: 3, code: 'malformed', reason: 'a quoted field is followed by more text before the next comma; nothing after it can be read' },
    ]);
    expect(r.rows.map((row) => row.id)).toEqual(['a-1']);
  });
});

describe('quoted fields', () => {
  it('keeps commas, quotes and line breaks inside quotes, and counts the lines they take', () => {
    const text = [
      /* 1 */ HEADER,
      /* 2 */ 's1,r1,q-1,vr_kit,"a, b","say ""hi""","line one',
      /* 3 */ 'line two',
      /* 4 */ 'line three",,',
      /* 5 */ 's1,r1,q-2,vr_kit,"crlf\r\ninside",v,s,,',
      /* 7 */ 's1,r1,q-3,projector,m,v,s,,',
    ];
    for (const eol of ['\n', '\r\n']) {
      const r = parseInventory(utf8(text.join(eol)));
      expect(r.rows.map(({ line, id, model, vendor, serial }) => ({ line, id, model, vendor, serial }))).toEqual([
        { line: 2, id: 'q-1', model: 'a, b', vendor: 'say "hi"', serial: `line one${eol}line two${eol}line three` },
        { line: 5, id: 'q-2', model: 'crlf\r\ninside', vendor: 'v', serial: 's' },
      ]);
      expect(r.errors.map(({ line, code }) => ({ line, code }))).toEqual([{ line: 7, code: 'unknown_kind' }]);
    }
  });
});

describe('checkInventoryAgainst', () => {
  const row = (line: number, school: string, room: string, id: string): InventoryRow => ({
    line, school, room, id, kind: 'vr_kit', model: '', vendor: '', serial: '', linkRole: null, capacityBps: null,
  });
  const schools = new Set(['巴蜀小学', 'hidden-school']);
  const visible = new Set(['巴蜀小学']);
  const held = new Map([
    ['mine', { school: '巴蜀小学', retired: false }],
    ['theirs', { school: 'hidden-school', retired: false }],
    ['old', { school: '巴蜀小学', retired: true }],
  ]);
  const lookup = {
    schoolVisible: (s: string) => schools.has(s) && visible.has(s),
    roomExists: (s: string, r: string) => s === '巴蜀小学' && r === '三年级二班',
    deviceHeldBy: (id: string) => held.get(id),
  };

  it('reports unknown and unseen schools alike, unknown rooms, ids held elsewhere and retired ids', () => {
    const errors = checkInventoryAgainst(
      [
        row(2, '巴蜀小学', '三年级二班', 'new-1'),
        row(3, '巴蜀小学', '三年级二班', 'mine'),
        row(4, 'no-such-school', '三年级二班', 'new-2'),
        row(5, 'hidden-school', '三年级二班', 'new-3'),
        row(6, '巴蜀小学', '四年级一班', 'new-4'),
        row(7, '巴蜀小学', '三年级二班', 'theirs'),
        row(8, '巴蜀小学', '三年级二班', 'old'),
      ],
      lookup,
    );
    expect(errors.map(({ line, code }) => ({ line, code }))).toEqual([
      { line: 4, code: 'unknown_school' },
      { line: 5, code: 'unknown_school' },
      { line: 6, code: 'unknown_room' },
      { line: 7, code: 'held_by_other_school' },
      { line: 8, code: 'retired' },
    ]);
    const [absent, unseen] = errors;
    expect(absent!.reason.replace('no-such-school', 'X')).toBe(unseen!.reason.replace('hidden-school', 'X'));
    expect(errors.find((e) => e.line === 7)!.reason).not.toContain('hidden-school');
  });
});

describe('formatInventory', () => {
  it('writes a BOM, the header and CRLF line ends, and reads back the same rows', () => {
    const out = formatInventory(withoutLine(BASHU));
    expect(out.startsWith('\uFEFF' + HEADER + '\r\n')).toBe(true);
    expect(out).toBe('\uFEFF' + BASHU_TEXT);
    const r = parseInventory(utf8(out));
    expect(r).toEqual({ rows: BASHU, errors: [], encoding: 'utf-8-bom' });
  });

  it('round-trips any valid rows (fast-check)', () => {
    const chars = fc.constantFrom('a', 'Z', '7', '-', '_', '巴', '蜀', '班', ',', '"', ' ', '\n', '\r', '#', '=', '\\', 'é');
    const str = (max: number) => fc.string({ unit: chars, maxLength: max });
    const id = (schema: typeof deviceIdSchema | typeof topicIdSchema) =>
      fc.string({ unit: chars, minLength: 1, maxLength: 12 }).filter((s) => schema.safeParse(s).success);
    const plain = fc.record({
      school: id(topicIdSchema),
      room: id(deviceIdSchema),
      id: id(deviceIdSchema),
      kind: fc.constantFrom(...DEVICE_KINDS.filter((k) => k !== 'network_node')),
      model: str(20),
      vendor: str(20),
      serial: str(20),
      linkRole: fc.constant(null),
      capacityBps: fc.constant(null),
    });
    const node = fc.record({
      school: id(topicIdSchema),
      room: id(deviceIdSchema),
      id: id(deviceIdSchema),
      kind: fc.constant('network_node' as const),
      model: str(20),
      vendor: str(20),
      serial: str(20),
      linkRole: fc.constantFrom(...LINK_ROLES),
      capacityBps: fc.integer({ min: 1, max: 400e9 }),
    });
    const rows = fc.uniqueArray(fc.oneof(plain, node), { selector: (r) => r.id, minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(rows, (input) => {
        const r = parseInventory(utf8(formatInventory(input)));
        expect(r.errors).toEqual([]);
        expect(withoutLine(r.rows)).toEqual(input);
        // Each row's line is where it starts: 1 + the header + the line breaks of the rows before.
        let line = 2;
        r.rows.forEach((row, i) => {
          expect(row.line).toBe(line);
          const { model, vendor, serial } = input[i]!;
          line += 1 + [model, vendor, serial].reduce((n, f) => n + f.split(/\r\n|\n|\r/).length - 1, 0);
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('science kiosks in the inventory', () => {
  it('reads a science_kiosk row like any other classroom device (no link columns)', () => {
    const r = parseInventory(utf8([HEADER, '巴蜀小学,大厅,kiosk-01,science_kiosk,科普中国终端,,KP-1400,,', ''].join('\n')));
    expect(r.errors).toEqual([]);
    expect(withoutLine(r.rows)).toEqual([{ school: '巴蜀小学', room: '大厅', id: 'kiosk-01', kind: 'science_kiosk', model: '科普中国终端', vendor: '', serial: 'KP-1400', linkRole: null, capacityBps: null }]);
  });
});
