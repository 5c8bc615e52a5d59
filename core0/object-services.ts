// Core-0's kernel objects and the blocking primitives the syscall verbs use: creating endpoints,
// notifications and memory objects; the service registry with its aliases; interrupt lines and
// their routing; parking and waking threads. This is the kernel's implementation of
// KernelServices (kernel-services.ts); the Kernel owns one and adds the few operations only it
// uses (the registry and IRQ roots it grants from, timeouts, raised lines).

import { Err, Right } from './abi/abi.ts';
import type { Clock, Frames } from '../emulator/types.ts';
import type { EventLog } from './events.ts';
import { cancelWait, notify } from './ipc.ts';
import type { KernelServices } from './kernel-services.ts';
import { originalCapability, type Capability, type ErrName } from './objects/capability.ts';
import { Alias, Endpoint } from './objects/endpoint.ts';
import { IrqLine } from './objects/irq-line.ts';
import { ModuleLoader } from './objects/loader.ts';
import { MemoryObject } from './objects/memory-object.ts';
import { Notification } from './objects/notification.ts';
import type { Sandbox } from './objects/sandbox.ts';
import { ServiceRegistry } from './objects/service-registry.ts';
import type { Thread, Waiting } from './objects/thread.ts';
import type { Scheduler } from './scheduler.ts';

/** What the module loader needs of the kernel's tables; the Kernel provides it (module-loader.ts). */
type LoaderPart = 'sandboxLive' | 'fetchModule' | 'moduleVerified' | 'moduleRejected' | 'unloadable' | 'newReservation' | 'spawnModule' | 'installedVersion' | 'isBad' | 'mark' | 'collect' | 'moduleHealth';

/**
 * What the Kernel lends ObjectServices to build KernelServices on: the machine's clock and frames,
 * its scheduler and sandboxes, and sandbox control (which only the Kernel can do, as it owns the
 * sandboxes). `events` and `control` are the very members KernelServices exposes.
 */
type KernelParts = Pick<KernelServices, 'events' | 'control' | 'journaled' | 'commit'> & {
  /** The module loader, which works on the kernel's sandboxes and module table (module-loader.ts). */
  readonly loader: Pick<KernelServices, LoaderPart>;
  readonly clock: Clock;
  readonly frames: Frames;
  readonly scheduler: Scheduler;
  /** A live sandbox by id: a memory object's quota goes back to whoever pays for it, if alive. */
  sandboxById(id: number): Sandbox | undefined;
};

export class ObjectServices implements KernelServices {
  readonly registry = new ServiceRegistry();
  readonly registryRoot: Capability = originalCapability(this.registry);
  readonly registered = new Map<string, Capability>();
  /** The root every loader capability derives from (an image's caps.loader), held by no sandbox. */
  readonly loaderRoot: Capability = originalCapability(new ModuleLoader(), Right.R | Right.W);
  private readonly aliasRoots = new Map<Alias, Capability>();
  private readonly irqs = new Map<number, { line: IrqLine; root: Capability }>();
  private nextObjectId = 1;

  constructor(private readonly host: KernelParts) {}

  get now(): number {
    return this.host.clock.now;
  }

  get events(): EventLog {
    return this.host.events;
  }

  control: KernelServices['control'] = (target, op, by) => this.host.control(target, op, by);
  sandboxLive: KernelServices['sandboxLive'] = (name) => this.host.loader.sandboxLive(name);
  journaled: KernelServices['journaled'] = (e) => this.host.journaled(e);
  commit: KernelServices['commit'] = (e) => this.host.commit(e);
  fetchModule: KernelServices['fetchModule'] = (name, range, allowDowngrade) => this.host.loader.fetchModule(name, range, allowDowngrade);
  moduleVerified: KernelServices['moduleVerified'] = (f) => this.host.loader.moduleVerified(f);
  moduleRejected: KernelServices['moduleRejected'] = (what, code, reason, from, by) => this.host.loader.moduleRejected(what, code, reason, from, by);
  unloadable: KernelServices['unloadable'] = (m) => this.host.loader.unloadable(m);
  newReservation: KernelServices['newReservation'] = (holder, pages) => this.host.loader.newReservation(holder, pages);
  spawnModule: KernelServices['spawnModule'] = (by, req) => this.host.loader.spawnModule(by, req);
  installedVersion: KernelServices['installedVersion'] = (name) => this.host.loader.installedVersion(name);
  isBad: KernelServices['isBad'] = (name, version) => this.host.loader.isBad(name, version);
  mark: KernelServices['mark'] = (name, version, bad, by) => this.host.loader.mark(name, version, bad, by);
  collect: KernelServices['collect'] = (name, version, by) => this.host.loader.collect(name, version, by);
  moduleHealth: KernelServices['moduleHealth'] = (name, version) => this.host.loader.moduleHealth(name, version);

