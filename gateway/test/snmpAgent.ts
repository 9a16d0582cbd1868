import { createSocket, type Socket } from 'node:dgram';
import snmp from 'net-snmp';
import { freeUdpPort } from '../../runtime/src/ports.ts';

/** One interface of the simulated agent, its counters as the test sets them. */
export interface SimInterface {
  ifIndex: number;
  name: string;
  operUp: boolean;
  inOctets: bigint;
  outOctets: bigint;
}

export interface SimAgent {
  readonly port: number;
  readonly community: string;
  /** Sets sysUpTime (hundredths of a second). */
  setUptime(ticks: number): void;
  /** Adds an interface, or sets its counters and status (32-bit ones wrap at 2^32, as an agent's do). */
  setInterface(i: SimInterface): void;
  removeInterface(ifIndex: number): void;
  close(): Promise<void>;
}

const ro = snmp.MaxAccess['read-only'];
const col = (number: number, name: string, type: snmp.ObjectType) => ({ number, name, type, maxAccess: ro });
const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, v));
  return b;
};

/**
 * An SNMP agent in process (net-snmp's Agent) on a free loopback port, answering v2c for one
 * community: sysUpTime, ifTable and, unless `hc` is false (an agent with only 32-bit counters),
 * ifXTable with ifName and the HC octet counters.
 */
export async function startSimAgent(opts: { community?: string; hc?: boolean } = {}): Promise<SimAgent> {
  const port = await freeUdpPort();
  const community = opts.community ?? 'sim-community';
  const hc = opts.hc ?? true;
  const agent = snmp.createAgent({ port, address: '127.0.0.1', disableAuthorization: true }, () => {});
  agent.getAuthorizer().addCommunity(community);
  const mib = agent.getMib();
  mib.registerProvider({ name: 'sysUpTime', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.1.3', scalarType: snmp.ObjectType.TimeTicks, maxAccess: ro });
  mib.setScalarValue('sysUpTime', 0);
  mib.registerProvider({
    name: 'ifTable',
    type: snmp.MibProviderType.Table,
    oid: '1.3.6.1.2.1.2.2.1',
    maxAccess: snmp.MaxAccess['not-accessible'],
    tableColumns: [col(1, 'ifIndex', snmp.ObjectType.Integer), col(2, 'ifDescr', snmp.ObjectType.OctetString), col(8, 'ifOperStatus', snmp.ObjectType.Integer), col(10, 'ifInOctets', snmp.ObjectType.Counter), col(16, 'ifOutOctets', snmp.ObjectType.Counter)],
    tableIndex: [{ columnName: 'ifIndex' }],
  });
  if (hc) {
    mib.registerProvider({
      name: 'ifXTable',
      type: snmp.MibProviderType.Table,
      oid: '1.3.6.1.2.1.31.1.1.1',
      maxAccess: snmp.MaxAccess['not-accessible'],
      tableColumns: [col(1, 'ifName', snmp.ObjectType.OctetString), col(6, 'ifHCInOctets', snmp.ObjectType.Counter64), col(10, 'ifHCOutOctets', snmp.ObjectType.Counter64)],
      tableAugments: 'ifTable',
    });
  }
  const rows = new Set<number>();
  const low32 = (v: bigint) => Number(BigInt.asUintN(32, v));
  return {
    port,
    community,
    setUptime: (ticks) => mib.setScalarValue('sysUpTime', ticks),
    setInterface(i) {
      if (rows.has(i.ifIndex)) {
        mib.deleteTableRow('ifTable', [i.ifIndex]);
        if (hc) mib.deleteTableRow('ifXTable', [i.ifIndex]);
      }
      rows.add(i.ifIndex);
      // ifDescr differs from ifName, as on a switch: the poller finds an interface by either.
      mib.addTableRow('ifTable', [i.ifIndex, `Interface ${i.name}`, i.operUp ? 1 : 2, low32(i.inOctets), low32(i.outOctets)]);
      if (hc) mib.addTableRow('ifXTable', [i.ifIndex, i.name, u64(i.inOctets), u64(i.outOctets)]);
    },
    removeInterface(ifIndex) {
      if (!rows.delete(ifIndex)) return;
      mib.deleteTableRow('ifTable', [ifIndex]);
      if (hc) mib.deleteTableRow('ifXTable', [ifIndex]);
    },
    close: () => new Promise<void>((resolve) => agent.close(() => resolve())),
  };
}

export interface UdpRelay {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A UDP relay on a free loopback port in front of an agent: each request waits for `onRequest`
 * before it goes on, so a test can make the agent answer late (on the test's clock) and read
 * its counters at the moment it chooses.
 */
export async function startUdpRelay(agentPort: number, onRequest: () => void | Promise<void>): Promise<UdpRelay> {
  const front = createSocket('udp4');
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  const backs: Socket[] = [];
  front.on('message', (msg, from) => {
    void (async () => {
      await onRequest();
      // One socket per request: its answer goes back to the request's sender.
      const back = createSocket('udp4');
      backs.push(back);
      back.on('message', (answer) => front.send(answer, from.port, from.address));
      back.send(msg, agentPort, '127.0.0.1');
    })();
  });
  return {
    port: (front.address() as { port: number }).port,
    close: async () => {
      for (const b of backs.splice(0)) b.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
