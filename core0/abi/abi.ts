// The HIC system-call ABI: the one description from which the TypeScript constants below and the
// guest C header (services/include/hic/abi.h, via gen-header.ts) are derived. Change the ABI here,
// then run `hic abi --write`; a test fails when the checked-in header drifts from this table.
//
// Calling convention (x86-64, like the Linux syscall ABI so gcc's inline asm is familiar):
//   rax = syscall number; arguments in rdi, rsi, rdx, r10, r8, r9; result in rax.
//   A negative result is -(error code). rcx and r11 are clobbered (real hardware clobbers them,
//   Unicorn does not; guests must not rely on either).

export type CType = 'u64' | 'i64' | 'ptr' | 'cptr';

/**
 * What a module may ask of the kernel, by family: its signed metadata lists the families it uses
 * (`capabilities` in module.json), and a syscall of a family it did not declare fails with
 * NOT_DECLARED. Syscalls of no family (time, yield, sleep, exit, the capabilities it holds, records
 * of the types its module.json declares) are everyone's. `registry:<service>` in the same list lets a module register under a service name
 * other than its own.
 */
export const FAMILIES = [
  { name: 'debug_log', doc: 'write to the console' },
  { name: 'memory', doc: 'memory regions of its own and memory objects' },
  { name: 'ipc', doc: 'endpoints and notifications: send, receive, call, reply, notify, wait' },
  { name: 'registry', doc: 'register, look up and switch service names' },
  { name: 'mmio', doc: 'map device register windows' },
  { name: 'irq', doc: 'bind and acknowledge interrupt lines' },
  { name: 'sandbox_control', doc: 'suspend, resume and destroy other sandboxes' },
  { name: 'module_control', doc: 'query the trusted repository, reserve memory, load modules into new sandboxes' },
] as const;
export type FamilyName = (typeof FAMILIES)[number]['name'];
/** A family as one bit, for a sandbox's declared set. */
export const FAMILY_BIT: { readonly [F in FamilyName]: number } = Object.fromEntries(FAMILIES.map((f, i) => [f.name, 1 << i])) as { readonly [F in FamilyName]: number };

export interface SyscallSpec {
  readonly nr: number;
  readonly name: string;
  /** The family a module must declare to make this call; none: every module may. */
  readonly family?: FamilyName;
  readonly args: readonly (readonly [name: string, type: CType])[];
  /** What a non-negative result means. */
  readonly returns: string;
  readonly noreturn?: boolean;
  readonly doc: string;
}

