#!/usr/bin/env node
// Entry point of the `hicmod` command (the module toolchain); the same commands are `hic mod …`.
import { register } from 'tsx/esm/api';
register();
await import('../cli/hicmod.ts');
