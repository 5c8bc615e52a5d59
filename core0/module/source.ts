// Where the module loader's input comes from: a module file as a source (the trusted repository,
// or a directory of signed builds) hands it over. The kernel verifies every byte itself; the
// source only finds files.

/** A module file as a source hands it over. */
export interface FetchedModule {
  readonly bytes: Uint8Array;
  /** Where it came from, for messages: a repository path or a file. */
  readonly label: string;
  /** The signer the source vouches for (certificate SHA-256 fingerprint), if it records one. */
  readonly signer?: string;
}

export interface ModuleSource {
  /** The newest module `name` whose version satisfies `range`, or undefined when there is none. */
  fetch(name: string, range: string): FetchedModule | undefined;
  describe(name: string): string;
}
