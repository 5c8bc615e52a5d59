// The gdb remote stub: `hic debug IMAGE --gdb :PORT` serves gdb's remote serial protocol on
// 127.0.0.1, one client at a time, over the same session the REPL drives; `hic boot --gdb` over
// a forward-only session whose machine runs on between clients (attach.ts: a client that
// connects stops it first). What gdb sees:
//
//   threads        every live HIC thread, named sandbox/id (qfThreadInfo, qXfer:threads)
//   libraries      every loaded module as the object it was built from (build/services/*.o),
//                  each allocated section at its load address (qXfer:libraries), so gdb has the
//                  symbols, lines and call-frame information without being told anything
//   registers      x86-64 core, SSE (unavailable: guests use none) and fs/gs base (target.xml)
//   breakpoints    Z0/Z1 as code hooks (no guest page is written), Z2/Z3/Z4 as watchpoints
//   run control    c, s, vCont, and bs/bc: reverse-stepi and reverse-continue by replay (not
//                  offered when the session only goes forwards)
//   monitor        the REPL's inspection commands (caps, endpoints, migration, …)

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Thread } from '../../../core0/objects/thread.ts';
import type { DebugRegister } from '../../../emulator/types.ts';
import { execute } from '../commands.ts';
import type { Stop } from '../machine.ts';
import type { DebugSession } from '../session.ts';
import { frame, fromHex, fromLeHex, leHex, PacketReader, textToHex, toHex, xferChunk } from './rsp.ts';
import { librariesXml, REGISTERS, targetXml, threadsXml } from './target.ts';

/** How a client's coming and going concerns whoever else runs the machine (attach.ts). */
export interface StubOptions {
  /** A client connected: resolves when the machine stands still for it; its packets wait until then. */
  readonly attach?: () => Promise<void>;
  /** The client went away (its breakpoints are deleted first). */
  readonly detach?: () => void;
}

export interface GdbStub {
  readonly port: number;
  /** Resolves when a client that connected has gone. */
  readonly clientDone: Promise<void>;
  close(): Promise<void>;
}

/** Commands the monitor may run: inspection only (gdb would not know the machine had moved). */
const RUN_CONTROL = /^(c|continue|cont|stepi|si|step-syscall|ss|step-event|se|until|u|reverse-[a-z-]+|rsi|rc|rse|restart|quit|q|exit|set)\b/;

