// Why a module was refused: one closed set of codes for the decoder, the verifier, the loader and
// the repository, each with a message that says what and where. `hic mod verify` prints them; the
// audit log records them.

export const MODULE_ERROR_CODES = [
  // container
  'TRUNCATED', 'BAD_MAGIC', 'UNSUPPORTED_VERSION', 'BAD_HEADER', 'BAD_SECTION', 'TOO_LARGE',
  // content
  'BAD_METADATA', 'BAD_SEGMENTS', 'BAD_RELOCATION', 'RELOCATION_OUT_OF_IMAGE', 'BAD_IMPORT', 'BAD_EXPORT', 'BAD_ENTRY',
  // signature
  'UNSIGNED', 'BAD_SIGNATURE_BLOCK', 'HASH_MISMATCH', 'BAD_SIGNATURE', 'BAD_CERTIFICATE', 'UNTRUSTED_ROOT', 'WRONG_SIGNER',
  'CERT_EXPIRED', 'CERT_NOT_YET_VALID', 'BAD_TIMESTAMP', 'REPLAYED', 'DOWNGRADE',
  // loading and dependencies
  'UNRESOLVED_IMPORT', 'NOT_A_SERVICE', 'NOT_A_LIBRARY', 'UNSATISFIED_DEPENDENCY', 'DEPENDENCY_CYCLE', 'DEPENDENCY_CONFLICT',
  'MODULE_NOT_FOUND', 'BAD_REPOSITORY',
  // repository freshness and publishing
  'METADATA_EXPIRED', 'VERSION_EXISTS',
] as const;

export type ModuleErrorCode = (typeof MODULE_ERROR_CODES)[number];

export class ModuleError extends Error {
  constructor(readonly code: ModuleErrorCode, message: string) {
    super(message);
  }
}

export function fail(code: ModuleErrorCode, message: string): never {
  throw new ModuleError(code, message);
}
