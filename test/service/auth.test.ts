// API keys over HTTP, on every store: open until a key exists, then bearer keys with per-gallery
// read/write scopes on every route but /healthz and /docs; tokens never stored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, hashToken, parseScopes } from '../../src/service/auth.js';
import { startServer } from '../../src/service/server.js';
import { openStore } from '../../src/gallery/open-store.js';
import { STORE_CASES, drawSymbol } from '../gallery/helpers.js';
import { testApp, type TestApp } from './helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';

reportIfMissing(POSTGRES, 'API keys on PostgreSQL');

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe.each(STORE_CASES)('API keys on $name', (storeCase) => {
  let t: TestApp;
  let image: string;

  beforeAll(async () => {
    t = await testApp(storeCase);
    image = (await drawSymbol('star')).toString('base64');
  });
  afterAll(async () => t?.close());

  it('are not needed while none exists (the local demo)', async () => {
    expect((await t.app.inject({ method: 'PUT', url: '/v1/galleries/alpha' })).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'PUT', url: '/v1/galleries/beta' })).statusCode).toBe(201);
    const enrolled = await t.app.inject({
      method: 'POST',
      url: '/v1/galleries/alpha/classes/star/examples',
      payload: { image },
    });
    expect(enrolled.statusCode).toBe(201);
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });

  describe('once a key exists', () => {
    let alphaRead: string;
    let alphaWrite: string;
    let everything: string;

    beforeAll(async () => {
      alphaRead = (await createApiKey(t.store, { gallery: 'alpha', scopes: ['read'], name: 'reader' })).token;
      alphaWrite = (await createApiKey(t.store, { gallery: 'alpha', scopes: ['read', 'write'] })).token;
      everything = (await createApiKey(t.store, { gallery: '*', scopes: ['read', 'write'], name: 'admin' })).token;
    });

    it('refuses requests without a key with 401 ERR_UNAUTHORIZED and a WWW-Authenticate challenge', async () => {
      for (const [method, url] of [
        ['GET', '/v1/galleries'],
        ['GET', '/v1/galleries/alpha/classes'],
        ['POST', '/v1/embed'],
        ['POST', '/v1/verify'],
        ['GET', '/metrics'],
        ['PUT', '/v1/galleries/gamma'],
      ] as const) {
        const response = await t.app.inject({ method, url, payload: method === 'POST' ? { image } : undefined });
        expect({ url, status: response.statusCode, code: response.json().error.code }).toEqual({
          url,
          status: 401,
          code: 'ERR_UNAUTHORIZED',
        });
        expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      }
      // Nothing was created by the refused PUT.
      expect(await t.store.getGallery('gamma')).toBeNull();
    });

    it('refuses unknown, malformed and revoked keys with 401', async () => {
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/galleries', headers: bearer('tsk_made_up') })).statusCode,
      ).toBe(401);
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/galleries', headers: { authorization: everything } }))
          .statusCode,
      ).toBe(401);
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/galleries', headers: { authorization: `Basic ${everything}` } }))
          .statusCode,
      ).toBe(401);
      const { token, key } = await createApiKey(t.store, { gallery: 'alpha', scopes: ['read'] });
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/galleries/alpha', headers: bearer(token) })).statusCode,
      ).toBe(200);
      expect(await t.store.revokeKey(key.id)).toBe(true);
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/galleries/alpha', headers: bearer(token) })).statusCode,
      ).toBe(401);
    });

    it('lets a read key read and identify its gallery, but not write it (403 ERR_FORBIDDEN)', async () => {
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/galleries/alpha/classes', headers: bearer(alphaRead) }))
          .statusCode,
      ).toBe(200);
      const identify = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/alpha/identify',
        headers: bearer(alphaRead),
        payload: { image },
      });
      expect(identify.json()).toMatchObject({ label: 'star' });
      for (const [method, url] of [
        ['POST', '/v1/galleries/alpha/classes/moon/examples'],
        ['DELETE', '/v1/galleries/alpha/classes/star'],
        ['DELETE', '/v1/galleries/alpha'],
        ['PUT', '/v1/galleries/alpha'],
      ] as const) {
        const response = await t.app.inject({
          method,
          url,
          headers: bearer(alphaRead),
          payload: method === 'POST' ? { image } : undefined,
        });
        expect({ url, status: response.statusCode, code: response.json().error.code }).toEqual({
          url,
          status: 403,
          code: 'ERR_FORBIDDEN',
        });
      }
      expect((await t.store.listClasses('alpha')).map((c) => c.label)).toEqual(['star']);
    });

    it('keeps galleries isolated: a key for one gallery opens no other, and lists only its own', async () => {
      for (const token of [alphaRead, alphaWrite]) {
        const response = await t.app.inject({
          method: 'GET',
          url: '/v1/galleries/beta/classes',
          headers: bearer(token),
        });
        expect(response.statusCode).toBe(403);
        expect(response.json().error.message).toMatch(/may not read gallery 'beta'/);
      }
      const write = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/beta/classes/x/examples',
        headers: bearer(alphaWrite),
        payload: { image },
      });
      expect(write.statusCode).toBe(403);
      const listed = await t.app.inject({ method: 'GET', url: '/v1/galleries', headers: bearer(alphaRead) });
      expect(listed.json().galleries.map((g: { name: string }) => g.name)).toEqual(['alpha']);
      const all = await t.app.inject({ method: 'GET', url: '/v1/galleries', headers: bearer(everything) });
      expect(all.json().galleries.map((g: { name: string }) => g.name)).toEqual(['alpha', 'beta']);
    });

    it("lets a write key change its gallery, and a '*' key any gallery", async () => {
      const enrol = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/alpha/classes/moon/examples',
        headers: bearer(alphaWrite),
        payload: { image },
      });
      expect(enrol.statusCode).toBe(201);
      expect(
        (await t.app.inject({ method: 'PUT', url: '/v1/galleries/gamma', headers: bearer(everything) })).statusCode,
      ).toBe(201);
      expect(
        (await t.app.inject({ method: 'DELETE', url: '/v1/galleries/gamma', headers: bearer(everything) })).statusCode,
      ).toBe(204);
      expect(
        (await t.app.inject({ method: 'POST', url: '/v1/embed', headers: bearer(alphaRead), payload: { image } }))
          .statusCode,
      ).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(alphaRead) })).statusCode).toBe(200);
    });

    it('never asks for a key on /healthz or /docs', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    });

    it('keeps only hashes of tokens at rest', async () => {
      const keys = await t.store.listKeys();
      expect(keys.map((k) => k.hash)).toContain(hashToken(everything));
      expect(JSON.stringify(keys)).not.toContain(everything);
      if (storeCase.name === 'sqlite') {
        const file = t.url.slice('sqlite:'.length);
        const bytes = Buffer.concat([
          fs.readFileSync(file),
          fs.existsSync(`${file}-wal`) ? fs.readFileSync(`${file}-wal`) : Buffer.alloc(0),
        ]);
        expect(bytes.includes(everything)).toBe(false);
        expect(bytes.includes(hashToken(everything))).toBe(true);
      }
    });
  });
});

