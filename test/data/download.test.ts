import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile } from '../../src/data/download.js';
import { tempDir } from './helpers.js';

const payload = crypto.randomBytes(200_000);
const md5 = crypto.createHash('md5').update(payload).digest('hex');
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/images_background.zip') {
      res.writeHead(200, { 'content-length': payload.length });
      // In pieces, so progress is reported more than once.
      res.write(payload.subarray(0, 100_000));
      setTimeout(() => res.end(payload.subarray(100_000)), 10);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('downloadFile()', () => {
  it('downloads with progress, checks the MD5, and finds the file present next time', async () => {
    const dir = tempDir();
    const progress: number[] = [];
    const target = { url: `${base}/images_background.zip`, file: 'images_background.zip', md5 };
    const result = await downloadFile(target, dir, { onProgress: (_file, received) => progress.push(received) });
    expect(result.status).toBe('downloaded');
    expect(fs.readFileSync(path.join(dir, 'images_background.zip')).equals(payload)).toBe(true);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toBe(payload.length);
    expect((await downloadFile(target, dir)).status).toBe('present');
  });

  it('writes nothing when the checksum does not match', async () => {
    const dir = tempDir();
    const target = { url: `${base}/images_background.zip`, file: 'images_background.zip', md5: '0'.repeat(32) };
    await expect(downloadFile(target, dir)).rejects.toThrow(
      /has MD5 [0-9a-f]{32}, expected 0{32}: the download is damaged .*nothing was written/,
    );
    expect(fs.existsSync(path.join(dir, 'images_background.zip'))).toBe(false);
  });

  it('says where to put the file when the server is unreachable or answers an error', async () => {
    const dir = tempDir();
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(downloadFile({ url: `http://127.0.0.1:${port}/x.zip`, file: 'x.zip' }, dir)).rejects.toThrow(
      expect.objectContaining({
        code: 'ERR_DATASET',
        message: expect.stringMatching(
          /could not reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\); download .* by hand and put it in .* as x\.zip/,
        ),
      }),
    );
    await expect(downloadFile({ url: `${base}/missing.zip`, file: 'm.zip' }, dir)).rejects.toThrow(/answered HTTP 404/);
  });
});