export async function startGdbStub(session: DebugSession, port: number, options: StubOptions = {}): Promise<GdbStub> {
  let done!: () => void;
  const clientDone = new Promise<void>((r) => (done = r));
  let client: Socket | undefined;
  const server: Server = createServer((socket) => {
    if (client) {
      socket.end();
      return;
    }
    client = socket;
    const conn = new Connection(session, socket, options.attach?.() ?? Promise.resolve());
    socket.on('close', () => {
      conn.closed = true;
      conn.forgetBreakpoints();
      client = undefined;
      options.detach?.();
      done();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    clientDone,
    close: () =>
      new Promise<void>((resolve) => {
        client?.destroy();
        server.close(() => resolve());
      }),
  };
}

/** build/debug/machine.elf: an ELF header for x86-64 with nothing in it; its path. */
function placeholderExecutable(repoRoot: string): string {
  const path = join(repoRoot, 'build', 'debug', 'machine.elf');
  if (!existsSync(path)) {
    const h = Buffer.alloc(64);
    h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELF, 64-bit, little-endian, version 1
    h.writeUInt16LE(2, 16); // ET_EXEC
    h.writeUInt16LE(62, 18); // EM_X86_64
    h.writeUInt32LE(1, 20);
    h.writeUInt16LE(64, 52); // e_ehsize
    h.writeUInt16LE(56, 54); // e_phentsize
    h.writeUInt16LE(64, 58); // e_shentsize
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, h);
  }
  return path;
}

class Connection {
  closed = false;
  private readonly reader: PacketReader;
  private gThread: number | undefined; // Hg: registers and memory
  private cThread: number | undefined; // Hc: stepping
  private running = false;
  private readonly gdbBreakpoints = new Map<string, number>();
  private librariesSeen = 0;
  private lastReply = 'S05';

  constructor(
    private readonly session: DebugSession,
    private readonly socket: Socket,
    /** Resolves when the machine stands still for this client; packets are answered after it. */
    private readonly ready: Promise<void>,
  ) {
    this.reader = new PacketReader((c) => socket.write(c));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      for (const item of this.reader.push(chunk)) {
        if (item.kind === 'interrupt') {
          if (this.running) session.interrupt();
          continue;
        }
        const data = item.data;
        void this.ready.then(() => this.handle(data)).catch((e: unknown) => this.send(`E.${(e as Error).message}`));
      }
    });
    socket.on('error', () => undefined);
  }

  /** The client has gone: the breakpoints it set go too, so the machine runs on past them. */
  forgetBreakpoints(): void {
    for (const id of this.gdbBreakpoints.values()) this.session.breakpoints.delete(id);
    this.gdbBreakpoints.clear();
  }

  private send(data: string): void {
    if (!this.closed) this.socket.write(frame(data));
  }

  private thread(id: number | undefined): Thread | undefined {
    const live = this.liveThreads();
    return (id !== undefined && id > 0 ? live.find((t) => t.id === id) : undefined) ?? (this.session.currentThread()?.state !== 'dead' ? this.session.currentThread() : undefined) ?? live[0];
  }

  private liveThreads(): Thread[] {
    return this.session.finished ? [] : this.session.kernel.threads.filter((t) => t.state !== 'dead' && t.sandbox.state === 'live');
  }

  private async handle(p: string): Promise<void> {
    const reply = await this.answer(p);
    if (reply !== undefined) this.send(reply);
  }

  private async answer(p: string): Promise<string | undefined> {
    const s = this.session;
    if (p.startsWith('qSupported')) {
      const reverse = s.forwardOnly === undefined ? ';ReverseStep+;ReverseContinue+' : '';
      return `PacketSize=4000;QStartNoAckMode+;qXfer:features:read+;qXfer:libraries:read+;qXfer:threads:read+;qXfer:exec-file:read+;vContSupported+;swbreak+;hwbreak+${reverse}`;
    }
    if (p === 'QStartNoAckMode') {
      this.send('OK');
      this.reader.noAck = true;
      return undefined;
    }
    if (p.startsWith('qXfer:features:read:target.xml:')) return xferChunk(targetXml(), p.slice('qXfer:features:read:target.xml:'.length));
    if (p.startsWith('qXfer:libraries:read::')) {
      this.librariesSeen = s.machine.modules.all.length;
      return xferChunk(librariesXml(s.machine.modules.all), p.slice('qXfer:libraries:read::'.length));
    }
    // An executable for gdb to hold: an empty ELF header. Only with one does gdb read the
    // libraries' symbols as soon as it connects (its post-attach step skips them otherwise).
    if (p.startsWith('qXfer:exec-file:read:')) return xferChunk(placeholderExecutable(s.config.repoRoot), p.slice('qXfer:exec-file:read:'.length).replace(/^[^:]*:/, ''));
    if (p.startsWith('qXfer:threads:read::')) return xferChunk(threadsXml(this.liveThreads()), p.slice('qXfer:threads:read::'.length));
    if (p === '?') {
      // Tell gdb about the loaded modules at once: without an executable it reads its library
      // list only when a stop reply says it changed.
      if (this.lastReply === 'S05') {
        const t = this.thread(undefined);
        this.lastReply = t ? `T05thread:${t.id.toString(16)};library:;` : 'S05';
      }
      return this.lastReply;
    }
    if (p === 'qfThreadInfo') {
      const ids = this.liveThreads().map((t) => t.id.toString(16));
      return ids.length ? 'm' + ids.join(',') : 'l';
    }
    if (p === 'qsThreadInfo') return 'l';
    if (p === 'qC') return `QC${(this.thread(undefined)?.id ?? 1).toString(16)}`;
    if (p === 'qAttached') return '1';
    if (p.startsWith('qThreadExtraInfo,')) {
      const t = this.thread(parseInt(p.slice(17), 16));
      return textToHex(t ? `${t.label} ${t.state}` : 'gone');
    }
    if (p.startsWith('H')) {
      const id = parseInt(p.slice(2), 16);
      if (p[1] === 'g') this.gThread = id > 0 ? id : undefined;
      else this.cThread = id > 0 ? id : undefined;
      return 'OK';
    }
    if (p.startsWith('T')) return this.liveThreads().some((t) => t.id === parseInt(p.slice(1), 16)) ? 'OK' : 'E01';
    if (p === 'g') return this.readRegisters();
    if (p.startsWith('p')) return this.readRegister(parseInt(p.slice(1), 16));
    if (p.startsWith('P')) return this.writeRegister(p.slice(1));
    if (p.startsWith('G')) return 'E01'; // gdb writes single registers (P) when G is refused
    if (p.startsWith('m')) return this.readMemory(p.slice(1));
    if (p.startsWith('M')) return this.writeMemory(p.slice(1));
    if (p.startsWith('Z') || p.startsWith('z')) return this.breakpoint(p);
    if (p === 'vCont?') return 'vCont;c;C;s;S';
    if (p.startsWith('vCont;')) return this.resume(p.slice(6));
    if (p === 'c' || p.startsWith('c')) return this.run(() => s.continue());
    if (p === 's' || p.startsWith('s')) return this.run(() => s.stepInstructions(1, this.thread(this.cThread ?? this.gThread)?.id));
    if (p === 'bs') return this.run(() => s.reverseStepInstructions(1, this.thread(this.cThread ?? this.gThread)?.id));
    if (p === 'bc') return this.run(() => s.reverseContinue());
    if (p.startsWith('qRcmd,')) return this.monitor(Buffer.from(p.slice(6), 'hex').toString('utf8'));
    if (p === 'k' || p === 'vKill;1' || p.startsWith('vKill') || p.startsWith('D')) {
      this.send('OK');
      this.socket.end();
      return undefined;
    }
    return ''; // not supported: gdb falls back or says so
  }

  private readRegisters(): string {
    const t = this.thread(this.gThread);
    if (!t) return 'E01';
    const regs = t.sandbox.cpu.debug.registers(t.handle);
    return REGISTERS.map((r) => (r.value ? leHex(regs[r.value], r.bits / 8) : 'xx'.repeat(r.bits / 8))).join('');
  }

  private readRegister(n: number): string {
    const t = this.thread(this.gThread);
    const r = REGISTERS[n];
    if (!t || !r) return 'E01';
    return r.value ? leHex(t.sandbox.cpu.debug.registers(t.handle)[r.value], r.bits / 8) : 'xx'.repeat(r.bits / 8);
  }

  private writeRegister(arg: string): string {
    const [n, hex] = arg.split('=');
    const t = this.thread(this.gThread);
    const r = REGISTERS[parseInt(n!, 16)];
    if (!t || !r?.value || !hex) return 'E01';
    t.sandbox.cpu.debug.setRegister(t.handle, r.value as DebugRegister, fromLeHex(hex));
    this.session.stateChanged();
    return 'OK';
  }

  /** Reads as the selected thread's sandbox maps the address: the readable prefix, or E14. */
  private readMemory(arg: string): string {
    const [a, l] = arg.split(',');
    const address = parseInt(a!, 16);
    const length = Math.min(parseInt(l!, 16), 0x1000);
    const t = this.thread(this.gThread);
    if (!t || !Number.isSafeInteger(address)) return 'E14';
    const space = t.sandbox.cpu.space;
    const first = space.view(address, length);
    if (first) return toHex(first);
    // Up to the end of the mapped page, if the read runs past it.
    const head = space.view(address, 4096 - (address % 4096));
    return head && head.length > 0 ? toHex(head.subarray(0, Math.min(length, head.length))) : 'E14';
  }

  private writeMemory(arg: string): string {
    const m = /^([0-9a-f]+),([0-9a-f]+):([0-9a-f]*)$/i.exec(arg);
    const t = this.thread(this.gThread);
    if (!m || !t) return 'E01';
    const address = parseInt(m[1]!, 16);
    const bytes = fromHex(m[3]!);
    const view = t.sandbox.cpu.space.view(address, bytes.length);
    if (!view) return 'E14';
    view.set(bytes);
    this.session.stateChanged();
    for (const sb of this.session.kernel.liveSandboxes) sb.cpu.debug.codeChanged(address & ~0xfff, (address + bytes.length + 0xfff) & ~0xfff);
    return 'OK';
  }

  private breakpoint(p: string): string {
    const [type, addr, kind] = p.slice(1).split(',');
    const key = `${type},${addr}`;
    const address = `0x${addr}`;
    if (p[0] === 'z') {
      const id = this.gdbBreakpoints.get(key);
      if (id !== undefined) this.session.breakpoints.delete(id);
      this.gdbBreakpoints.delete(key);
      return 'OK';
    }
    if (this.gdbBreakpoints.has(key)) return 'OK';
    const length = String(parseInt(kind ?? '1', 16) || 1);
    const command = type === '0' || type === '1' ? 'break' : type === '2' ? 'watch' : type === '3' ? 'rwatch' : type === '4' ? 'awatch' : undefined;
    if (!command) return '';
    const { breakpoint } = this.session.addBreakpoint(command, command === 'break' ? [address] : [address, length]);
    this.gdbBreakpoints.set(key, breakpoint.id);
    return 'OK';
  }

  private resume(actions: string): Promise<string | undefined> {
    const first = actions.split(';')[0]!;
    const [action, tid] = first.split(':');
    if (action === 's' || action === 'S') {
      const id = tid ? parseInt(tid, 16) : (this.cThread ?? this.gThread);
      return this.run(() => this.session.stepInstructions(1, this.thread(id)?.id));
    }
    return this.run(() => this.session.continue());
  }

  private async run(fn: () => Promise<Stop>): Promise<string> {
    this.running = true;
    let stop: Stop;
    try {
      stop = await fn();
    } catch (e) {
      this.running = false;
      return `E.${(e as Error).message}`;
    }
    this.running = false;
    this.lastReply = this.stopReply(stop);
    return this.lastReply;
  }

  private stopReply(stop: Stop): string {
    if (stop.reason === 'halt') return this.session.machine.result?.deviations.length ? 'W01' : 'W00';
    if (stop.position?.kind === 'start') return `T05replaylog:begin;`;
    const t = (stop.thread !== undefined ? this.liveThreads().find((x) => x.id === stop.thread) : undefined) ?? this.thread(undefined);
    this.gThread = this.cThread = undefined;
    const signal = stop.reason === 'interrupt' ? '02' : '05';
    let extra = '';
    const access = (stop.detail as { access?: { address: number } } | undefined)?.access;
    if (stop.reason === 'watchpoint' && access) {
      const b = this.session.breakpoints.get(stop.breakpoints[0]!);
      const kind = b?.spec.kind === 'watch' ? (b.spec.access === 'write' ? 'watch' : b.spec.access === 'read' ? 'rwatch' : 'awatch') : 'watch';
      extra = `${kind}:${access.address.toString(16)};`;
    } else if (stop.reason === 'breakpoint' && [...this.gdbBreakpoints.values()].some((id) => stop.breakpoints.includes(id))) extra = 'swbreak:;';
    if (this.session.machine.modules.all.length !== this.librariesSeen) extra += 'library:;';
    return `T${signal}${t ? `thread:${t.id.toString(16)};` : ''}${extra}`;
  }

  private async monitor(command: string): Promise<string> {
    if (RUN_CONTROL.test(command.trim())) return textToHex(`monitor runs inspection commands only; use gdb's own commands to run or step\n`);
    try {
      const r = await execute(this.session, command);
      this.send('O' + textToHex(r.text + '\n'));
      return 'OK';
    } catch (e) {
      return textToHex(`error: ${(e as Error).message}\n`);
    }
  }
}
