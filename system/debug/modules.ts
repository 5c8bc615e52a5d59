// The debugger's table of loaded modules: every service image and shared library the kernel has
// loaded (its moduleLoaded and libraryLoaded events), where, and its symbols and call-frame
// information when the workspace has the object it was built from. It turns addresses into
// `netstack+0x4020 <tcp_input+0>` and `netstack:tcp_input` into addresses.

import type { StampedEvent } from '../../core0/events.ts';
import type { Frames } from '../../emulator/types.ts';
import { fdeAt, readFrames, type Fde } from './dwarf-frame.ts';
import { matchesLoadedText, moduleDebugInfo, symbolAt, symbolsNamed, type ModuleDebugInfo, type ModuleSymbol } from './symbols.ts';

const PAGE = 4096;

export interface LoadedModule {
  readonly module: string;
  readonly version: string;
  readonly base: number;
  readonly pages: number;
  /** The sandbox running it; undefined for a shared library. */
  readonly sandbox: string | undefined;
  /** Symbols and DWARF; undefined when the workspace has no matching object. */
  readonly info: ModuleDebugInfo | undefined;
  /** Why `info` is missing, if it is. */
  readonly note?: string;
}

export interface Located {
  readonly module: LoadedModule;
  readonly offset: number;
  readonly symbol?: ModuleSymbol;
  readonly delta?: number;
}

const hex = (n: number) => '0x' + n.toString(16);

export class ModuleTable {
  private readonly loaded: LoadedModule[] = [];
  private readonly frames = new Map<LoadedModule, Fde[]>();

  constructor(
    private readonly repoRoot: string,
    private readonly memory: Frames,
  ) {}

  get all(): readonly LoadedModule[] {
    return this.loaded;
  }

  /** Takes note of a load; returns the module when the event loaded one. */
  onEvent(e: StampedEvent): LoadedModule | undefined {
    if (e.kind !== 'moduleLoaded' && e.kind !== 'libraryLoaded') return undefined;
    const sandbox = e.kind === 'moduleLoaded' ? e.sandbox : undefined;
    let info: ModuleDebugInfo | undefined;
    let note: string | undefined;
    try {
      info = moduleDebugInfo(this.repoRoot, e.module, e.version);
      if (!info) note = 'no object for this module in the workspace (build/services)';
      else if (!matchesLoadedText(info, this.memory.view(e.base + info.text.offset, info.text.bytes.length))) {
        info = undefined;
        note = 'the workspace object differs from the loaded module (rebuilt since?): symbols not used';
      }
    } catch (err) {
      note = `symbols unreadable: ${(err as Error).message}`;
      info = undefined;
    }
    // A sandbox name can be reused after its first sandbox ended: the newer load wins lookups.
    const m: LoadedModule = { module: e.module, version: e.version, base: e.base, pages: e.pages, sandbox, info, ...(note ? { note } : {}) };
    this.loaded.push(m);
    return m;
  }

  /** The module holding `address`, latest load first. */
  moduleAt(address: number): LoadedModule | undefined {
    for (let i = this.loaded.length - 1; i >= 0; i--) {
      const m = this.loaded[i]!;
      if (address >= m.base && address < m.base + m.pages * PAGE) return m;
    }
    return undefined;
  }

  locate(address: number): Located | undefined {
    const m = this.moduleAt(address);
    if (!m) return undefined;
    const offset = address - m.base;
    const s = m.info ? symbolAt(m.info, offset) : undefined;
    return s ? { module: m, offset, symbol: s.symbol, delta: s.delta } : { module: m, offset };
  }

  /** `0x101234 <netstack:tcp_input+12>`, or the bare address outside every module. */
  describe(address: number): string {
    const l = this.locate(address);
    if (!l) return hex(address);
    const who = l.module.sandbox ?? l.module.module;
    return l.symbol ? `${hex(address)} <${who}:${l.symbol.name}${l.delta ? '+' + l.delta : ''}>` : `${hex(address)} <${who}+${hex(l.offset)}>`;
  }

  /** Just the symbol part: `tcp_input+12`, or undefined. */
  symbolName(address: number): string | undefined {
    const l = this.locate(address);
    return l?.symbol ? `${l.symbol.name}${l.delta ? '+' + l.delta : ''}` : undefined;
  }

  /**
   * Addresses a location names: `0x…` or a decimal number; `symbol` in every module that has it;
   * `who:symbol[+offset]` where `who` is a sandbox (the module it runs and its libraries), a
   * module name (every instance), or `module@version`.
   */
  resolve(spec: string): { address: number; module: LoadedModule | undefined }[] | string {
    const s = spec.trim();
    if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) {
      const address = Number(s);
      return [{ address, module: this.moduleAt(address) }];
    }
    const m = /^(?:([A-Za-z0-9_.@-]+):)?([A-Za-z_.$][\w.$]*)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(s);
    if (!m) return `cannot read location '${spec}': expected an address, symbol, or who:symbol[+offset]`;
    const [, who, name, plus] = m;
    const extra = plus ? Number(plus) : 0;
    const candidates = who === undefined ? this.latest() : this.modulesOf(who);
    if (candidates.length === 0) return `no sandbox or module named '${who}' is loaded`;
    const out: { address: number; module: LoadedModule }[] = [];
    for (const lm of candidates) {
      if (!lm.info) continue;
      const sym = symbolsNamed(lm.info, name!)[0];
      if (sym) out.push({ address: lm.base + sym.offset + extra, module: lm });
    }
    if (out.length === 0) {
      const missing = candidates.filter((c) => !c.info).map((c) => `${c.module} ${c.version}: ${c.note}`);
      return `no symbol '${name}' in ${candidates.map((c) => c.sandbox ?? c.module).join(', ')}${missing.length ? ` (${missing.join('; ')})` : ''}`;
    }
    return out;
  }

  /** Loads still current: one per sandbox name (its latest) and every library. */
  private latest(): LoadedModule[] {
    const seen = new Set<string>();
    const out: LoadedModule[] = [];
    for (let i = this.loaded.length - 1; i >= 0; i--) {
      const m = this.loaded[i]!;
      const key = m.sandbox ?? `lib:${m.module}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.unshift(m);
    }
    return out;
  }

  /** The current loads `who` names: a sandbox (its module and libraries), a module, or module@version. */
  modulesOf(who: string): LoadedModule[] {
    const current = this.latest();
    const bySandbox = current.filter((m) => m.sandbox === who);
    if (bySandbox.length > 0) return [...bySandbox, ...current.filter((m) => m.sandbox === undefined)];
    const [name, version] = who.split('@');
    return current.filter((m) => m.module === name && (version === undefined || m.version === version));
  }

  /** The call-frame table of the module holding `address`, and the address as its image offset. */
  frameInfo(address: number): { fde: Fde; offset: number; module: LoadedModule } | undefined {
    const m = this.moduleAt(address);
    if (!m?.info) return undefined;
    let fdes = this.frames.get(m);
    if (!fdes) {
      fdes = readFrames(m.info.elf, m.info.placed);
      this.frames.set(m, fdes);
    }
    const offset = address - m.base;
    const fde = fdeAt(fdes, offset);
    return fde ? { fde, offset, module: m } : undefined;
  }
}
