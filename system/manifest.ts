// System image manifests (.himg): a declarative description of a machine — which sandboxes,
// running which modules, with what memory and CPU share — plus how long to run it and what
// outcome to expect. JSON, validated field by field; every error names the file and the field.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import semver from 'semver';
import { FAULT_KINDS, type FaultKind } from '../emulator/fault.ts';
import { DEVICE_FACTORIES } from '../emulator/devices/index.ts';
import { TRAFFIC_CLASSES } from '../traffic/classes.ts';
import { Right } from '../core0/abi/abi.ts';
import { NAME_PATTERN } from '../core0/module/format.ts';
import { ALERT_RULES } from './update/alerts.ts';
import { MAX_PENDING_UPDATES, readRequest, type UpdateRequest } from './update/request.ts';

export interface SandboxEntry {
  readonly name: string;
  readonly module: string;
  /** Semver range the module's version must satisfy; the newest match is used. */
  readonly version: string;
  readonly quota: number;
  readonly stack: number;
  /**
   * Values for the module's configuration fields, by name (docs/configuration.md). Checked here
   * only for shape; boot checks them against the module's signed declaration.
   */
  readonly config: Readonly<Record<string, string | number | boolean>>;
  readonly budget: number;
  /** Initial capabilities: registry rights, the module loader, IRQ lines, device windows, sandboxes it may control, channels (in that slot order). */
  readonly caps: {
    readonly registry: number;
    /** Rights on the module loader (R query, W reserve and spawn); 0: not granted. */
    readonly loader: number;
    readonly irqs: readonly number[];
    readonly mmio: readonly { readonly device: string; readonly rights: number }[];
    readonly control: readonly string[];
    readonly channels: readonly { readonly name: string; readonly rights: number }[];
  };
}

export interface Expectation {
  readonly exits: Readonly<Record<string, number>>;
  readonly faults: Readonly<Record<string, FaultKind>>;
  /**
   * What each update request of the image comes to, in order: "completed", "failed:<step>", "rolled_back:<rule>" or
   * "refused:<reason>", as the Module Manager's records say (system/update/outcome.ts).
   */
  readonly updates: readonly string[] | undefined;
  /**
   * The rules of the Monitor's alerts that reach the operator (sent or escalated, not counted into
   * an incident nor silenced), each once, in the order they first did; [] for none at all.
   */
  readonly alerts: readonly string[] | undefined;
}

/** An update the image requests through the operator's channel at a virtual time. */
export interface ImageUpdate {
  readonly atNs: number;
  readonly request: UpdateRequest;
}

export interface Manifest {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly memory: number;
  /** Devices attached to the machine, by kind; device n's IRQ line is 16 + n. */
  readonly devices: readonly string[];
  readonly sandboxes: readonly SandboxEntry[];
  readonly until: number;
  readonly expect: Expectation | undefined;
  /** Emulated remote clients on the NIC's wire (the traffic generator), if any. */
  readonly traffic: TrafficSpec | undefined;
  /** Rolling updates requested of the Module Manager, in time order. */
  readonly updates: readonly ImageUpdate[];
  /**
   * 'image' (the default): the sandboxes run the versions the image names, a fresh install.
   * 'installed': each runs the version its machine has installed in the data directory, as the
   * journal of the last boot leaves it (system/state/); the image's version where none is.
   */
  readonly boot: 'image' | 'installed';
}

export interface TrafficSpec {
  readonly seed: string;
  /** The stack's address the clients talk to. */
  readonly server: string;
  readonly connections: number;
  readonly clients: number;
  readonly dns: number;
  readonly pings: number;
  /** The length of the clients' activity (connections start in its first quarter); default 1 s. */
  readonly durationNs: number | undefined;
  /** Relative weights of the connection classes; omitted classes keep the generator's default. */
  readonly shares: Readonly<Record<string, number>> | undefined;
}

export class ManifestError extends Error {
  readonly code = 'HIC_BAD_MANIFEST';
  constructor(readonly file: string, readonly field: string, detail: string) {
    super(`${file}: ${field ? field + ': ' : ''}${detail}`);
  }
}

const SIZE_UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, min: 60e9, h: 3600e9 };
const NAME = /^[a-z][a-z0-9_-]{0,31}$/;

type Obj = Record<string, unknown>;

export class Reader {
  constructor(readonly file: string) {}

