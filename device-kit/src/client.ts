import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC, lanCommandSchema, type LanCommand, type LanCommandResult } from '../../protocol/src/commands.ts';
import { deviceKindSchema, exampleData, type DeviceKind } from '../../protocol/src/kinds.ts';
import { deviceSampleSchema, lanErrorSchema, type DeviceSample, type LanError } from '../../protocol/src/telemetry.ts';
import { LAN_ERROR_TOPIC, LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { KIT_ERR, KitError } from './errors.ts';

/**
 * A reference device for vendors (docs/devices.md): it connects to a gateway's LAN listener,
 * publishes samples of one kind, carries out the commands addressed to it and answers them, and
 * reports the gateway's refusals (`lan/v1/err`) that name it. Run it as a program
 * (`node device-kit/src/client.ts --help`) or use `DeviceClient` from code.
 */
export type CommandAnswer = Pick<LanCommandResult, 'status' | 'detail'>;

export interface DeviceClientOptions {
  /** The gateway's LAN listener, e.g. `mqtt://192.168.10.2:1884`. */
  url: string;
  device: string;
  kind: DeviceKind;
  /** Stable across reconnects and unique on the LAN; the device id by default. */
  clientId?: string;
  /**
   * What to do with a command addressed to this device; `done` by default. A `switch_input`
   * carries `cmd.input` (`hdmi1`, `hdmi2`, `ops`, `usb-c`, `vga`): a board reports it as its
   * `activeInput` from its next sample on.
   */
  onCommand?: (cmd: LanCommand) => CommandAnswer | Promise<CommandAnswer>;
  /** A refusal the gateway sent about this device. */
  onRefusal?: (err: LanError) => void;
  /** Device time for each sample (ms); the wall clock by default. */
  now?: () => number;
}

export class DeviceClient {
  readonly #o: DeviceClientOptions;
  #client: MqttClient | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #seq = 0;
  #lastData: DeviceSample['data'] | undefined;
  /** Refusals received for this device, oldest first. */
  readonly refusals: LanError[] = [];
  /** Commands carried out, with the answer given. */
  readonly answered: Array<{ command: LanCommand; answer: CommandAnswer }> = [];

  constructor(o: DeviceClientOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new KitError(KIT_ERR.STARTED_TWICE, `the client of ${this.#o.device} was started before`);
    this.#state = 'running';
    // MQTT 3.1.1 with a clean session: the gateway keeps nothing for an absent device (a command
    // it cannot deliver in time is reported expired), and MQTT.js subscribes again on reconnect.
    const c = await mqtt.connectAsync(this.#o.url, { clientId: this.#o.clientId ?? this.#o.device, protocolVersion: 4, clean: true, reconnectPeriod: 2000, keepalive: 30 });
    this.#client = c;
    c.on('message', (topic, payload) => void this.#onMessage(topic, payload));
    await c.subscribeAsync({ [LAN_COMMAND_TOPIC]: { qos: 1 }, [LAN_ERROR_TOPIC]: { qos: 1 } });
  }

  /** Publishes one sample (QoS 1: resolved once the gateway has it in its outbox) and returns it. */
  async send(data: DeviceSample['data'] = exampleData(this.#o.kind)): Promise<DeviceSample> {
    const sample = { device: this.#o.device, kind: this.#o.kind, seq: this.#seq++, ts: Math.round((this.#o.now ?? Date.now)()), data } as DeviceSample;
    this.#lastData = data;
    await this.#connected().publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(sample), { qos: 1 });
    return sample;
  }

  /** Publishes a payload as it is, valid or not (to see the gateway's refusal). */
  async sendRaw(payload: string): Promise<void> {
    await this.#connected().publishAsync(LAN_TELEMETRY_TOPIC, payload, { qos: 1 });
  }

  /**
   * Ends with a clean DISCONNECT. A goodbye alone is not a power-off (the gateway counts a
   * silent device `down`): with `switchOff`, a kind that reports `power` first sends a sample
   * saying `off`, so the device counts `off` until it is heard again.
   */
  async stop(opts: { switchOff?: boolean } = {}): Promise<void> {
    if (opts.switchOff && this.#client && this.#state !== 'stopped') {
      // What it last reported, now off.
      const data = (this.#lastData ?? exampleData(this.#o.kind)) as Record<string, unknown>;
      if ('power' in data) await this.send({ ...data, power: 'off' } as DeviceSample['data']).catch(() => {});
    }
    this.#state = 'stopped';
    const c = this.#client;
    this.#client = undefined;
    await c?.endAsync();
  }

  #connected(): MqttClient {
    if (this.#state === 'stopped') throw new KitError(KIT_ERR.STOPPED, `the client of ${this.#o.device} was stopped`);
    if (!this.#client) throw new KitError(KIT_ERR.NOT_STARTED, `the client of ${this.#o.device} is not started`);
    return this.#client;
  }

  async #onMessage(topic: string, payload: Buffer): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (topic === LAN_ERROR_TOPIC) {
      const err = lanErrorSchema.safeParse(json);
      if (!err.success || err.data.device !== this.#o.device) return;
      this.refusals.push(err.data);
      this.#o.onRefusal?.(err.data);
      return;
    }
    if (topic !== LAN_COMMAND_TOPIC) return;
    const cmd = lanCommandSchema.safeParse(json);
    // Every device on the LAN sees every command: only the one named acts.
    if (!cmd.success || cmd.data.device !== this.#o.device) return;
    let answer: CommandAnswer;
    try {
      answer = (await this.#o.onCommand?.(cmd.data)) ?? { status: 'done' };
    } catch (e) {
      answer = { status: 'failed', detail: String(e instanceof Error ? e.message : e).slice(0, 500) };
    }
    const result: LanCommandResult = { v: 1, id: cmd.data.id, device: this.#o.device, ...answer };
    this.answered.push({ command: cmd.data, answer });
    await this.#client?.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify(result), { qos: 1 });
  }
}

const USAGE = `usage: node device-kit/src/client.ts --url mqtt://GATEWAY:1884 --device ID --kind KIND [options]
  --kind KIND        ${deviceKindSchema.options.join(', ')}
  --data JSON        the sample's data (default: the kind's example in protocol/schemas/lan-telemetry.json)
  --interval MS      publish every MS milliseconds (default 60000)
  --count N          stop after N samples, with a clean goodbye (default: run until Ctrl-C)
  --client-id ID     MQTT client id (default: the device id)
  --fail-commands    answer every command "failed" instead of "done"`;

async function main(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      device: { type: 'string' },
      kind: { type: 'string' },
      data: { type: 'string' },
      interval: { type: 'string', default: '60000' },
      count: { type: 'string' },
      'client-id': { type: 'string' },
      'fail-commands': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const kind = deviceKindSchema.safeParse(a.kind);
  if (a.help || !a.url || !a.device || !kind.success) {
    console.error(USAGE);
    return a.help ? 0 : 2;
  }
  let data: DeviceSample['data'];
  try {
    data = a.data === undefined ? exampleData(kind.data) : (JSON.parse(a.data) as DeviceSample['data']);
  } catch (e) {
    throw new KitError(KIT_ERR.USAGE, `--data is not JSON`, { cause: e });
  }
  const check = deviceSampleSchema.safeParse({ device: a.device, kind: kind.data, seq: 0, ts: Date.now(), data });
  if (!check.success) console.error(`warning: this sample will be refused: ${check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const print = (o: Record<string, unknown>) => console.log(JSON.stringify({ at: new Date().toISOString(), ...o }));
  const client = new DeviceClient({
    url: a.url,
    device: a.device,
    kind: kind.data,
    ...(a['client-id'] ? { clientId: a['client-id'] } : {}),
    onCommand: (cmd) => {
      const answer: CommandAnswer = a['fail-commands'] ? { status: 'failed', detail: 'refused by --fail-commands' } : { status: 'done' };
      // A board carries out switch_input: its next samples report the input chosen.
      if (answer.status === 'done' && cmd.action === 'switch_input' && kind.data === 'interactive_board') data = { ...data, activeInput: cmd.input } as DeviceSample['data'];
      print({ event: 'command', id: cmd.id, action: cmd.action, ...(cmd.input === undefined ? {} : { input: cmd.input }), ttlMs: cmd.ttlMs, answer: answer.status });
      return answer;
    },
    onRefusal: (err) => print({ event: 'refused', reason: err.reason, detail: err.detail, seq: err.seq }),
  });
  await client.start();
  print({ event: 'connected', url: a.url, device: a.device, kind: kind.data });
  const count = a.count === undefined ? Infinity : Number(a.count);
  const interval = Number(a.interval);
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    const tick = async () => {
      const s = await client.send(data);
      print({ event: 'sent', seq: s.seq });
      if (++sent >= count) resolve();
      else timer = setTimeout(() => void tick(), interval);
    };
    void tick();
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await done;
  clearTimeout(timer);
  // Let a refusal of the last sample arrive before saying goodbye.
  await new Promise((r) => setTimeout(r, 500));
  // The program stands for a device being switched off: it says so before its goodbye.
  await client.stop({ switchOff: true });
  print({ event: 'goodbye', sent });
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
