// What the service hands the web page for recognition on the visitor's device
// (src/service/routes/device.ts): onnxruntime-web's files from its npm package, and the served
// model's ONNX export, only when that export was made from the weights the server runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { createApiKey } from '../../src/service/auth.js';
import { STORE_CASES } from '../gallery/helpers.js';
import { testApp, type TestApp } from './helpers.js';

const sqlite = STORE_CASES.find((c) => c.name === 'sqlite')!;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-device-routes-'));
const onnx = path.join(dir, 'model.onnx');
const apps: TestApp[] = [];

async function app(options: Parameters<typeof testApp>[1] = {}): Promise<TestApp> {
  const made = await testApp(sqlite, options);
  apps.push(made);
  return made;
}

function expectError(response: { statusCode: number; json: () => unknown }, status: number, code: string): string {
  const body = response.json() as { error: { code: string; message: string } };
  expect({ status: response.statusCode, code: body.error.code }).toEqual({ status, code });
  expect(ERROR_CODES[code as keyof typeof ERROR_CODES].status).toBe(status);
  return body.error.message;
}

beforeAll(() => {
  fs.writeFileSync(onnx, Buffer.from([8, 9, 18, 7]));
});

afterAll(async () => {
  for (const a of apps) await a.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('GET /ort/:file', () => {
  it("serves onnxruntime-web's WebAssembly build from its package, without a key, and nothing else", async () => {
    const t = await app({ requireKeys: true });
    const script = await t.app.inject({ url: '/ort/ort.wasm.min.mjs' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toContain('onnxruntime');
    const wasm = await t.app.inject({ url: '/ort/ort-wasm-simd-threaded.wasm' });
    expect(wasm.statusCode).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect(wasm.rawPayload.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d])); // "\0asm"
    expect(Number(wasm.headers['content-length'])).toBe(wasm.rawPayload.length);
    for (const url of ['/ort/ort.min.mjs', '/ort/..%2Fpackage.json', '/ort/ort-wasm-simd-threaded.jsep.wasm'])
      expectError(await t.app.inject({ url }), 404, 'ERR_NOT_FOUND');
  });
});

describe('GET /v1/model/onnx', () => {
  it("answers 404 with what to do when the server's model has no ONNX export", async () => {
    const none = await app();
    expect(expectError(await none.app.inject({ url: '/v1/model/onnx' }), 404, 'ERR_NOT_FOUND')).toMatch(
      /pixels-16.*no ONNX form/,
    );
    const missing = await app({ onnxModel: path.join(dir, 'absent.onnx') });
    const message = expectError(await missing.app.inject({ url: '/v1/model/onnx' }), 404, 'ERR_NOT_FOUND');
    expect(message).toContain('npm run export:models');
    expect(message).not.toContain(dir);
  });

  it('refuses an export of other weights (409) and serves the one of the served model', async () => {
    fs.writeFileSync(`${onnx}.json`, JSON.stringify({ format: 'twinshot-onnx', id: 'pixels-16@000000000000' }));
    const t = await app({ onnxModel: onnx });
    expect(expectError(await t.app.inject({ url: '/v1/model/onnx' }), 409, 'ERR_CONFLICT')).toMatch(
      /exported from pixels-16@000000000000, but the server runs pixels-16/,
    );
    fs.writeFileSync(`${onnx}.json`, JSON.stringify({ format: 'twinshot-onnx', id: 'pixels-16' }));
    const served = await t.app.inject({ url: '/v1/model/onnx' });
    expect(served.statusCode).toBe(200);
    expect(served.headers['content-type']).toBe('application/octet-stream');
    expect(served.headers.etag).toBe('"pixels-16"');
    expect(served.rawPayload).toEqual(fs.readFileSync(onnx));
  });

  it('needs a key once keys exist, like the other model routes', async () => {
    const t = await app({ onnxModel: onnx, requireKeys: true });
    expectError(await t.app.inject({ url: '/v1/model/onnx' }), 401, 'ERR_UNAUTHORIZED');
    const { token } = await createApiKey(t.store, { gallery: 'g', scopes: ['read'] });
    const served = await t.app.inject({ url: '/v1/model/onnx', headers: { authorization: `Bearer ${token}` } });
    expect(served.statusCode).toBe(200);
  });
});
