#!/usr/bin/env node
// Entry point of the `hic` command: runs the TypeScript CLI through tsx (no separate build step).
import { register } from 'tsx/esm/api';
register();
await import('../cli/main.ts');