export const SYSCALLS = [
  { nr: 1, name: 'debug_log', family: 'debug_log', args: [['text', 'cptr'], ['len', 'u64']], returns: '0',
    doc: 'Writes len bytes at text to the console, tagged with the sandbox name and virtual time. At most 1024 bytes.' },
  { nr: 2, name: 'yield', args: [], returns: '0',
    doc: 'Gives up the rest of the time slice; the thread stays runnable.' },
  { nr: 3, name: 'sleep', args: [['ns', 'u64']], returns: '0',
    doc: 'Blocks the thread for ns nanoseconds of virtual time.' },
  { nr: 4, name: 'exit', args: [['status', 'i64']], returns: 'never', noreturn: true,
    doc: 'Ends the sandbox with a status; its memory returns to the pool.' },
  { nr: 5, name: 'time_now', args: [], returns: 'virtual time in ns since boot',
    doc: 'Reads the virtual clock.' },
  { nr: 14, name: 'cpu_time', args: [], returns: 'virtual ns of CPU the sandbox has used',
    doc: "The sandbox's own work so far: what its threads charged to the virtual clock (every instruction and every syscall trap, this one included, at the clock's costs). Unlike time_now it stands still while other sandboxes run and while the machine idles, so the difference of two readings is what the code between them cost, preempted or not." },
  { nr: 6, name: 'mem_alloc', family: 'memory', args: [['len', 'u64']], returns: 'address of the new region',
    doc: 'Allocates len bytes (rounded up to pages) of zeroed, contiguous memory within the sandbox quota, mapped read-write, no-execute.' },
  { nr: 7, name: 'mem_free', family: 'memory', args: [['addr', 'ptr'], ['len', 'u64']], returns: '0',
    doc: 'Returns a whole region obtained from mem_alloc; its frames are zeroed and freed.' },
  { nr: 8, name: 'mem_protect', family: 'memory', args: [['addr', 'ptr'], ['len', 'u64'], ['prot', 'u64']], returns: '0',
    doc: 'Changes the protection of pages inside one mem_alloc region to HIC_PROT_READ or HIC_PROT_WRITE. Execute is never granted at run time: code comes only from the verified loader.' },

  // Typed results: what a service reports, decoded against the record types it declares.
  { nr: 9, name: 'record', args: [['type', 'u64'], ['fields', 'cptr'], ['len', 'u64']], returns: '0',
    doc: 'Emits a typed record: type is the id of one of the record types the module declares (1 + its position in module.json), fields its struct of 64-bit words and len that struct\'s exact size. Core-0 checks every word against the declaration and records an event; a refused record leaves no trace (NOT_FOUND: no such type; INVALID_ARGUMENT: wrong length; BAD_ADDRESS: unreadable fields; BAD_VALUE: a word no value of its field; NO_RIGHT: a record that commits to the journal (a `journals` field set) from a sandbox holding no loader capability with right W; NO_MEMORY: such a record when the journal is full). A committing record is durable in the machine\'s journal when the call returns.' },

  // Capabilities: named by slot in the caller's own capability space.
  { nr: 10, name: 'cap_copy', args: [['slot', 'u64'], ['rights', 'u64']], returns: 'the new slot',
    doc: 'Derives a copy of a capability with the given rights, which must be a subset of its own. The copy is revoked with the original.' },
  { nr: 11, name: 'cap_delete', args: [['slot', 'u64']], returns: '0',
    doc: 'Deletes a capability and revokes everything derived from it.' },
  { nr: 12, name: 'cap_revoke', args: [['slot', 'u64']], returns: 'how many capabilities were revoked',
    doc: 'Revokes every capability derived from this one, in every sandbox; keeps this one.' },
  { nr: 13, name: 'cap_info', args: [['slot', 'u64']], returns: '(type << 8) | rights',
    doc: 'Describes the capability in a slot: HIC_CAP_* type and HIC_RIGHT_* rights.' },

  // IPC: synchronous endpoints with message registers, payload and capability transfer.
  { nr: 20, name: 'endpoint_create', family: 'ipc', args: [], returns: 'slot of a new endpoint capability with all rights',
    doc: 'Creates an IPC endpoint.' },
  { nr: 21, name: 'send', family: 'ipc', args: [['slot', 'u64'], ['msg', 'cptr'], ['flags', 'u64']], returns: '0',
    doc: 'Sends msg (struct hic_msg) on an endpoint (right W), blocking until a receiver takes it unless HIC_NONBLOCK (then -HIC_ERR_WOULD_BLOCK).' },
  { nr: 22, name: 'recv', family: 'ipc', args: [['slot', 'u64'], ['msg', 'ptr'], ['flags', 'u64'], ['timeout_ns', 'u64']], returns: '0',
    doc: 'Receives a message on an endpoint (right R) into msg; if it came from call, the next reply answers it. timeout_ns 0 waits forever.' },
  { nr: 23, name: 'call', family: 'ipc', args: [['slot', 'u64'], ['msg', 'ptr'], ['flags', 'u64'], ['timeout_ns', 'u64']], returns: '0',
    doc: 'Sends msg and waits for the reply, which overwrites msg. timeout_ns 0 waits forever.' },
  { nr: 24, name: 'reply', family: 'ipc', args: [['msg', 'cptr']], returns: '0',
    doc: 'Answers the call this thread received last.' },

  // Notifications: asynchronous bitmask signals, for interrupts and events.
  { nr: 30, name: 'notification_create', family: 'ipc', args: [], returns: 'slot of a new notification capability with all rights',
    doc: 'Creates a notification object.' },
  { nr: 31, name: 'notify', family: 'ipc', args: [['slot', 'u64'], ['bits', 'u64']], returns: '0',
    doc: 'ORs bits into the notification (right W) and wakes a waiter.' },
  { nr: 32, name: 'wait', family: 'ipc', args: [['slot', 'u64'], ['flags', 'u64'], ['timeout_ns', 'u64']], returns: 'the bits, which are cleared',
    doc: 'Waits until any bit is set (right R); HIC_NONBLOCK polls. timeout_ns 0 waits forever.' },

  // Memory objects: frames named by a capability, mapped where the holder may, moved without a copy.
  { nr: 40, name: 'memory_create', family: 'memory', args: [['len', 'u64']], returns: 'slot of a new memory capability with all rights',
    doc: 'Allocates zeroed frames (rounded up to pages) within the quota, as a memory object; not mapped yet.' },
  { nr: 41, name: 'memory_map', family: 'memory', args: [['slot', 'u64']], returns: 'the address it is mapped at',
    doc: 'Maps the memory object: readable with right R, writable too with right W, never executable.' },
  { nr: 42, name: 'memory_unmap', family: 'memory', args: [['slot', 'u64']], returns: '0',
    doc: 'Unmaps a memory object mapped through this capability.' },

  { nr: 44, name: 'memory_size', family: 'memory', args: [['slot', 'u64']], returns: 'the object\'s size in bytes',
    doc: 'How large a memory object is, before mapping it: a receiver checks what it was handed.' },
  { nr: 43, name: 'mmio_map', family: 'mmio', args: [['slot', 'u64']], returns: 'the address of the register window',
    doc: 'Maps a device register window (right R; stores need right W, else they fault). Unmapped when the capability goes.' },

  // The service registry: versioned endpoint names and default aliases.
  { nr: 50, name: 'registry_register', family: 'registry', args: [['slot', 'u64'], ['name', 'cptr'], ['len', 'u64'], ['endpoint', 'u64']], returns: '0',
    doc: 'Registers an endpoint (needs right W on the registry) as cap://<service>/v<version>/<name>; the first version registered also becomes the default alias cap://<service>/<name>.' },
  { nr: 51, name: 'registry_lookup', family: 'registry', args: [['slot', 'u64'], ['name', 'cptr'], ['len', 'u64']], returns: 'slot of a send capability for the name',
    doc: 'Looks a name up (right R): a versioned name gives that endpoint, an alias gives a capability that always reaches the alias\'s current target.' },
  { nr: 52, name: 'registry_switch', family: 'registry', args: [['slot', 'u64'], ['alias', 'cptr'], ['alias_len', 'u64'], ['target', 'cptr'], ['target_len', 'u64']], returns: '0',
    doc: 'Atomically points an alias at another versioned endpoint of the same service (right G).' },

  // Interrupts.
  { nr: 60, name: 'irq_bind', family: 'irq', args: [['irq', 'u64'], ['notification', 'u64'], ['bits', 'u64']], returns: '0',
    doc: 'Delivers the IRQ line of the irq capability as bits on the notification.' },
  { nr: 61, name: 'irq_ack', family: 'irq', args: [['irq', 'u64']], returns: '0',
    doc: 'Acknowledges the last interrupt of the line, unmasking it; a pending one is delivered at once.' },

  // Sandbox control.
  { nr: 70, name: 'sandbox_suspend', family: 'sandbox_control', args: [['slot', 'u64']], returns: '0',
    doc: 'Stops scheduling the sandbox (right W on its sandbox capability).' },
  { nr: 71, name: 'sandbox_resume', family: 'sandbox_control', args: [['slot', 'u64']], returns: '0',
    doc: 'Schedules a suspended sandbox again.' },
  { nr: 72, name: 'sandbox_destroy', family: 'sandbox_control', args: [['slot', 'u64']], returns: '0',
    doc: 'Destroys the sandbox: revokes its capabilities, cancels its IPC, releases its IRQs, frees its memory.' },

  // The module loader (seed §3.1 steps 1.2-1.3, §3.2 step 2.1): mechanism for the Module Manager.
  { nr: 80, name: 'module_query', family: 'module_control', args: [['loader', 'u64'], ['req', 'cptr'], ['info', 'ptr'], ['flags', 'u64']], returns: '0',
    doc: 'Finds the newest module of the trusted repository whose version satisfies req (struct hic_module_req; right R on the loader), verifies it as at boot (signature chain, expiry, rollback protection) and fills info (struct hic_module_info). flags HIC_DOWNGRADE (right W as well) lets a version older than the newest started pass the rollback protection: a rollback, recorded as such in moduleVerified. NOT_FOUND: no such module; MODULE_REFUSED: verification failed (the moduleRejected event says why); INVALID_ARGUMENT: a string not NUL-terminated within its field, not a version range, or an unknown flag; NO_RIGHT: HIC_DOWNGRADE without W.' },
  { nr: 81, name: 'module_reserve', family: 'module_control', args: [['loader', 'u64'], ['bytes', 'u64']], returns: 'slot of a new reservation capability',
    doc: 'Sets bytes (rounded up to pages) aside from the frame pool as one contiguous run (right W on the loader), not charged to the caller\'s quota, for a coming module_spawn. Deleting the reservation, or the end of its holder, returns the frames. INVALID_ARGUMENT: 0 or more than 1 GiB; NO_MEMORY: no run that long.' },
  { nr: 82, name: 'module_spawn', family: 'module_control', args: [['loader', 'u64'], ['spec', 'cptr'], ['len', 'u64'], ['flags', 'u64']], returns: 'slot of a sandbox capability (right W) on the new sandbox',
    doc: 'Verifies the exact module version spec names (struct hic_spawn_spec, len its size; right W on the loader; flags HIC_DOWNGRADE as for module_query, or 0) and starts it in a new sandbox, as an image would: registry R|W in slot 0, then each grant, derived from the caller\'s capability, in slots 1..n. Every argument is checked before anything changes, and a refusal changes nothing: NOT_FOUND, MODULE_REFUSED (not verified, a library, dependencies not loaded), QUOTA_EXCEEDED (quota above the signed memory, or too small for the image and stack), BAD_SLOT/WRONG_TYPE (reservation), INVALID_ARGUMENT (a reservation smaller than the quota, a bad string, field or config syntax, an unknown flag), NO_RIGHT (a grant with more rights than held), NOT_DECLARED (a grant the module does not declare the family of), BAD_VALUE (a config key or value its declaration refuses), NAME_TAKEN, NO_SLOT. The reservation, if given, is consumed.' },
  { nr: 83, name: 'module_mark', family: 'module_control', args: [['loader', 'u64'], ['req', 'cptr'], ['bad', 'u64']], returns: '0',
    doc: 'Marks the exact version req names (struct hic_module_req, range an exact version; right W on the loader) bad (bad = 1), or clears the mark (bad = 0), in the installed-state store: module_query reports it in hic_module_info.bad. Core-0 refuses nothing for it; the Module Manager does (the policy is its own). The moduleMarked event records who did what. INVALID_ARGUMENT: a string not NUL-terminated within its field, not a module name or not an exact version, bad neither 0 nor 1; NOT_FOUND: clearing a mark that is not set; NO_MEMORY: 256 versions are marked already.' },
  { nr: 84, name: 'module_health', family: 'module_control', args: [['loader', 'u64'], ['req', 'cptr'], ['health', 'ptr']], returns: '0',
    doc: 'Fills health (struct hic_module_health) with what Core-0 has seen of the exact version req names (struct hic_module_req, range an exact version; right R on the loader) since boot: the sandboxes started from it, those of them that ended by a fault, and those live now, with the memory they hold and the CPU they have used -- what a Monitor counts crashes, restarts, leaks and CPU share by (seed §4.2, §5.1). Nothing is fetched, verified or audited, so it may be asked every interval; a version never started gives zeros. INVALID_ARGUMENT: a string not NUL-terminated within its field, not a module name or not an exact version.' },
  { nr: 85, name: 'module_collect', family: 'module_control', args: [['loader', 'u64'], ['req', 'cptr']], returns: '0',
    doc: 'Collects the exact version req names (struct hic_module_req, range an exact version; right W on the loader): it leaves what this machine may load, as if the trusted repository did not hold it, so module_query and module_spawn find it no more (an older version that satisfies their range is found instead), and a boot of what is installed keeps it out. The version is garbage of an update (seed 步骤4.3); which versions to collect, and when, is the Module Manager\'s policy. The moduleCollected event records who did it. INVALID_ARGUMENT: a string not NUL-terminated within its field, not a module name or not an exact version, or a version a live sandbox runs; NOT_FOUND: collected already; NO_MEMORY: 256 versions are collected already.' },
] as const satisfies readonly SyscallSpec[];

