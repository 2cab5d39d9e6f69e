// Request builders for the service tests: multipart bodies, a huge-but-small PNG, and an app over
// a fresh store with the pixel baseline.
import zlib from 'node:zlib';
import { buildApp, type AppOptions, type TwinshotApp } from '../../src/service/app.js';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import type { StoreCase } from '../gallery/helpers.js';

export interface Part {
  name: string;
  data: Buffer | string;
  filename?: string;
  contentType?: string;
}

/** A multipart/form-data body and its Content-Type header. */
export function multipart(parts: readonly Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----twinshot${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    const type = part.filename ? `\r\nContent-Type: ${part.contentType ?? 'image/png'}` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A valid, complete 1-bit grayscale PNG of width x height, all white (or all black). 20,000 x
 * 20,000 pixels compress to about 50 kB, which is how a decompression bomb slips under body-size limits.
 */
export function blankPng(width: number, height: number, shade: 'white' | 'black' = 'white'): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // grayscale
  const row = Buffer.alloc(1 + Math.ceil(width / 8), shade === 'white' ? 0xff : 0x00);
  row[0] = 0; // filter: none
  const raw = Buffer.alloc(row.length * height);
  for (let y = 0; y < height; y++) row.copy(raw, y * row.length);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface TestApp {
  app: TwinshotApp;
  close(): Promise<void>;
  reopen: () => Promise<import('../../src/gallery/types.js').GalleryStore>;
  url: string;
  store: import('../../src/gallery/types.js').GalleryStore;
}

/** An app over a fresh store of the given kind, the pixel baseline, and no rate limit unless asked. */
export async function testApp(storeCase: StoreCase, options: Partial<AppOptions> = {}): Promise<TestApp> {
  const handle = await storeCase.open();
  const app = await buildApp({
    embedder: new PixelEmbedder(),
    store: handle.store,
    rateLimit: false,
    defaultMetrics: false,
    keyCacheMs: 0,
    ...options,
  });
  return {
    app,
    store: handle.store,
    url: handle.url,
    reopen: handle.reopen,
    close: async () => {
      await app.close();
      await handle.cleanup();
    },
  };
}
