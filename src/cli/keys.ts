// `twinshot keys create|revoke|list`: API keys of the recognition service, kept (hashed) in the store.
import type { Command } from 'commander';
import type { GalleryStore } from '../gallery/types.js';

const STORE_OPTION = [
  '--store <url>',
  'gallery store: sqlite:PATH or postgres://USER@HOST/DB',
  'sqlite:./twinshot-data/gallery.db',
] as const;

async function withStore<T>(url: string, fn: (store: GalleryStore) => Promise<T>): Promise<T> {
  const { openStore } = await import('../gallery/open-store.js');
  const store = await openStore(url);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('create, list and revoke API keys of the service');

  keys
    .command('create')
    .description('create a key; its token is printed once and stored only as a hash')
    .requiredOption('--gallery <name>', "gallery the key opens ('*' for every gallery)")
    .option('--scope <scopes>', 'read, write or read,write', 'read,write')
    .option('--name <note>', 'who or what the key is for')
    .option(...STORE_OPTION)
    .option('--json', 'print one JSON object')
    .action(async (options: { gallery: string; scope: string; name?: string; store: string; json?: boolean }) => {
      const { createApiKey, parseScopes } = await import('../service/auth.js');
      const { token, key } = await withStore(options.store, (store) =>
        createApiKey(store, {
          gallery: options.gallery,
          scopes: parseScopes(options.scope),
          name: options.name ?? null,
        }),
      );
      if (options.json) {
        console.log(JSON.stringify({ id: key.id, token, gallery: key.gallery, scopes: key.scopes, name: key.name }));
        return;
      }
      console.log(
        `key ${key.id} for gallery ${key.gallery === '*' ? '* (every gallery)' : key.gallery}, scopes ${key.scopes.join(',')}`,
      );
      console.log(`token (shown only now; send it as "Authorization: Bearer <token>"):\n${token}`);
      console.log('The service now requires a key on every request (restart it to listen beyond this machine).');
    });

  keys
    .command('revoke')
    .description('revoke a key by its id (see keys list)')
    .argument('<id>', 'key id')
    .option(...STORE_OPTION)
    .action(async (id: string, options: { store: string }) => {
      const revoked = await withStore(options.store, (store) => store.revokeKey(id));
      if (!revoked) {
        const error = new Error(`no active key with id '${id}' (see twinshot keys list)`) as Error & {
          exitCode: number;
        };
        error.exitCode = 1;
        throw error;
      }
      console.log(`key ${id} revoked`);
    });

  keys
    .command('list')
    .description('list keys (ids, galleries, scopes; never tokens)')
    .option(...STORE_OPTION)
    .option('--json', 'print one JSON array')
    .action(async (options: { store: string; json?: boolean }) => {
      const records = await withStore(options.store, (store) => store.listKeys());
      const rows = records.map(({ hash: _hash, ...rest }) => rest);
      if (options.json) {
        console.log(JSON.stringify(rows));
        return;
      }
      if (rows.length === 0) console.log('no keys: the service is open to this machine only');
      for (const k of rows) {
        const state = k.revokedAt ? `revoked ${k.revokedAt}` : 'active';
        console.log(
          `${k.id}  ${k.gallery.padEnd(16)} ${k.scopes.join(',').padEnd(10)} ${state.padEnd(8)} ${k.name ?? ''}`,
        );
      }
    });
}