export type SyscallName = (typeof SYSCALLS)[number]['name'];

/** Error codes, returned to the guest as -(code). A closed set: adding one is an ABI change. */
export const ERRORS = [
  { code: 1, name: 'UNKNOWN_SYSCALL', doc: 'No syscall has this number.' },
  { code: 2, name: 'INVALID_ARGUMENT', doc: 'An argument is out of its range (alignment, size, flags).' },
  { code: 3, name: 'BAD_ADDRESS', doc: 'A pointer argument names memory the sandbox cannot access.' },
  { code: 4, name: 'NO_MEMORY', doc: 'No contiguous run of free frames is large enough.' },
  { code: 5, name: 'QUOTA_EXCEEDED', doc: 'The request would take the sandbox past its memory quota.' },
  { code: 6, name: 'MAPPING_LIMIT', doc: 'The request would exceed the per-sandbox limit on engine mappings.' },
  { code: 7, name: 'NOT_FOUND', doc: 'No such region, name or pending call.' },
  { code: 8, name: 'BAD_SLOT', doc: 'The slot is out of range or empty.' },
  { code: 9, name: 'WRONG_TYPE', doc: 'The capability in the slot is not of the type the call needs.' },
  { code: 10, name: 'NO_RIGHT', doc: 'The capability lacks a right the call needs, or a derivation asked for more rights.' },
  { code: 11, name: 'NO_SLOT', doc: 'The capability space is full.' },
  { code: 12, name: 'WOULD_BLOCK', doc: 'A non-blocking call found nobody to talk to.' },
  { code: 13, name: 'TIMEOUT', doc: 'The timeout passed before the other side came.' },
  { code: 14, name: 'PEER_GONE', doc: 'The other side was destroyed or its capability revoked while we waited.' },
  { code: 15, name: 'NAME_TAKEN', doc: 'The registry already holds this name.' },
  { code: 16, name: 'NOT_SOLE', doc: 'A memory object moves only as its sole capability: revoke the others first.' },
  { code: 17, name: 'NOT_DECLARED', doc: 'The module\'s signed metadata does not declare this syscall family, or this service name.' },
  { code: 18, name: 'BAD_VALUE', doc: 'A field holds no value of its declared type (an enum index past its values, a bool other than 0 or 1).' },
  { code: 19, name: 'MODULE_REFUSED', doc: 'The trusted repository holds such a module but Core-0\'s verification refused it; the moduleRejected event says why.' },
] as const;

