// A snapshot of a graph of JavaScript objects, restored in place: the objects keep their
// identity (every closure, timer and reference that points at them still does), only their
// contents go back. Reflection sees own properties, array elements, Map and Set entries and the
// bytes behind typed arrays — not variables captured by closures, so state a checkpoint must see
// lives in objects (see system/traffic.ts), and tests/debug-checkpoint.test.ts checks whole
// images replay bit for bit from restored checkpoints.
//
// Large buffers (physical memory) are kept as 4 KiB pages shared with the previous snapshot of
// the same buffer wherever they did not change, so a checkpoint costs the pages written since
// the last one, not the machine's whole memory.

const PAGE = 4096;
/** Buffers at least this large are kept page by page. */
const PAGED = 64 * 1024;
const ZERO_PAGE = new Uint8Array(PAGE);

/** Objects whose contents are not state reflection can save. */
const NOT_STATE: readonly (abstract new (...a: never[]) => unknown)[] = [Promise, Date, RegExp, WeakMap, WeakSet];

/** Chunks of a large buffer compared in one call before looking at their pages. */
const CHUNK = 256 * 1024;

/** For each large buffer: a copy of it as the snapshot `of` had it. */
const mirrors = new WeakMap<ArrayBufferLike, { bytes: Uint8Array; of: HeapSnapshot | undefined }>();