  // --- blocking --------------------------------------------------------------------------------

  block(t: Thread, waiting: Waiting, timeoutNs: number): void {
    t.waiting = waiting;
    t.state = 'blocked';
    if (timeoutNs > 0) this.host.scheduler.sleep(t, this.now + timeoutNs);
  }

  wake(t: Thread, result: number): boolean {
    if (t.state === 'dead' || t.state === 'exiting') return false;
    t.waiting = undefined;
    this.host.scheduler.remove(t);
    t.sandbox.cpu.setResult(t.handle, result);
    if (t.sandbox.suspended) {
      t.state = 'runnable';
      return false;
    }
    return this.host.scheduler.wakeUp(t);
  }

  /** The scheduler found a blocked thread's deadline passed. */
  timedOut(t: Thread): void {
    cancelWait(t);
    t.sandbox.cpu.setResult(t.handle, -Err.TIMEOUT);
  }

  // --- objects ---------------------------------------------------------------------------------

  newEndpoint(): Capability {
    const ep = new Endpoint(this.nextObjectId++);
    ep.onRelease = (e) => {
      // Nobody can reach or serve this endpoint any more: everyone waiting on it learns so.
      for (const w of [...e.senders, ...e.receivers]) this.wake(w.thread, -Err.PEER_GONE);
      e.senders.length = 0;
      e.receivers.length = 0;
    };
    return originalCapability(ep);
  }

  newNotification(): Capability {
    const n = new Notification(this.nextObjectId++);
    n.onRelease = (x) => {
      for (const t of x.waiters.splice(0)) this.wake(t, -Err.PEER_GONE);
      // Lines routed here lose their route; one delivered but never acknowledged goes back to
      // pending, so the next handler to bind the line receives it.
      for (const { line } of this.irqs.values()) {
        if (line.route?.notification !== x) continue;
        line.route = undefined;
        if (line.masked) {
          line.masked = false;
          line.delivered--;
          line.pending++;
        }
      }
    };
    return originalCapability(n);
  }

  newMemory(s: Sandbox, pages: number): Capability | ErrName {
    if (!s.charge(pages)) return 'QUOTA_EXCEEDED';
    let first: number | 'NO_FRAMES';
    try {
      first = this.host.frames.tryAllocate(pages, s.id);
    } catch (e) {
      s.uncharge(pages); // a bug below: it surfaces, and the quota is as it was
      throw e;
    }
    if (first === 'NO_FRAMES') {
      s.uncharge(pages);
      return 'NO_MEMORY';
    }
    const m = new MemoryObject(first, pages, s.id, this.host.frames, (obj) => this.host.sandboxById(obj.tag)?.uncharge(obj.pages));
    return originalCapability(m);
  }

  aliasCapability(a: Alias): Capability {
    let root = this.aliasRoots.get(a);
    if (!root) {
      root = originalCapability(a, Right.W | Right.G);
      this.aliasRoots.set(a, root);
    }
    return root;
  }

  endpointSwitched(alias: string, from: string, to: string, by: string): void {
    this.events.emit({ kind: 'endpointSwitched', alias, from, to, by });
  }

  // --- interrupts ------------------------------------------------------------------------------

  /** The capability root of an IRQ line; lines exist from the first time they are named. */
  irqRoot(line: number): Capability {
    let l = this.irqs.get(line);
    if (!l) {
      const obj = new IrqLine(line);
      l = { line: obj, root: originalCapability(obj, Right.W) };
      this.irqs.set(line, l);
    }
    return l.root;
  }

  irqLine(line: number): IrqLine | undefined {
    return this.irqs.get(line)?.line;
  }

  /** Routes the line to n (atomically: the mask and pending count stay with the line). */
  bindIrq(line: IrqLine, n: Notification, bits: bigint, by: string): void {
    line.route = { notification: n, bits };
    this.events.emit({ kind: 'irqRouted', line: line.line, sandbox: by, bits: Number(bits), pending: line.pending });
    if (!line.masked && line.pending > 0) this.deliverIrq(line, line.ack());
  }

  ackIrq(line: IrqLine): void {
    this.deliverIrq(line, line.ack());
  }

  /** A device raised the line. */
  raiseIrq(line: number): void {
    const l = this.irqs.get(line)?.line ?? (this.irqRoot(line), this.irqs.get(line)!.line);
    this.deliverIrq(l, l.raise());
  }

  private deliverIrq(_line: IrqLine, route: IrqLine['route']): void {
    if (route) notify(this, route.notification, route.bits);
  }
}