  fail(field: string, detail: string): never {
    throw new ManifestError(this.file, field, detail);
  }

  object(v: unknown, field: string, allowed: readonly string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'expected an object');
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(field ? `${field}.${k}` : k, `unknown field (allowed: ${allowed.join(', ')})`);
    }
    return v as Obj;
  }

  string(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  }

  name(v: unknown, field: string): string {
    const s = this.string(v, field);
    if (!NAME.test(s)) this.fail(field, `"${s}" is not a name (lower-case letter, then letters, digits, _ or -, at most 32)`);
    return s;
  }

  moduleName(v: unknown, field: string): string {
    const s = this.string(v, field);
    if (!NAME_PATTERN.test(s)) this.fail(field, `"${s}" is not a module name ([a-z][a-z0-9_]*)`);
    return s;
  }

  range(v: unknown, field: string): string {
    const s = this.string(v, field);
    if (semver.validRange(s) === null) this.fail(field, `"${s}" is not a version range (like ">= 1.2.0" or "= 2.0.0")`);
    return s;
  }

  integer(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(field, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v;
  }

  withUnit(v: unknown, field: string, units: Record<string, number>, what: string): number {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/.exec(v) : null;
    const unit = m ? units[m[2]!] : undefined;
    if (!m || unit === undefined) this.fail(field, `expected ${what} like ${Object.keys(units).map((u) => '"1' + u + '"').join(', ')}, got ${JSON.stringify(v)}`);
    const n = Math.round(Number(m[1]) * unit);
    if (!Number.isSafeInteger(n)) this.fail(field, `${JSON.stringify(v)} is too large`);
    return n;
  }

  size(v: unknown, field: string, min: number, max: number): number {
    const n = this.withUnit(v, field, SIZE_UNITS, 'a size');
    if (n < min || n > max) this.fail(field, `${JSON.stringify(v)} is outside [${min}, ${max}] bytes`);
    return n;
  }

  time(v: unknown, field: string): number {
    return this.withUnit(v, field, TIME_UNITS, 'a duration');
  }
}

const MiB = 1024 * 1024;
/** The largest machine an image may ask for: physical memory ends where the device windows begin (emulator/device.ts DEVICE_BASE). */
export const MEMORY_MAX = 4096 * MiB;
/** Device kinds a manifest may attach (emulator/device.ts). */
const DEVICE_KINDS: readonly string[] = Object.keys(DEVICE_FACTORIES);

/**
 * `caps`: { registry: "rw" | "r" | "rwg" …, loader: "r" | "w" | "rw", irqs: [line…],
 * mmio: ["device" | "device:r"…], control: [earlier sandbox…], channels: ["name:r" | "name:w" | "name:rw"…] }.
 */