describe('buildApp({ staticDir })', () => {
  it('serves the web page without a key while the API requires one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-web-'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>twinshot</title>');
    fs.writeFileSync(path.join(dir, 'app.js'), 'console.log(1)');
    const t = await testApp(STORE_CASES[0]!, { requireKeys: true, staticDir: dir });
    try {
      const page = await t.app.inject({ method: 'GET', url: '/' });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<title>twinshot</title>');
      expect((await t.app.inject({ method: 'GET', url: '/app.js' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/v1/galleries' })).statusCode).toBe(401);
      expect((await t.app.inject({ method: 'GET', url: '/missing.js' })).json().error.code).toBe('ERR_NOT_FOUND');
    } finally {
      await t.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('buildApp({ requireKeys: true })', () => {
  it('refuses requests without a key even before any key exists', async () => {
    const t = await testApp(STORE_CASES[0]!, { requireKeys: true });
    try {
      expect((await t.app.inject({ method: 'GET', url: '/v1/galleries' })).statusCode).toBe(401);
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('a server that has required keys', () => {
  it('stays closed when every key is revoked after it started with one on a non-loopback host', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-closed-'));
    const storeUrl = `sqlite:${path.join(dir, 'g.db')}`;
    const keys = await openStore(storeUrl);
    const { key } = await createApiKey(keys, { gallery: '*', scopes: ['read', 'write'] });
    const server = await startServer({
      model: 'pixels',
      store: storeUrl,
      host: '0.0.0.0',
      port: 0,
      logLevel: 'silent',
    });
    try {
      const base = `http://127.0.0.1:${new URL(server.url).port}`;
      expect((await fetch(`${base}/v1/galleries`)).status).toBe(401);
      expect(await keys.revokeKey(key.id)).toBe(true);
      expect(await keys.hasActiveKeys()).toBe(false);
      for (const [method, url] of [
        ['GET', '/v1/galleries'],
        ['PUT', '/v1/galleries/x'],
        ['GET', '/metrics'],
      ] as const) {
        const response = await fetch(`${base}${url}`, { method });
        expect({ url, status: response.status }).toEqual({ url, status: 401 });
      }
      expect(await keys.getGallery('x')).toBeNull();
    } finally {
      await server.close();
      await keys.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stays closed on an open loopback server once a key was created, even after it is revoked', async () => {
    const t = await testApp(STORE_CASES[0]!);
    try {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
      expect((await fetch(`${base}/v1/galleries`)).status).toBe(200);
      const { key } = await createApiKey(t.store, { gallery: '*', scopes: ['read'] });
      expect((await fetch(`${base}/v1/galleries`)).status).toBe(401);
      await t.store.revokeKey(key.id);
      expect((await fetch(`${base}/v1/galleries`)).status).toBe(401);
      expect((await fetch(`${base}/v1/galleries/y`, { method: 'PUT' })).status).toBe(401);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('is closed from the start when an open app listens beyond loopback', async () => {
    const t = await testApp(STORE_CASES[0]!);
    try {
      await t.app.listen({ host: '0.0.0.0', port: 0 });
      const base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
      expect((await fetch(`${base}/v1/galleries`)).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});

describe('createApiKey()', () => {
  it('makes distinct 256-bit tokens and validates gallery and scopes', async () => {
    const t = await testApp(STORE_CASES[0]!);
    try {
      const a = await createApiKey(t.store, { gallery: 'g', scopes: ['read'] });
      const b = await createApiKey(t.store, { gallery: 'g', scopes: ['read'] });
      expect(a.token).toMatch(/^tsk_[A-Za-z0-9_-]{43}$/);
      expect(a.token).not.toBe(b.token);
      expect(a.key.id).not.toBe(b.key.id);
      await expect(createApiKey(t.store, { gallery: 'bad name', scopes: ['read'] })).rejects.toThrow(/gallery name/);
      expect(() => parseScopes('read,admin')).toThrow(/unknown scope 'admin'/);
      expect(parseScopes('write, read')).toEqual(['read', 'write']);
    } finally {
      await t.close();
    }
  });
});
