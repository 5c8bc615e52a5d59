// The module repository's public surface: open and query a repository (the kernel's ModuleSource),
// publish to one, and plan an install from it. Everything else in this folder is detail.

export { Repository, verifyMetadata, type OpenOptions, type RepositoryState } from './repository.ts';
export { DEFAULT_LIFETIMES, initRepository, publish, type PublishOptions, type PublishResult, type Published } from './publish.ts';
export { planInstall, type ModuleIndex, type PlanAction, type PlanStep, type PlanTarget } from './resolve.ts';
export { canonicalJson, METADATA_ROLES, sha384Hex, type MetadataRole } from './metadata.ts';
export { currentVersion, publishVersioned, versionsDir } from './versioned.ts';
export type { TargetEntry } from './schema.ts';
