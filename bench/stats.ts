// Summaries of repeated measurements and the table's formatting. A figure is the median with min
// and max, never a mean: one slow run from a GC pause or a noisy neighbour should not move it.

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summarize: no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** ns → "312 ns" / "1.84 µs" / "2.10 ms". */
export function formatNs(ns: number): string {
  if (ns < 1000) return `${ns.toFixed(0)} ns`;
  return ns < 1e6 ? `${(ns / 1000).toFixed(2)} µs` : `${(ns / 1e6).toFixed(2)} ms`;
}

export function formatMips(mips: number): string {
  return `${mips.toFixed(0)} MIPS`;
}

export function formatRatio(r: number): string {
  return `${r < 10 ? r.toFixed(2) : r.toFixed(0)}x`;
}

export interface Row {
  readonly label: string;
  /** The kernel's median, its min–max, and the native median. */
  readonly hic: string;
  readonly range: string;
  readonly native: string;
  /** HIC cost / native cost: 1x is as fast as native. */
  readonly ratio: string;
  readonly note?: string;
}

const WIDTHS = [42, 10, 20, 10, 7] as const;

export function formatRow(r: Row): string {
  const [label, hic, range, native, ratio] = WIDTHS;
  const line = `${r.label.padEnd(label)}${r.hic.padStart(hic)}   ${r.range.padEnd(range)}${r.native.padStart(native)}  ${r.ratio.padStart(ratio)}`;
  return r.note ? `${line}   ${r.note}` : line;
}

export function tableHeader(): string {
  return formatRow({ label: 'benchmark', hic: 'HIC', range: 'HIC min – max', native: 'native', ratio: 'ratio', note: 'ratio = HIC time / native time' });
}
