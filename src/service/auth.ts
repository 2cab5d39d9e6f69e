// API keys: bearer tokens made here, stored only as SHA-256 hashes, each opening one gallery (or
// all, '*') for reading and/or writing; and the check the HTTP service runs on every request.
import crypto from 'node:crypto';
import { TwinshotError } from '../errors.js';
import { checkGalleryName } from '../gallery/gallery.js';
import type { ApiKeyRecord, GalleryStore, KeyScope } from '../gallery/types.js';

/** Tokens start with this, so they are recognisable in config files and secret scanners. */
const TOKEN_PREFIX = 'tsk_';
const SCOPES: readonly KeyScope[] = ['read', 'write'];

/** Hex SHA-256 of a token: what the store keeps. A fast hash suffices: tokens carry 256 random bits. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** @throws TwinshotError ERR_ARGUMENT for scopes other than 'read' and 'write' */
export function parseScopes(text: string | readonly string[]): KeyScope[] {
  const items = (typeof text === 'string' ? text.split(',') : [...text]).map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new TwinshotError('ERR_ARGUMENT', "scopes must list 'read', 'write' or both");
  for (const item of items) {
    if (!SCOPES.includes(item as KeyScope)) {
      throw new TwinshotError('ERR_ARGUMENT', `unknown scope '${item}'; use read, write or read,write`);
    }
  }
  return SCOPES.filter((s) => items.includes(s));
}

export interface NewKeyOptions {
  /** Gallery the key opens, or '*' for every gallery. */
  gallery: string;
  scopes: readonly KeyScope[];
  /** A note on who or what the key is for. */
  name?: string | null;
}

/**
 * Creates an API key and stores its hash. The token is returned once and never stored.
 * @example
 * const { token, key } = await createApiKey(store, { gallery: 'symbols', scopes: ['read', 'write'] });
 * @throws TwinshotError ERR_ARGUMENT for a bad gallery name or scope
 */
export async function createApiKey(
  store: GalleryStore,
  options: NewKeyOptions,
): Promise<{ token: string; key: ApiKeyRecord }> {
  const gallery = options.gallery === '*' ? '*' : checkGalleryName(options.gallery);
  const scopes = parseScopes(options.scopes);
  const token = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
  const key: ApiKeyRecord = {
    id: crypto.randomBytes(6).toString('hex'),
    hash: hashToken(token),
    gallery,
    scopes,
    name: options.name ?? null,
    createdAt: new Date().toISOString(),
    revokedAt: null,
  };
  await store.createKey(key);
  return { token, key };
}

/** Whether a key may use `scope` on a gallery (null: a route that names no gallery, any key will do). */
export function keyAllows(key: ApiKeyRecord, gallery: string | null, scope: KeyScope): boolean {
  if (gallery === null) return true;
  return (key.gallery === '*' || key.gallery === gallery) && key.scopes.includes(scope);
}

/** What a route needs: nothing, any valid key, or a scope on the gallery in its path. */
export type Access = 'public' | 'any' | KeyScope;

export interface KeyCheckOptions {
  /** Require a key even when none exists yet. */
  requireKeys?: boolean;
  /** How long "no key exists" is remembered, in ms (default 1000): a key created meanwhile takes effect after at most this. */
  cacheMs?: number;
  /** Whether the server is reachable beyond this machine right now (it listens on a non-loopback address). */
  isExposed?: () => boolean;
}

/**
 * Decides who may call a route. With no key created (and requireKeys off) the service is open,
 * as on a developer's machine. Once a key has existed, or the server listens beyond loopback, every
 * protected route needs one for the rest of the checker's life: revoking the last key must not
 * open a server that was closed, so "required" is a latch that never resets.
 */
export class KeyChecker {
  readonly #store: GalleryStore;
  readonly #isExposed: () => boolean;
  readonly #cacheMs: number;
  #isClosed: boolean;
  #openUntil = 0;

  constructor(store: GalleryStore, options: KeyCheckOptions = {}) {
    this.#store = store;
    this.#isClosed = options.requireKeys ?? false;
    this.#isExposed = options.isExposed ?? (() => false);
    this.#cacheMs = options.cacheMs ?? 1000;
  }

  /** Whether requests without a key are refused right now (once true, always true). */
  async isRequired(): Promise<boolean> {
    if (this.#isClosed) return true;
    if (this.#isExposed()) return (this.#isClosed = true);
    if (Date.now() < this.#openUntil) return false;
    if (await this.#store.hasActiveKeys()) return (this.#isClosed = true);
    // Only "open" is cached, and only briefly: a key created meanwhile closes the server within cacheMs.
    this.#openUntil = Date.now() + this.#cacheMs;
    return false;
  }

  /**
   * Checks an Authorization header for a route; returns the key used (null on an open server).
   * @throws TwinshotError ERR_UNAUTHORIZED (missing, malformed, unknown or revoked key); ERR_FORBIDDEN (key lacks the scope)
   */
  async check(header: string | undefined, access: Access, gallery: string | null): Promise<ApiKeyRecord | null> {
    if (access === 'public') return null;
    if (header === undefined || header === '') {
      if (!(await this.isRequired())) return null;
      throw new TwinshotError(
        'ERR_UNAUTHORIZED',
        'this server requires an API key: send "Authorization: Bearer <key>" (keys are made with `twinshot keys create`)',
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new TwinshotError('ERR_UNAUTHORIZED', 'the Authorization header must be "Bearer <key>"');
    const key = await this.#store.findKeyByHash(hashToken(match[1]!));
    if (!key) throw new TwinshotError('ERR_UNAUTHORIZED', 'the API key is not valid (unknown or revoked)');
    this.#isClosed = true; // a valid key exists, so keys are required from now on
    const scope: KeyScope = access === 'any' ? 'read' : access;
    if (!keyAllows(key, access === 'any' ? null : gallery, scope)) {
      throw new TwinshotError(
        'ERR_FORBIDDEN',
        `API key ${key.id} may not ${scope} gallery '${gallery}' (it opens ${key.gallery === '*' ? 'every gallery' : `'${key.gallery}'`} for ${key.scopes.join(', ')})`,
      );
    }
    return key;
  }
}