export type ErrorName = (typeof ERRORS)[number]['name'];
export const Err = Object.fromEntries(ERRORS.map((e) => [e.name, e.code])) as { readonly [K in ErrorName]: number };

/**
 * One of the tables below as the constant object the kernel uses (name → value, each value's
 * literal type kept), so no value is written twice: header, docs and kernel read the same row.
 */
type Row = { readonly name: string; readonly value: number };
type ByName<T extends readonly Row[]> = { readonly [R in T[number] as R['name']]: R['value'] };
function byName<T extends readonly Row[]>(rows: T): ByName<T> {
  return Object.fromEntries(rows.map((r) => [r.name, r.value])) as ByName<T>;
}

/** Page protection for mem_protect. Read is implied. */
export const PROT = [
  { name: 'READ', value: 0, doc: 'read only' },
  { name: 'WRITE', value: 2, doc: 'read and write' },
  { name: 'EXEC', value: 4, doc: 'execute: always refused at run time (W^X, code only from the loader)' },
] as const;
export const Prot = byName(PROT);

export { FAULT_KINDS, type FaultKind } from '../../emulator/fault.ts';

export const SYSCALL_BY_NR: ReadonlyMap<number, SyscallSpec> = new Map(SYSCALLS.map((s) => [s.nr, s]));

