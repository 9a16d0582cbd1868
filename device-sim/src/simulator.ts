import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC, lanCommandSchema } from '../../protocol/src/commands.ts';
import type { Fleet, SimSchool } from './fleet.ts';
import { CADENCE_MS, DeviceStream } from './telemetry.ts';

export interface SimulatorConfig {
  seed: number;
  /** Multiplies every cadence: 0.01 runs the fleet 100 times faster than real devices. */
  cadenceScale: number;
  /** Each device stops after this many samples (tests, benchmarks); 0 = runs until stopped. */
  samplesPerDevice: number;
  /** Each device's first sample comes at a random moment within this spread. */
  startSpreadMs: number;
}

export interface Simulator {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Samples each device published and its gateway acknowledged. */
  readonly acked: ReadonlyMap<string, number>;
  totalAcked(): number;
  /** Resolves when every device has had `samplesPerDevice` samples acknowledged. */
  readonly finished: Promise<void>;
}

interface SimDeviceRuntime {
  stream: DeviceStream;
  client: MqttClient;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The simulated fleet: one MQTT connection per device to its school's gateway, publishing
 * samples at each kind's cadence with QoS 1. Deterministic data for a seed; wall-clock times.
 * Each device carries out the commands addressed to it (lan/v1/cmd, `DeviceStream.carryOut`: a
 * board's switch_input sets the input its next samples report) and answers.
 */
export function createSimulator(
  fleet: Fleet,
  lanUrlOf: (school: SimSchool) => string,
  config: SimulatorConfig,
  deps: { log: Logger },
): Simulator {
  const log = deps.log.child({ module: 'simulator' });
  const acked = new Map<string, number>();
  const runtimes: SimDeviceRuntime[] = [];
  let stopped = false;
  let remaining = fleet.schools.reduce((n, s) => n + s.devices.length, 0);
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  // With samplesPerDevice = 0 the fleet runs until stopped and `finished` never settles.
  if (config.samplesPerDevice > 0 && remaining === 0) resolveFinished();

  function schedule(rt: SimDeviceRuntime, delayMs: number): void {
    rt.timer = setTimeout(() => tick(rt), delayMs);
  }

  function tick(rt: SimDeviceRuntime): void {
    rt.timer = undefined;
    if (stopped) return;
    const id = rt.stream.device.id;
    if (config.samplesPerDevice > 0 && rt.stream.produced >= config.samplesPerDevice) return;
    const sample = rt.stream.next(Date.now());
    rt.client.publish(LAN_TELEMETRY_TOPIC, JSON.stringify(sample), { qos: 1 }, (err) => {
      if (err) return void log.debug({ device: id, err: err.message }, 'sample not acknowledged');
      const n = (acked.get(id) ?? 0) + 1;
      acked.set(id, n);
      if (config.samplesPerDevice > 0 && n === config.samplesPerDevice && --remaining === 0) resolveFinished();
    });
    if (config.samplesPerDevice === 0 || rt.stream.produced < config.samplesPerDevice) {
      schedule(rt, CADENCE_MS[rt.stream.device.kind] * config.cadenceScale);
    }
  }

  return {
    acked,
    finished,
    totalAcked: () => [...acked.values()].reduce((a, b) => a + b, 0),
    async start() {
      let spreadIndex = 0;
      const total = remaining;
      for (const school of fleet.schools) {
        const url = lanUrlOf(school);
        for (const device of school.devices) {
          const client = mqtt.connect(url, {
            clientId: device.id,
            clean: true,
            protocolVersion: 4,
            reconnectPeriod: 500,
            keepalive: 60,
          });
          const rt: SimDeviceRuntime = { stream: new DeviceStream(device, config.seed), client, timer: undefined };
          runtimes.push(rt);
          acked.set(device.id, 0);
          // Spread first samples evenly (deterministic), so the fleet does not report in lockstep.
          const offset = total > 1 ? (config.startSpreadMs * spreadIndex++) / (total - 1) : 0;
          client.once('connect', () => schedule(rt, offset));
          client.on('connect', () => client.subscribe(LAN_COMMAND_TOPIC, { qos: 1 }));
          /** The last commands carried out: a redelivered one is not carried out twice. */
          const done = new Set<string>();
          client.on('message', (_topic, payload) => {
            let cmd;
            try {
              cmd = lanCommandSchema.safeParse(JSON.parse(payload.toString('utf8')));
            } catch {
              return;
            }
            if (!cmd.success || cmd.data.device !== device.id || done.has(cmd.data.id)) return; // not ours, or a redelivery
            done.add(cmd.data.id);
            if (done.size > 100) done.delete(done.values().next().value!);
            const answer = rt.stream.carryOut(cmd.data);
            log.debug({ device: device.id, action: cmd.data.action, input: cmd.data.input, id: cmd.data.id, status: answer.status }, 'command carried out');
            client.publish(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id: cmd.data.id, device: device.id, ...answer }), { qos: 1 });
          });
        }
      }
      log.info({ devices: total, schools: fleet.schools.length }, 'simulated fleet started');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const rt of runtimes) clearTimeout(rt.timer);
      await Promise.all(runtimes.map((rt) => new Promise<void>((r) => rt.client.end(true, {}, () => r()))));
      log.info({ acked: [...acked.values()].reduce((a, b) => a + b, 0) }, 'simulated fleet stopped');
    },
  };
}