function caps(r: Reader, v: unknown, field: string, earlier: ReadonlySet<string>, self: string, devices: readonly string[]): SandboxEntry['caps'] {
  const o = r.object(v ?? {}, field, ['registry', 'loader', 'irqs', 'mmio', 'control', 'channels']);
  let registry = Right.R | Right.W;
  if (o.registry !== undefined) {
    const s = r.string(o.registry, `${field}.registry`);
    if (!/^r?w?g?$/.test(s) || s === '') r.fail(`${field}.registry`, `expected rights as letters from "rwg" (like "rw"), got "${s}"`);
    registry = (s.includes('r') ? Right.R : 0) | (s.includes('w') ? Right.W : 0) | (s.includes('g') ? Right.G : 0);
  }
  let loader = 0;
  if (o.loader !== undefined) {
    const s = r.string(o.loader, `${field}.loader`);
    if (s !== 'r' && s !== 'w' && s !== 'rw') r.fail(`${field}.loader`, `expected "r" (query), "w" (reserve and spawn) or "rw", got "${s}"`);
    loader = (s.includes('r') ? Right.R : 0) | (s.includes('w') ? Right.W : 0);
  }
  const irqs = o.irqs === undefined ? [] : o.irqs;
  if (!Array.isArray(irqs)) r.fail(`${field}.irqs`, 'expected a list of IRQ line numbers');
  const lines = irqs.map((x: unknown, i: number) => r.integer(x, `${field}.irqs[${i}]`, 0, 255));
  const mmioList = o.mmio === undefined ? [] : o.mmio;
  if (!Array.isArray(mmioList)) r.fail(`${field}.mmio`, 'expected a list of device names ("nic", or "nic:r" for read-only)');
  const mmio = mmioList.map((x: unknown, i: number) => {
    const s = r.string(x, `${field}.mmio[${i}]`);
    const [device, rights] = s.split(':');
    if (!devices.includes(device!)) r.fail(`${field}.mmio[${i}]`, `no device "${device}" in machine.devices (${devices.join(', ') || 'none'})`);
    if (rights !== undefined && rights !== 'r' && rights !== 'rw') r.fail(`${field}.mmio[${i}]`, `rights must be "r" or "rw", got "${rights}"`);
    return { device: device!, rights: rights === 'r' ? Right.R : Right.R | Right.W };
  });
  const control = o.control === undefined ? [] : o.control;
  if (!Array.isArray(control)) r.fail(`${field}.control`, 'expected a list of sandbox names');
  const targets = control.map((x: unknown, i: number) => {
    const n = r.name(x, `${field}.control[${i}]`);
    if (!earlier.has(n) || n === self) r.fail(`${field}.control[${i}]`, `"${n}" is not a sandbox listed before this one`);
    return n;
  });
  const channelList = o.channels === undefined ? [] : o.channels;
  if (!Array.isArray(channelList)) r.fail(`${field}.channels`, 'expected a list of channels ("name:r" to receive, "name:w" to call, "name:rw")');
  const channels = channelList.map((x: unknown, i: number) => {
    const s = r.string(x, `${field}.channels[${i}]`);
    const m = /^([a-z][a-z0-9_-]{0,31}):(r|w|rw)$/.exec(s);
    if (!m) r.fail(`${field}.channels[${i}]`, `expected "name:r", "name:w" or "name:rw" (name: lowercase letters, digits, - and _), got "${s}"`);
    return { name: m![1]!, rights: (m![2]!.includes('r') ? Right.R : 0) | (m![2]!.includes('w') ? Right.W : 0) };
  });
  return { registry, loader, irqs: lines, mmio, control: targets, channels };
}

/** `config`: { field: value… }, each value a string ("450ms", "abort"), a number or a boolean. */
function config(r: Reader, v: unknown, field: string): Record<string, string | number | boolean> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) r.fail(field, 'expected an object of configuration field → value');
  const o = v as Obj;
  for (const [k, x] of Object.entries(o)) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(k)) r.fail(`${field}.${k}`, 'not a configuration field name ([a-z][a-z0-9_]*)');
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') r.fail(`${field}.${k}`, `expected a string, a number or true/false, got ${JSON.stringify(x)}`);
  }
  return o as Record<string, string | number | boolean>;
}

/** `traffic.shares`: { class: weight… } over the generator's classes. */
function shares(r: Reader, v: unknown): Record<string, number> {
  const o = r.object(v, 'traffic.shares', TRAFFIC_CLASSES);
  const out: Record<string, number> = {};
  for (const [k, w] of Object.entries(o)) out[k] = r.integer(w, `traffic.shares.${k}`, 0, 1000);
  return out;
}