/** Capability types, as cap_info reports them. */
export const CAP_TYPES = [
  { name: 'ENDPOINT', value: 1, doc: 'IPC endpoint: R receive, W send, G transfer capabilities through it' },
  { name: 'NOTIFICATION', value: 2, doc: 'signal bits: R wait, W notify' },
  { name: 'MEMORY', value: 3, doc: 'memory object: R map readable, W map writable, G transfer' },
  { name: 'MMIO', value: 4, doc: 'device register region: R read, W write' },
  { name: 'IRQ', value: 5, doc: 'interrupt line: W bind and acknowledge' },
  { name: 'SANDBOX', value: 6, doc: 'sandbox control: W suspend, resume, destroy' },
  { name: 'REGISTRY', value: 7, doc: 'service registry: R look up, W register, G switch aliases' },
  { name: 'LOADER', value: 8, doc: 'the module loader: R query, W reserve and spawn' },
  { name: 'RESERVATION', value: 9, doc: 'frames set aside from the pool for a coming sandbox; no rights; deleting it returns them' },
] as const;
export type CapTypeName = (typeof CAP_TYPES)[number]['name'];
export const CapType = byName(CAP_TYPES);

export const RIGHTS = [
  { name: 'R', value: 1, doc: 'read / receive / wait / look up' },
  { name: 'W', value: 2, doc: 'write / send / notify / register / control' },
  { name: 'G', value: 4, doc: 'grant: pass on through IPC; switch registry aliases' },
] as const;
/** The rights, and ALL of them at once (what a new object's original capability has). */
export const Right = { ...byName(RIGHTS), ALL: RIGHTS.reduce((all, r) => all | r.value, 0) } as const;

