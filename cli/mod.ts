// `hicmod …` (also `hic mod …`): build, sign, verify and inspect .hicmod modules, and make the
// test PKI that signs them. Each command is a thin layer over hicmod-toolchain/ and core0/module/.

import { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SERVICE_ENTRY } from '../core0/abi/abi.ts';
import type { FieldHead } from '../core0/module/config-records.ts';
import { decodeContainer, decodeModule, type DecodedModule } from '../core0/module/format.ts';
import { describeWord } from '../core0/module/values.ts';
import { decodeSignatureBlock } from '../core0/module/signature.ts';
import { verifyModule, type Installed } from '../core0/module/verify.ts';
import { Disassembler } from '../emulator/disasm.ts';
import { buildModule, moduleFileName } from '../hicmod-toolchain/hicmod/module-build.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity, initPki, rootCertificate } from '../hicmod-toolchain/pki/pki.ts';
import { isUserError, runCommand } from './errors.ts';

const out = (s: string) => process.stdout.write(s + '\n');
/** A module file is a few MiB at most; what is larger, or not a regular file, is refused before it is read. */
const MODULE_FILE_MAX = 64 * 1024 * 1024;

class ModuleFileError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function read(file: string): Uint8Array {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new ModuleFileError(code, `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code})`}`);
  }
  if (!st.isFile()) throw new ModuleFileError('NOT_A_FILE', `${file}: ${st.isDirectory() ? 'a directory' : 'not a regular file'}, not a module`);
  if (st.size > MODULE_FILE_MAX) throw new ModuleFileError('TOO_LARGE', `${file}: ${st.size} bytes; a module file is at most ${MODULE_FILE_MAX}`);
  return new Uint8Array(readFileSync(file));
}

/** Runs a command on one file; a refusal names the file it concerns. */
function onFile(file: string, fn: () => Promise<number | void> | number | void): () => Promise<number | void> {
  return async () => {
    try {
      return await fn();
    } catch (e) {
      if (!isUserError(e) || e.message.startsWith(`${file}: `)) throw e;
      throw new ModuleFileError(e.code, `${file}: ${e.message}`);
    }
  };
}

function parseTime(s: string | undefined): number {
  if (s === undefined) return Date.now(); // signing happens outside the system: the host clock is right here
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw Object.assign(new Error(`--time: "${s}" is not a date (ISO 8601, e.g. 2026-11-27T12:00:00Z)`), { code: 'HICMOD_BAD_OPTION' });
  return t;
}

function parseInstalled(s: string | undefined): Installed | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+\.\d+\.\d+[^@]*)@(.+)$/.exec(s);
  if (!m || Number.isNaN(Date.parse(m[2]!))) throw Object.assign(new Error(`--installed: expected VERSION@SIGNED-TIME, e.g. 1.2.0@2026-11-01T00:00:00Z, got "${s}"`), { code: 'HICMOD_BAD_OPTION' });
  return { version: m[1]!, timestamp: Date.parse(m[2]!) };
}

const hex = (n: number) => '0x' + n.toString(16).padStart(5, '0');
const subject = (der: Uint8Array) => new X509Certificate(der).subject.replace(/\n/g, ', ');

async function inspect(file: string, opts: { disassemble?: string[]; all?: boolean }): Promise<void> {
  const bytes = read(file);
  const m: DecodedModule = decodeModule(bytes);
  const meta = m.meta;
  out(`${file}: ${meta.kind} ${meta.name} ${meta.version}  (${bytes.length} bytes, ${m.pages} pages loaded)`);
  out(`  uuid          ${meta.uuid}`);
  out(`  depends on    ${meta.dependencies.map((d) => `${d.name} ${d.range}`).join(', ') || '—'}`);
  out(`  protocols     ${meta.protocols.join(', ') || '—'}   state schema ${meta.stateSchema}`);
  out(`  asks for      ${meta.memory} bytes of memory, ${meta.cpuPermille}‰ CPU; capabilities ${meta.capabilities.join(', ') || '—'}`);
  const field = (f: FieldHead & { audits?: true }) => `${f.name}: ${f.type}${f.values.length ? ` (${f.values.join(' | ')})` : ''}${f.audits ? ' (audits)' : ''}`;
  out(`  config        ${meta.config.map((f) => `${field(f)} = ${describeWord(f, f.default)}`).join('; ') || '—'}`);
  meta.records.forEach((r, i) => out(`  record ${String(i + 1).padEnd(6)} ${r.name} { ${r.fields.map(field).join(', ')} }`));
  if (meta.build) out(`  built with    ${meta.build.join('; ')}`);
  out('  segments');
  for (const s of m.segments) {
    out(`    ${s.kind.padEnd(6)} ${hex(s.offset)}–${hex(s.offset + s.memSize)}  ${s.writable ? 'rw-' : s.executable ? 'r-x' : 'r--'}  ${s.fileSize} bytes from file`);
  }
  const byKind = (k: string) => m.relocations.filter((r) => r.kind === k).length;
  out(`  relocations   ${m.relocations.length} (${byKind('image')} within the image, ${byKind('import')} to imports)`);
  for (const r of m.relocations.slice(0, opts.all ? undefined : 8)) {
    out(`    at ${hex(r.site)}  ${r.kind === 'image' ? `base + ${hex(r.addend)}` : `&${m.imports[r.index]!.module}.${m.imports[r.index]!.symbol}`}`);
  }
  if (!opts.all && m.relocations.length > 8) out(`    … ${m.relocations.length - 8} more (--all)`);
  out(`  imports       ${m.imports.map((i) => `${i.module}.${i.symbol}`).join(', ') || '—'}`);
  out('  exports');
  for (const e of m.exports) out(`    ${e.name.padEnd(24)} ${e.kind.padEnd(8)} ${hex(e.offset)}  ${e.size} bytes`);

  const { signature } = decodeContainer(bytes);
  if (signature.length === 0) out('  signature     none (unsigned)');
  else {
    const sig = decodeSignatureBlock(signature);
    out(`  signature     RSA-3072/SHA-384 over sha384 ${Buffer.from(sig.hash).toString('hex').slice(0, 32)}…`);
    sig.chain.forEach((c, i) => out(`    ${i === 0 ? 'signer      ' : 'issued by   '} ${subject(c)}`));
    out(`    timestamp    ${new Date(sig.timestamp.time).toISOString()} by ${subject(sig.timestamp.chain[0]!)}`);
    out('    (inspect does not verify: use `hicmod verify`)');
  }

  // A service's entry function is named by its _service_entry table: a relocation at table + 8.
  const functions = m.exports.filter((e) => e.kind === 'function').map((e) => ({ name: e.name, offset: e.offset, size: e.size }));
  const table = m.exports.find((e) => e.name === SERVICE_ENTRY.symbol);
  const startReloc = table && m.relocations.find((r) => r.kind === 'image' && r.site === table.offset + 8);
  if (startReloc) functions.unshift({ name: 'entry', offset: startReloc.addend, size: 0 });
  const wanted = opts.disassemble ?? functions.map((f) => f.name);
  if (wanted.length === 0) return;
  const d = await Disassembler.load();
  for (const name of wanted) {
    const e = functions.find((x) => x.name === name);
    if (!e) throw Object.assign(new Error(`${file}: no exported function "${name}" (functions: ${functions.map((x) => x.name).join(', ') || 'none'})`), { code: 'HICMOD_NO_EXPORT' });
    const seg = m.segments.find((s) => e.offset >= s.offset && e.offset < s.offset + s.memSize)!;
    const at = seg.fileOffset + (e.offset - seg.offset);
    const code = m.image.subarray(at, seg.fileOffset + seg.fileSize).subarray(0, e.size || 256);
    out(`\n  ${name} at ${hex(e.offset)}${e.size ? ` (${e.size} bytes)` : ' (first instructions)'} — addresses are image offsets; relocated operands show 0 until loaded`);
    const list = d.disassemble(code, e.offset);
    const shown = e.size ? list : list.slice(0, list.findIndex((i) => i.text.startsWith('ret') || i.text.startsWith('jmp')) + 1 || 24);
    for (const i of shown) {
      const reloc = m.relocations.find((r) => r.site >= i.address && r.site < i.address + i.size);
      const note = reloc ? `   ; ← ${reloc.kind === 'image' ? `base + ${hex(reloc.addend)}` : `${m.imports[reloc.index]!.module}.${m.imports[reloc.index]!.symbol}`}` : '';
      out(`    ${hex(i.address)}  ${Buffer.from(i.bytes).toString('hex').padEnd(22)} ${i.text}${note}`);
    }
  }
}

/** Adds the module commands to `program` (the `hicmod` binary's root, or `hic mod`). */
export function registerModCommands(program: Command, repoRoot: string): void {
  program
    .command('build')
    .description('build services/<service> into an unsigned .hicmod (reproducible: same sources, same bytes)')
    .argument('<service>', 'a directory under services/ with a module.json')
    .option('-o, --output <file>', 'where to write it (default build/modules/<name>-<version>.unsigned.hicmod)')
    .action((service: string, opts: { output?: string }) =>
      runCommand(() => {
        const m = buildModule(repoRoot, service);
        const file = opts.output ?? join(repoRoot, 'build', 'modules', moduleFileName(m.content.meta.name, m.content.meta.version).replace(/\.hicmod$/, '.unsigned.hicmod'));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, m.unsigned);
        out(`${file}: ${m.content.meta.name} ${m.content.meta.version}, ${m.unsigned.length} bytes, unsigned`);
      }),
    );

  const pki = program.command('pki').description('the module-signing test PKI');
  pki
    .command('init')
    .alias('keygen')
    .description('create a root, intermediate, module signer, timestamp authority and repository role keys (RSA-3072) in <dir>')
    .argument('<dir>')
    .option('--organization <name>', 'organization in the certificate names', 'HIC Test PKI')
    .action((dir: string, opts: { organization: string }) =>
      runCommand(() => {
        initPki(dir, { organization: opts.organization });
        out(`${dir}: test PKI created (root, intermediate, signer, timestamp, repo-targets, repo-snapshot, repo-timestamp); trust ${join(dir, 'root.cert.pem')}`);
      }),
    );
  program
    .command('keygen')
    .description('same as `pki init`')
    .argument('<dir>')
    .action((dir: string) => runCommand(() => initPki(dir)));

  program
    .command('sign')
    .description('sign a module: RSA-3072/SHA-384 over its hash, the signer chain, and a signed timestamp')
    .argument('<file>', 'an unsigned (or signed: it is re-signed) .hicmod')
    .requiredOption('--pki <dir>', 'the PKI holding the signer and timestamp keys')
    .option('-o, --output <file>', 'where to write the signed module (default: <file> without .unsigned)')
    .option('--time <iso>', 'signing time (default: now)')
    .action((file: string, opts: { pki: string; output?: string; time?: string }) =>
      runCommand(onFile(file, () => {
        const m = decodeModule(read(file));
        const signed = signModule(m, { signer: identity(opts.pki, 'signer'), timestamp: identity(opts.pki, 'timestamp') }, parseTime(opts.time));
        const target = opts.output ?? file.replace(/\.unsigned\.hicmod$/, '.hicmod');
        writeFileSync(target, signed);
        out(`${target}: ${m.meta.name} ${m.meta.version} signed (${signed.length} bytes)`);
      })),
    );

  program
    .command('verify')
    .description('verify hash, signature, chain to the trusted root, validity at the signed time, and anti-replay')
    .argument('<file>')
    .requiredOption('--pki <dir>', 'trust the root certificate of this PKI')
    .option('--installed <version@time>', 'what is installed under this name now, for the anti-replay check')
    .option('--allow-downgrade', 'accept a version older than --installed (a rollback)')
    .action((file: string, opts: { pki: string; installed?: string; allowDowngrade?: boolean }) =>
      runCommand(onFile(file, () => {
        const installed = parseInstalled(opts.installed);
        const v = verifyModule(read(file), { roots: [rootCertificate(opts.pki)] }, { installed: installed && (() => installed), allowDowngrade: opts.allowDowngrade });
        out(`${file}: OK — ${v.meta.kind} ${v.meta.name} ${v.meta.version}, sha384 ${v.hash.slice(0, 32)}…`);
        out(`  signed by ${v.signer.subject} at ${new Date(v.timestamp).toISOString()}${v.downgrade ? ' — DOWNGRADE (allowed)' : ''}`);
      })),
    );

  program
    .command('inspect')
    .description('show metadata, segments, relocations, imports/exports, the signature, and disassembly of exported functions')
    .argument('<file>')
    .option('-d, --disassemble <export...>', 'disassemble these exports (default: every exported function)')
    .option('--all', 'list every relocation')
    .action((file: string, opts: { disassemble?: string[]; all?: boolean }) => runCommand(onFile(file, () => inspect(file, opts))));
}
