#!/usr/bin/env node
// `npm run bench -- NAME [args]` runs bench/NAME.ts (TypeScript, through tsx) with the given args.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...args] = process.argv.slice(2);
const available = fs.existsSync(path.join(root, 'bench'))
  ? fs
      .readdirSync(path.join(root, 'bench'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
  : [];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [--json]\navailable: ${available.join(', ') || '(none)'}`);
  process.exit(2);
}
const tsx = path.join(root, 'node_modules/tsx/dist/cli.mjs');
const result = spawnSync(process.execPath, [tsx, path.join(root, 'bench', `${name}.ts`), ...args], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(result.status ?? 1);