export const FLAGS = [
  { name: 'NONBLOCK', value: 1, doc: 'fail with WOULD_BLOCK instead of waiting' },
  { name: 'DOWNGRADE', value: 2, doc: 'module_query, module_spawn: accept a version older than the newest started (a rollback; right W on the loader)' },
] as const;
export const Flag = byName(FLAGS);

/** Message registers and the most payload bytes in one struct hic_msg. */
const MSG_WORDS = 4;
const MSG_PAYLOAD_MAX = 1024;

/** struct hic_msg's fields: C name (with its array bound), C type, byte offset, meaning. */
const MSG_FIELDS = [
  ['label', 'uint64_t', 0, 'what the message is (the protocol\'s operation code)'],
  [`words[${MSG_WORDS}]`, 'uint64_t', 8, 'message registers'],
  ['cap', 'int64_t', 40, 'send: slot of a capability to pass, or -1; received: the slot it arrived in, or -1'],
  ['cap_move', 'uint64_t', 48, 'send: 0 passes a derived copy (needs right G), 1 moves the capability'],
  ['badge', 'uint64_t', 56, 'received: badge of the capability the sender used'],
  ['len', 'uint64_t', 64, 'payload bytes, at most HIC_MSG_PAYLOAD_MAX'],
  ['payload[HIC_MSG_PAYLOAD_MAX]', 'uint8_t', 72, 'payload'],
] as const;

/** A field's name without its array bound: `words[4]` → `words`. */
type FieldName<S extends string> = S extends `${infer N}[${string}` ? N : S;
type MsgOffsets = { readonly [F in (typeof MSG_FIELDS)[number] as FieldName<F[0]>]: F[2] };

/**
 * struct hic_msg, the IPC message in guest memory: message registers, one capability to pass,
 * and a payload copied by the kernel. Larger data goes through a memory object both sides map.
 * The kernel reads and writes it at `at.<field>`; the C header declares the same fields.
 */