function mirrorOf(buffer: ArrayBufferLike, previous: HeapSnapshot | undefined, pages: Uint8Array[] | undefined): { bytes: Uint8Array; of: HeapSnapshot | undefined } {
  let m = mirrors.get(buffer);
  if (!m) {
    m = { bytes: new Uint8Array(buffer.byteLength), of: undefined };
    mirrors.set(buffer, m);
  }
  // The mirror follows the latest snapshot taken or restored; another previous one needs a rebuild.
  if (pages && m.of !== previous) pages.forEach((p, i) => m!.bytes.set(p, i * PAGE));
  return m;
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Entry =
  | { readonly kind: 'object'; readonly keys: string[]; readonly values: unknown[] }
  | { readonly kind: 'array'; readonly items: unknown[] }
  | { readonly kind: 'map'; readonly entries: [unknown, unknown][] }
  | { readonly kind: 'set'; readonly values: unknown[] };

interface SavedBuffer {
  readonly buffer: ArrayBufferLike;
  /** Small buffers: a copy. Large: one array per page (shared with earlier snapshots when equal). */
  readonly copy?: Uint8Array;
  readonly pages?: Uint8Array[];
}

export interface SnapshotOptions {
  /** Objects not to save or descend into (the debugger's own state, code, immutable inputs). */
  readonly skip: (o: object) => boolean;
  /** The previous snapshot, whose unchanged pages this one shares. */
  readonly previous?: HeapSnapshot;
}

export class HeapSnapshot {
  /** Each object's saved contents; an object unchanged since the previous snapshot shares its entry. */
  private readonly entries = new Map<object, Entry>();
  /** Entries this snapshot made (not shared), and about how many bytes they hold. */
  ownEntries = 0;
  ownEntryBytes = 0;
  private readonly buffers = new Map<ArrayBufferLike, SavedBuffer>();
  /** Bytes of page copies this snapshot made itself (not shared). */
  ownBytes = 0;
  objects = 0;

  private constructor() {}

  static take(roots: readonly unknown[], options: SnapshotOptions): HeapSnapshot {
    const snap = new HeapSnapshot();
    const seen = new Set<object>();
    const stack: unknown[] = [...roots];
    const visit = (v: unknown) => {
      if (v !== null && typeof v === 'object' && !seen.has(v)) stack.push(v);
    };
    while (stack.length > 0) {
      const v = stack.pop();
      if (v === null || typeof v !== 'object' || seen.has(v)) continue;
      seen.add(v);
      if (options.skip(v) || NOT_STATE.some((c) => v instanceof c) || Object.isFrozen(v)) continue;
      if (ArrayBuffer.isView(v)) {
        snap.saveBuffer(v.buffer, options.previous);
        continue;
      }
      if (v instanceof ArrayBuffer) {
        snap.saveBuffer(v, options.previous);
        continue;
      }
      snap.objects++;
      const before = options.previous?.entries.get(v);
      const entry = HeapSnapshot.entryOf(v, before);
      if (entry !== before) {
        snap.ownEntries++;
        // A rough size of the entry: its arrays, and a slot per value.
        snap.ownEntryBytes += 64 + 16 * (entry.kind === 'object' ? 2 * entry.keys.length : entry.kind === 'map' ? 3 * entry.entries.length : entry.kind === 'array' ? entry.items.length : entry.values.length);
      }
      snap.entries.set(v, entry);
      switch (entry.kind) {
        case 'array':
          entry.items.forEach(visit);
          break;
        case 'map':
          for (const [k, x] of entry.entries) {
            visit(k);
            visit(x);
          }
          break;
        case 'set':
        case 'object':
          entry.values.forEach(visit);
          break;
      }
    }
    return snap;
  }

  /** The object's contents now: `before` itself when nothing changed since it was made. */
  private static entryOf(v: object, before: Entry | undefined): Entry {
    if (Array.isArray(v)) {
      if (before?.kind === 'array' && sameList(before.items, v)) return before;
      return { kind: 'array', items: v.slice() };
    }
    if (v instanceof Map) {
      if (before?.kind === 'map' && before.entries.length === v.size) {
        let i = 0;
        let same = true;
        for (const [k, x] of v) {
          const e = before.entries[i++]!;
          if (e[0] !== k || e[1] !== x) {
            same = false;
            break;
          }
        }
        if (same) return before;
      }
      return { kind: 'map', entries: [...v.entries()] };
    }
    if (v instanceof Set) {
      if (before?.kind === 'set' && before.values.length === v.size) {
        let i = 0;
        let same = true;
        for (const x of v) if (before.values[i++] !== x) (same = false);
        if (same) return before;
      }
      return { kind: 'set', values: [...v] };
    }
    const o = v as Record<string, unknown>;
    if (before?.kind === 'object') {
      // The common case, checked without allocating: the same keys in the same order, same values.
      let i = 0;
      let same = true;
      for (const k in o) {
        if (!Object.hasOwn(o, k)) continue;
        if (before.keys[i] !== k || before.values[i] !== o[k]) {
          same = false;
          break;
        }
        i++;
      }
      if (same && i === before.keys.length) return before;
    }
    const keys = Object.keys(o);
    return { kind: 'object', keys, values: keys.map((k) => o[k]) };
  }

  private saveBuffer(buffer: ArrayBufferLike, previous: HeapSnapshot | undefined): void {
    if (this.buffers.has(buffer)) return;
    const bytes = new Uint8Array(buffer);
    if (bytes.length < PAGED) {
      const old = previous?.buffers.get(buffer)?.copy;
      if (old && Buffer.compare(old, bytes) === 0) this.buffers.set(buffer, { buffer, copy: old });
      else {
        this.buffers.set(buffer, { buffer, copy: bytes.slice() });
        this.ownBytes += bytes.length;
      }
      return;
    }
    const before = previous?.buffers.get(buffer)?.pages;
    // A full copy of the buffer as the previous snapshot had it lets whole chunks be compared in
    // one call; only a chunk that differs is looked at page by page (most of memory is quiet).
    const mirror = mirrorOf(buffer, previous, before);
    const pages: Uint8Array[] = [];
    for (let chunk = 0; chunk < bytes.length; chunk += CHUNK) {
      const end = Math.min(chunk + CHUNK, bytes.length);
      if (before && Buffer.compare(bytes.subarray(chunk, end), mirror.bytes.subarray(chunk, end)) === 0) {
        for (let at = chunk; at < end; at += PAGE) pages.push(before[at / PAGE]!);
        continue;
      }
      for (let at = chunk; at < end; at += PAGE) {
        const page = bytes.subarray(at, Math.min(at + PAGE, bytes.length));
        const old = before?.[at / PAGE];
        if (old && Buffer.compare(old, page) === 0) pages.push(old);
        else if (page.length === PAGE && Buffer.compare(ZERO_PAGE, page) === 0) pages.push(ZERO_PAGE);
        else {
          pages.push(page.slice());
          this.ownBytes += page.length;
        }
      }
      mirror.bytes.set(bytes.subarray(chunk, end), chunk);
    }
    mirror.of = this;
    this.buffers.set(buffer, { buffer, pages });
  }

  /** Puts every saved object's contents back. */
  restore(): void {
    for (const b of this.buffers.values()) {
      const bytes = new Uint8Array(b.buffer);
      if (b.copy) bytes.set(b.copy);
      else {
        b.pages!.forEach((page, i) => bytes.set(page, i * PAGE));
        const mirror = mirrors.get(b.buffer);
        if (mirror) {
          mirror.bytes.set(bytes);
          mirror.of = this;
        }
      }
    }
    for (const [o, e] of this.entries) {
      switch (e.kind) {
        case 'array': {
          const a = o as unknown[];
          a.length = e.items.length;
          for (let i = 0; i < e.items.length; i++) a[i] = e.items[i];
          break;
        }
        case 'map': {
          const m = o as Map<unknown, unknown>;
          m.clear();
          for (const [k, v] of e.entries) m.set(k, v);
          break;
        }
        case 'set': {
          const st = o as Set<unknown>;
          st.clear();
          for (const v of e.values) st.add(v);
          break;
        }
        case 'object': {
          const r = o as Record<string, unknown>;
          const keep = new Set(e.keys);
          for (const k of Object.keys(r)) if (!keep.has(k)) delete r[k]; // added since
          for (let i = 0; i < e.keys.length; i++) {
            const k = e.keys[i]!;
            if (r[k] === e.values[i]) continue;
            const d = Object.getOwnPropertyDescriptor(r, k);
            if (d && 'value' in d && d.writable) r[k] = e.values[i]; // accessors and constants stay as they are
          }
          break;
        }
      }
    }
  }
}
