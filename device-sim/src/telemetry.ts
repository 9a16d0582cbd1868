import { actionKindProblem, type CommandInput, type LanCommand, type LanCommandResult } from '../../protocol/src/commands.ts';
import { MAX_U64 } from '../../protocol/src/kinds.ts';
import type { DeviceSample } from '../../protocol/src/telemetry.ts';
import type { SimDevice } from './fleet.ts';
import { Rng, seedFrom } from './random.ts';

/** Reporting cadence per kind, in ms (docs/design.md#scale: devices report every 30 s). */
export const CADENCE_MS: Record<SimDevice['kind'], number> = {
  classroom_av: 30_000,
  interactive_board: 30_000,
  vr_kit: 60_000,
  network_node: 30_000,
  // Sync age and free disk change over minutes and hours: a minute is plenty, and ~1,400 kiosks
  // in the city stay light on the uplinks.
  science_kiosk: 60_000,
};

/** Science kiosks: the content sync is hourly; a kiosk whose sync is broken stays stale. */
const KIOSK_SYNC_PERIOD_S = 3600;
const KIOSK_DISK_MIB = 256 * 1024;

/**
 * One device's telemetry stream: deterministic for a seed, realistic in shape. Each call to
 * `next(ts)` returns the sample at device time `ts`, with the next sequence number.
 */
export class DeviceStream {
  readonly device: SimDevice;
  readonly #rng: Rng;
  #seq = 0;
  #lastTs = 0;
  #lampHours: number;
  #battery: number;
  #charging = false;
  #octetsIn: bigint;
  #octetsOut: bigint;
  #utilisation: number;
  readonly #firmware: string;
  #syncAgeS: number;
  #freeDiskMiB: number;
  readonly #syncBroken: boolean;
  /** A board's input once a switch_input chose it; until then each sample draws one. */
  #input: CommandInput | undefined;

  constructor(device: SimDevice, seed: number) {
    this.device = device;
    this.#rng = new Rng(seedFrom(seed, device.id));
    this.#lampHours = this.#rng.int(100, 6000);
    this.#battery = this.#rng.int(30, 100);
    this.#octetsIn = BigInt(this.#rng.int(0, 2 ** 31)) * 1_000_000n;
    this.#octetsOut = BigInt(this.#rng.int(0, 2 ** 31)) * 1_000_000n;
    this.#utilisation = 0.05 + this.#rng.next() * 0.5;
    this.#firmware = `v${this.#rng.int(2, 4)}.${this.#rng.int(0, 9)}.${this.#rng.int(0, 20)}`;
    this.#syncBroken = this.#rng.chance(0.05);
    this.#syncAgeS = this.#syncBroken ? this.#rng.int(86_400, 3 * 86_400) : this.#rng.int(0, KIOSK_SYNC_PERIOD_S);
    this.#freeDiskMiB = this.#rng.int(8 * 1024, 160 * 1024);
  }

  get produced(): number {
    return this.#seq;
  }

  /**
   * Carries out a command on the device: a board's switch_input sets the input its next samples
   * report; classroom AV has no input in its telemetry, and every other action changes nothing
   * here: `done`. An action the kind does not carry out is `failed`, with the reason.
   */
  carryOut(cmd: Pick<LanCommand, 'action' | 'input'>): Pick<LanCommandResult, 'status' | 'detail'> {
    const problem = actionKindProblem(cmd.action, this.device.kind);
    if (problem !== undefined) return { status: 'failed', detail: problem };
    if (cmd.action === 'switch_input' && this.device.kind === 'interactive_board') this.#input = cmd.input;
    return { status: 'done' };
  }

  next(wallTs: number): DeviceSample {
    // Strictly increasing device time: two samples never share a timestamp (and a point).
    const ts = Math.max(wallTs, this.#lastTs + 1);
    const dtSec = this.#lastTs === 0 ? CADENCE_MS[this.device.kind] / 1000 : (ts - this.#lastTs) / 1000;
    this.#lastTs = ts;
    const base = { device: this.device.id, seq: this.#seq++, ts };
    const r = this.#rng;
    switch (this.device.kind) {
      case 'classroom_av': {
        const on = r.chance(0.85);
        if (on) this.#lampHours += dtSec / 3600;
        const inSession = on && r.chance(0.6);
        const streaming = inSession && this.device.synchronous === true;
        return {
          ...base,
          kind: 'classroom_av',
          data: {
            power: on ? 'on' : 'standby',
            lampHours: Math.round(this.#lampHours * 100) / 100,
            temperatureC: Math.round((on ? 38 + r.next() * 14 : 24 + r.next() * 4) * 10) / 10,
            inSession,
            ...(streaming
              ? { streamKbps: Math.round(2500 + r.next() * 3500), streamLossPct: Math.round(r.next() * r.next() * 300) / 100 }
              : {}),
          },
        };
      }
      case 'interactive_board': {
        const power = r.chance(0.9) ? 'on' : 'standby';
        const touchOk = r.chance(0.99);
        // Drawn even when switched, so that the rest of the stream is the same with or without a switch.
        const drawn = r.pick(['hdmi1', 'hdmi2', 'ops', 'usb-c'] as const);
        return { ...base, kind: 'interactive_board', data: { power, touchOk, activeInput: this.#input ?? drawn, firmware: this.#firmware } };
      }
      case 'vr_kit': {
        if (this.#battery < 20) this.#charging = true;
        if (this.#battery > 95) this.#charging = false;
        const inSession = !this.#charging && r.chance(0.5);
        this.#battery = Math.min(100, Math.max(0, this.#battery + (this.#charging ? 0.8 : inSession ? -0.5 : -0.05) * (dtSec / 60)));
        return {
          ...base,
          kind: 'vr_kit',
          data: { batteryPct: Math.round(this.#battery * 10) / 10, charging: this.#charging, inSession },
        };
      }
      case 'science_kiosk': {
        this.#syncAgeS += Math.round(dtSec);
        if (!this.#syncBroken && this.#syncAgeS >= KIOSK_SYNC_PERIOD_S) {
          // A sync brings new content; below 4 GiB free the kiosk drops its oldest content.
          this.#syncAgeS = r.int(0, 60);
          this.#freeDiskMiB = Math.max(0, this.#freeDiskMiB - r.int(0, 400));
          if (this.#freeDiskMiB < 4096) this.#freeDiskMiB = Math.min(KIOSK_DISK_MIB, this.#freeDiskMiB + r.int(16 * 1024, 48 * 1024));
        }
        const power = r.chance(0.97) ? 'on' : 'standby';
        return {
          ...base,
          kind: 'science_kiosk',
          data: { power, screenOn: power === 'on' && r.chance(0.95), contentSyncAgeS: this.#syncAgeS, freeDiskMiB: this.#freeDiskMiB },
        };
      }
      case 'network_node': {
        const link = this.device.link!;
        const jitter = 0.8 + r.next() * 0.4;
        const bytesIn = BigInt(Math.floor((link.capacityBps * this.#utilisation * jitter * dtSec) / 8));
        const bytesOut = BigInt(Math.floor((link.capacityBps * this.#utilisation * 0.3 * jitter * dtSec) / 8));
        this.#octetsIn = (this.#octetsIn + bytesIn) & MAX_U64;
        this.#octetsOut = (this.#octetsOut + bytesOut) & MAX_U64;
        return {
          ...base,
          kind: 'network_node',
          data: {
            role: link.role,
            capacityBps: link.capacityBps,
            octetsIn: this.#octetsIn.toString(),
            octetsOut: this.#octetsOut.toString(),
            operUp: true,
          },
        };
      }
    }
  }
}