export const MESSAGE = {
  payloadMax: MSG_PAYLOAD_MAX,
  words: MSG_WORDS,
  fields: MSG_FIELDS,
  at: Object.fromEntries(MSG_FIELDS.map(([name, , offset]) => [name.replace(/\[.*$/, ''), offset])) as MsgOffsets,
  /** The payload is the last field. */
  size: MSG_FIELDS[MSG_FIELDS.length - 1]![2] + MSG_PAYLOAD_MAX,
} as const;

/**
 * The service entry table: every service module exports it under SERVICE_ENTRY.symbol, and the
 * loader starts the service's first thread at `start` (docs/hicmod-format.md). Later protocol
 * functions (state migration) are appended; `abi` says how many fields a module fills in.
 */
export const SERVICE_ENTRY = {
  symbol: '_service_entry',
  magic: 0x43565348, // "HSVC"
  abi: 1,
  fields: [
    ['magic', 'uint32_t', 'SERVICE_ENTRY_MAGIC'],
    ['abi', 'uint32_t', 'SERVICE_ENTRY_ABI'],
    ['start', 'void (*start)(const void *config)', 'entry of the first thread; rdi = the address of its read-only configuration page, or 0 when the module declares no configuration'],
  ],
  size: 16,
} as const;

// --- the module loader's structures (module_query, module_spawn) ------------------------------------

/** Bounds of the loader's structures, as HIC_<name> in the header. */
export const LIMITS = [
  { name: 'NAME_MAX', value: 32, doc: 'bytes of a name or range field; a name the caller writes ends with a NUL inside it' },
  { name: 'VERSION_MAX', value: 16, doc: 'bytes of a version field' },
  { name: 'SPAWN_GRANTS_MAX', value: 8, doc: 'capabilities one module_spawn grants' },
  { name: 'SPAWN_CONFIG_MAX', value: 512, doc: 'bytes of a spawn\'s configuration string, its NUL included' },
  { name: 'MODULE_DEPS_MAX', value: 8, doc: 'dependencies struct hic_module_info carries' },
] as const;
export const Limit = byName(LIMITS);
type LimitName = (typeof LIMITS)[number]['name'];

/** A field of a guest structure: a 64-bit word, characters, or another structure, with an array bound. */
interface FieldDef {
  readonly name: string;
  readonly type: 'u64' | 'i64' | 'char' | StructDef;
  readonly count?: LimitName;
  readonly doc: string;
}

/** A structure in guest memory: every field 8-byte aligned, strings NUL-padded. */
export interface StructDef {
  /** The C tag: `struct <name>`. */
  readonly name: string;
  readonly doc: string;
  readonly fields: readonly (FieldDef & { readonly offset: number; readonly size: number })[];
  readonly size: number;
}

/** Lays the fields out in order and gives each one's offset by name (`at`), as MESSAGE does. */
function struct<const F extends readonly FieldDef[]>(name: string, doc: string, defs: F): StructDef & { readonly at: { readonly [K in F[number]['name']]: number } } {
  let offset = 0;
  const fields = defs.map((f) => {
    const one = f.type === 'char' ? 1 : typeof f.type === 'string' ? 8 : f.type.size;
    const size = one * (f.count ? Limit[f.count] : 1);
    const placed = { ...f, offset, size };
    offset += size;
    // Both sides read words at these offsets; a field off an 8-byte boundary would be a table bug.
    if (placed.offset % 8 !== 0) throw new Error(`abi: struct ${name}.${f.name} is not 8-byte aligned`);
    return placed;
  });
  const at = Object.fromEntries(fields.map((f) => [f.name, f.offset])) as { readonly [K in F[number]['name']]: number };
  return { name, doc, fields, size: offset, at };
}

export const MODULE_REQ = struct('hic_module_req', 'what module_query looks for', [
  { name: 'name', type: 'char', count: 'NAME_MAX', doc: 'the module' },
  { name: 'range', type: 'char', count: 'NAME_MAX', doc: 'versions it may be: "1.3.0", ">=1.2.0", "*"' },
]);

export const MODULE_DEP = struct('hic_module_dep', 'one dependency a module declares', [
  { name: 'name', type: 'char', count: 'NAME_MAX', doc: 'the module it needs' },
  { name: 'range', type: 'char', count: 'NAME_MAX', doc: 'the versions it accepts' },
]);

export const MODULE_INFO = struct('hic_module_info', 'what module_query found: the module\'s signed metadata', [
  { name: 'name', type: 'char', count: 'NAME_MAX', doc: 'the module' },
  { name: 'version', type: 'char', count: 'VERSION_MAX', doc: 'its version' },
  { name: 'version_packed', type: 'u64', doc: 'major << 16 | minor << 8 | patch' },
  { name: 'memory', type: 'u64', doc: 'signed memory, bytes: the largest quota it may be given' },
  { name: 'cpu_permille', type: 'u64', doc: 'signed CPU share, per mille of one core' },
  { name: 'kind', type: 'u64', doc: '0 service, 1 library' },
  { name: 'state_schema', type: 'u64', doc: 'state-migration schema, 0 if none' },
  { name: 'installed', type: 'u64', doc: 'the newest version of this module started on the machine so far (packed like version_packed), 0 if none' },
  { name: 'bad', type: 'u64', doc: '1: this version is marked bad (module_mark), 0: not' },
  { name: 'ndeps', type: 'u64', doc: 'entries of deps in use' },
  { name: 'deps', type: MODULE_DEP, count: 'MODULE_DEPS_MAX', doc: 'its dependencies, the first HIC_MODULE_DEPS_MAX' },
]);

export const SPAWN_GRANT = struct('hic_spawn_grant', 'a capability of the caller, derived into the new sandbox', [
  { name: 'slot', type: 'u64', doc: 'the caller\'s slot' },
  { name: 'rights', type: 'u64', doc: 'rights of the derived capability, a subset of the caller\'s' },
]);

export const SPAWN_SPEC = struct('hic_spawn_spec', 'what module_spawn starts, and with what', [
  { name: 'sandbox', type: 'char', count: 'NAME_MAX', doc: 'the new sandbox\'s name, unique among live sandboxes' },
  { name: 'module', type: 'char', count: 'NAME_MAX', doc: 'the module' },
  { name: 'version', type: 'char', count: 'VERSION_MAX', doc: 'its exact version' },
  { name: 'quota', type: 'u64', doc: 'memory quota, bytes: at least a page, at most the signed memory' },
  { name: 'stack', type: 'u64', doc: 'stack, bytes (within the quota)' },
  { name: 'budget', type: 'u64', doc: 'instructions per time slice; 0: the default' },
  { name: 'reservation', type: 'i64', doc: 'slot of a reservation of at least quota bytes, consumed; or -1' },
  { name: 'ngrants', type: 'u64', doc: 'entries of grants in use' },
  { name: 'grants', type: SPAWN_GRANT, count: 'SPAWN_GRANTS_MAX', doc: 'capabilities for slots 1..ngrants, in order' },
  { name: 'config', type: 'char', count: 'SPAWN_CONFIG_MAX', doc: '"key=value;key=value", values as an image manifest writes them (450ms, 20, true, an enum name), checked against the module\'s signed declaration' },
]);

/** The loader's structures, in the order the header declares them (each after those it contains). */
export const MODULE_HEALTH = struct('hic_module_health', 'what module_health found: one version\'s sandboxes since boot', [
  { name: 'started', type: 'u64', doc: 'sandboxes started from it (by an image or module_spawn)' },
  { name: 'faults', type: 'u64', doc: 'of them, ended by a fault (a crash; Core-0 stopped the sandbox)' },
  { name: 'running', type: 'u64', doc: 'of them, live now' },
  { name: 'memory', type: 'u64', doc: 'bytes the live ones hold: image, stacks, regions, the memory objects they pay for' },
  { name: 'cpu_ns', type: 'u64', doc: 'virtual ns of CPU the live ones have used (each its cpu_time)' },
]);

export const LOADER_STRUCTS: readonly StructDef[] = [MODULE_REQ, MODULE_DEP, MODULE_INFO, MODULE_HEALTH, SPAWN_GRANT, SPAWN_SPEC];