export function parseManifest(file: string, text: string): Manifest {
  const r = new Reader(file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    r.fail('', `not valid JSON (${(e as Error).message})`);
  }
  const top = r.object(raw, '', ['hic-image', 'name', 'description', 'machine', 'sandboxes', 'run', 'expect', 'traffic', 'updates', 'boot']);
  const boot = top.boot === undefined ? 'image' : r.string(top.boot, 'boot');
  if (boot !== 'image' && boot !== 'installed') r.fail('boot', `expected "image" (the versions the image names) or "installed" (what the data directory has installed), got ${JSON.stringify(boot)}`);
  if (top['hic-image'] !== 1) r.fail('hic-image', `expected 1 (the manifest format version), got ${JSON.stringify(top['hic-image'])}`);
  const machine = r.object(top.machine ?? {}, 'machine', ['memory', 'devices']);
  const deviceList: unknown = machine.devices === undefined ? [] : machine.devices;
  if (!Array.isArray(deviceList)) return r.fail('machine.devices', `expected a list of device kinds (${DEVICE_KINDS.join(', ')})`);
  const devices = deviceList.map((x: unknown, i: number) => {
    const d = r.string(x, `machine.devices[${i}]`);
    if (!DEVICE_KINDS.includes(d)) r.fail(`machine.devices[${i}]`, `unknown device "${d}" (one of: ${DEVICE_KINDS.join(', ')})`);
    return d;
  });
  const memory = machine.memory === undefined ? 256 * MiB : r.size(machine.memory, 'machine.memory', 4 * MiB, MEMORY_MAX);
  if (memory % 4096 !== 0) r.fail('machine.memory', 'must be a multiple of 4 KiB');

  const list: unknown = top.sandboxes;
  if (!Array.isArray(list) || list.length === 0) return r.fail('sandboxes', 'expected a non-empty array');
  const seen = new Set<string>();
  const sandboxes = list.map((v: unknown, i: number): SandboxEntry => {
    const f = `sandboxes[${i}]`;
    const o = r.object(v, f, ['name', 'module', 'version', 'quota', 'stack', 'config', 'budget', 'caps']);
    const name = r.name(o.name, `${f}.name`);
    if (seen.has(name)) r.fail(`${f}.name`, `"${name}" is used by an earlier sandbox`);
    seen.add(name);
    const quota = r.size(o.quota, `${f}.quota`, 16 * 1024, memory);
    const stack = o.stack === undefined ? 64 * 1024 : r.size(o.stack, `${f}.stack`, 4096, 16 * MiB);
    if (stack + 2 * 4096 > quota) r.fail(`${f}.quota`, `${quota} bytes cannot hold a ${stack}-byte stack and an image`);
    return {
      name,
      module: r.moduleName(o.module, `${f}.module`),
      version: o.version === undefined ? '*' : r.range(o.version, `${f}.version`),
      quota,
      stack,
      config: config(r, o.config, `${f}.config`),
      budget: o.budget === undefined ? 100_000 : r.integer(o.budget, `${f}.budget`, 1000, 10_000_000),
      caps: caps(r, o.caps, `${f}.caps`, seen, name, devices),
    };
  });

  const run = r.object(top.run ?? {}, 'run', ['until']);
  const until = run.until === undefined ? 60e9 : r.time(run.until, 'run.until');

  let expect: Expectation | undefined;
  if (top.expect !== undefined) {
    const e = r.object(top.expect, 'expect', ['exits', 'faults', 'updates', 'alerts']);
    const exits: Record<string, number> = {};
    const faults: Record<string, FaultKind> = {};
    for (const [k, v] of Object.entries(r.object(e.exits ?? {}, 'expect.exits', [...seen]))) exits[k] = r.integer(v, `expect.exits.${k}`, -(2 ** 31), 2 ** 31 - 1);
    const kinds = FAULT_KINDS.map((x) => x.name) as readonly string[];
    // A sandbox an update creates may be expected to fault too: the Module Manager names the new
    // instance <service>-<version with dashes> (services/module_manager/instance.c).
    const spawned = (Array.isArray(top.updates) ? (top.updates as unknown[]) : []).flatMap((u) => {
      const o = u as { service?: unknown; to?: unknown } | null;
      return typeof o?.service === 'string' && typeof o.to === 'string' ? [`${o.service}-${o.to.replaceAll('.', '-')}`] : [];
    });
    for (const [k, v] of Object.entries(r.object(e.faults ?? {}, 'expect.faults', [...seen, ...new Set(spawned)]))) {
      const kind = r.string(v, `expect.faults.${k}`);
      if (!kinds.includes(kind)) r.fail(`expect.faults.${k}`, `unknown fault kind "${kind}" (one of: ${kinds.join(', ')})`);
      faults[k] = kind as FaultKind;
    }
    let updates: string[] | undefined;
    const updateOutcomes: unknown = e.updates;
    if (updateOutcomes !== undefined) {
      if (!Array.isArray(updateOutcomes)) return r.fail('expect.updates', 'expected a list of outcomes, one per update ("completed", "failed:<step>", "rolled_back:<rule>", "refused:<reason>")');
      updates = updateOutcomes.map((x: unknown, i: number) => {
        const s = r.string(x, `expect.updates[${i}]`);
        if (!/^(completed|failed:[a-z_]+|rolled_back:[a-z_]+|refused:[a-z_]+)$/.test(s)) r.fail(`expect.updates[${i}]`, `expected "completed", "failed:<step>", "rolled_back:<rule>" or "refused:<reason>", got "${s}"`);
        return s;
      });
    }
    let alerts: string[] | undefined;
    if (e.alerts !== undefined) {
      if (!Array.isArray(e.alerts)) return r.fail('expect.alerts', 'expected a list of the Monitor\'s rules whose alerts reach the operator ("leak", "perf_down", ...), [] for none');
      alerts = e.alerts.map((x: unknown, i: number) => {
        const s = r.string(x, `expect.alerts[${i}]`);
        if (!ALERT_RULES.includes(s)) r.fail(`expect.alerts[${i}]`, `unknown rule "${s}" (one of: ${ALERT_RULES.join(', ')})`);
        return s;
      });
      if (new Set(alerts).size !== alerts.length) r.fail('expect.alerts', 'a rule is listed twice: each is expected once, where it first reaches the operator');
    }
    expect = { exits, faults, updates, alerts };
  }

  let traffic: TrafficSpec | undefined;
  if (top.traffic !== undefined) {
    const t = r.object(top.traffic, 'traffic', ['seed', 'server', 'connections', 'clients', 'dns', 'pings', 'duration', 'shares']);
    if (!devices.includes('nic')) r.fail('traffic', 'emulated clients need a NIC: add "nic" to machine.devices');
    const server = r.string(t.server, 'traffic.server');
    const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(server);
    if (!octets || octets.slice(1).some((o) => Number(o) > 255)) r.fail('traffic.server', `"${server}" is not an IPv4 address (four numbers 0–255, like "10.0.0.2")`);
    traffic = {
      seed: t.seed === undefined ? 'hic' : r.string(t.seed, 'traffic.seed'),
      server,
      connections: r.integer(t.connections, 'traffic.connections', 0, 10_000),
      clients: t.clients === undefined ? 10 : r.integer(t.clients, 'traffic.clients', 1, 250),
      dns: t.dns === undefined ? 0 : r.integer(t.dns, 'traffic.dns', 0, 10_000),
      pings: t.pings === undefined ? 0 : r.integer(t.pings, 'traffic.pings', 0, 10_000),
      durationNs: t.duration === undefined ? undefined : r.time(t.duration, 'traffic.duration'),
      shares: t.shares === undefined ? undefined : shares(r, t.shares),
    };
  }

  const updateList: unknown = top.updates ?? [];
  if (!Array.isArray(updateList)) return r.fail('updates', 'expected a list of update requests');
  // The operator's channel keeps a place for each from boot, so a longer list could never be queued.
  if (updateList.length > MAX_PENDING_UPDATES) r.fail('updates', `${updateList.length} update requests; the operator's channel holds at most ${MAX_PENDING_UPDATES}`);
  let last = 0;
  const updates = updateList.map((v: unknown, i: number): ImageUpdate => {
    const o = r.object(v, `updates[${i}]`, ['at', 'service', 'to', 'rules', 'allowDowngrade', 'clearBad', 'policy']);
    const atNs = r.time(o.at, `updates[${i}].at`);
    if (atNs < last) r.fail(`updates[${i}].at`, 'updates are listed in time order');
    if (atNs >= until) r.fail(`updates[${i}].at`, `at or after run.until: the machine stops first`);
    last = atNs;
    return { atNs, request: readRequest(r, o, `updates[${i}]`) };
  });
  if (updates.length > 0 && !sandboxes.some((s) => s.module === 'module_manager')) r.fail('updates', 'no sandbox runs module_manager to carry the updates out');

  return {
    file,
    traffic,
    updates,
    name: top.name === undefined ? file : r.string(top.name, 'name'),
    description: top.description === undefined ? '' : r.string(top.description, 'description'),
    memory,
    devices,
    sandboxes,
    until,
    expect,
    boot: boot as Manifest['boot'],
  };
}

/** A manifest is a few KiB; anything past this is not one (a device file, a log, a mistake). */
export const MANIFEST_MAX_BYTES = 1024 * 1024;

/**
 * Reads and parses a manifest file, refusing what is not a regular file or is larger than any
 * manifest, before reading it (so `/dev/zero` is an error, not an allocation).
 */
export function readManifest(file: string): Manifest {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new ManifestError(file, '', code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot open it (${code})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ManifestError(file, '', st.isDirectory() ? 'a directory, not a manifest file' : 'not a regular file');
    if (st.size > MANIFEST_MAX_BYTES) throw new ManifestError(file, '', `${st.size} bytes; a manifest is at most ${MANIFEST_MAX_BYTES}`);
    const bytes = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, bytes, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return parseManifest(file, bytes.subarray(0, got).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}
