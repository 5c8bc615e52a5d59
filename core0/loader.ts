// The module loader's placement step: given a module image (segments, relocations, entry) and the
// real address it will live at, produce the relocated bytes and the mapping of each segment.
// Pure: no kernel state is touched, so a refusal leaves nothing behind by construction.
//
// Every relocation is checked before any is applied: its site must lie inside the image, and its
// target inside the image too — a module cannot be made to point into memory that is not its own.

import { createHash } from 'node:crypto';

export const PAGE = 4096;

export interface SegmentSpec {
  readonly name: 'text' | 'rodata' | 'data' | 'bss';
  /** Byte offset of the segment in the image; a multiple of the page size. */
  readonly offset: number;
  readonly pages: number;
  readonly writable: boolean;
  readonly executable: boolean;
}

/** At `site`, store the 64-bit absolute address of image offset `target` (R_X86_64_64). */
export interface Relocation {
  readonly site: number;
  readonly target: number;
}

export interface ModuleImage {
  readonly name: string;
  /** Total pages; segments tile [0, pages). */
  readonly pages: number;
  readonly segments: readonly SegmentSpec[];
  /** The image's initialised bytes (text, rodata, data); bss beyond is zero. */
  readonly bytes: Uint8Array;
  readonly relocations: readonly Relocation[];
  /** Image offset of the entry point. */
  readonly entry: number;
  /** SHA-256 of the module file the image came from. */
  readonly sha256: string;
}

export class LoadError extends Error {
  constructor(readonly code: 'RELOCATION_OUT_OF_IMAGE' | 'BAD_SEGMENTS' | 'BAD_ENTRY', message: string) {
    super(message);
  }
}

export interface PlacedSegment {
  readonly name: SegmentSpec['name'];
  readonly va: number;
  readonly pages: number;
  readonly writable: boolean;
  readonly executable: boolean;
}

export interface PlacedImage {
  readonly bytes: Uint8Array;
  readonly segments: readonly PlacedSegment[];
  readonly entry: number;
}

export function checkImage(m: ModuleImage): void {
  const size = m.pages * PAGE;
  let next = 0;
  for (const s of m.segments) {
    if (s.offset !== next || s.pages <= 0 || (s.writable && s.executable)) {
      throw new LoadError('BAD_SEGMENTS', `${m.name}: segment ${s.name} at ${s.offset} (+${s.pages} pages) breaks tiling or W^X`);
    }
    next += s.pages * PAGE;
  }
  if (next !== size || m.bytes.length > size) throw new LoadError('BAD_SEGMENTS', `${m.name}: segments cover ${next} of ${size} bytes`);
  const text = m.segments.find((s) => s.executable);
  if (!text || m.entry < text.offset || m.entry >= text.offset + text.pages * PAGE) {
    throw new LoadError('BAD_ENTRY', `${m.name}: entry 0x${m.entry.toString(16)} is not in an executable segment`);
  }
  for (const r of m.relocations) {
    // Both tests needed: site + 8 must not run past the initialised bytes either.
    if (!(r.site >= 0 && r.site + 8 <= m.bytes.length) || !(r.target >= 0 && r.target <= size)) {
      throw new LoadError('RELOCATION_OUT_OF_IMAGE', `${m.name}: relocation at 0x${r.site.toString(16)} → 0x${r.target.toString(16)} leaves the image of ${size} bytes`);
    }
  }
}

/** Relocates a checked image for `base` (page-aligned). */
export function layoutImage(m: ModuleImage, base: number): PlacedImage {
  checkImage(m);
  const bytes = new Uint8Array(m.pages * PAGE);
  bytes.set(m.bytes);
  const view = new DataView(bytes.buffer);
  for (const r of m.relocations) view.setBigUint64(r.site, BigInt(base + r.target), true);
  return {
    bytes,
    segments: m.segments.map((s) => ({ name: s.name, va: base + s.offset, pages: s.pages, writable: s.writable, executable: s.executable })),
    entry: base + m.entry,
  };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
