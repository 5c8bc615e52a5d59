#!/usr/bin/env node
// Entry point of the `hic` command: the TypeScript CLI, from the bundle set-up builds while it is
// fresh (scripts/cli-bundle.mjs: the same code, without compiling it again at every start), else
// through tsx from the sources (no separate build step is ever needed).
import { freshBundle } from '../scripts/cli-bundle.mjs';

const bundle = freshBundle();
if (bundle) {
  process.setSourceMapsEnabled(true); // a bug's stack names the TypeScript sources, as under tsx
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
