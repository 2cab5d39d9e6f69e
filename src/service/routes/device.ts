// What recognition on the visitor's device needs from the service: the served model as an ONNX
// file, and onnxruntime-web's files, served from its npm package (never from a CDN), so a page on a
// machine without internet access still runs the model in the browser.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { TwinshotError } from '../../errors.js';
import { embedderId } from '../../models/embedder.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES } from '../schemas.js';

export interface DeviceOptions {
  /**
   * The served model as an ONNX file (written by `twinshot export`, with its manifest beside it
   * as FILE.json); null or absent when the model has none (the pixel baseline).
   */
  onnxModel?: string | null;
}

/** The files of onnxruntime-web's WebAssembly build the page loads, with their media types. */
const RUNTIME_FILES: Record<string, string> = {
  'ort.wasm.min.mjs': 'text/javascript; charset=utf-8',
  'ort-wasm-simd-threaded.mjs': 'text/javascript; charset=utf-8',
  'ort-wasm-simd-threaded.wasm': 'application/wasm',
};

/** The package's dist/ folder, found the way Node resolves it (so a hoisted install works too). */
function runtimeFolder(): string | null {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  } catch {
    return null;
  }
}

const HOW_TO_EXPORT =
  'export it with `npm run export:models` (the shipped models) or `twinshot export --model DIR --format onnx --out DIR/model.onnx`';

export const deviceRoutes: FastifyPluginAsync<ServiceContext & DeviceOptions> = async (app, options) => {
  const { recognizer } = options;
  const runtime = runtimeFolder();

  app.get<{ Params: { file: string } }>(
    '/ort/:file',
    { config: { access: 'public' }, schema: { hide: true } },
    async (request, reply) => {
      const type = RUNTIME_FILES[request.params.file];
      if (!type || runtime === null)
        throw new TwinshotError('ERR_NOT_FOUND', `no file ${request.params.file} of the browser runtime here`);
      const file = path.join(runtime, request.params.file);
      const stat = await fs.promises.stat(file).catch(() => null);
      if (!stat)
        throw new TwinshotError('ERR_NOT_FOUND', `the browser runtime's ${request.params.file} is not installed`);
      // The package's version names the files' contents: a day's caching is safe.
      reply.header('cache-control', 'public, max-age=86400');
      reply.header('content-length', stat.size);
      reply.type(type);
      return reply.send(fs.createReadStream(file));
    },
  );

  app.get(
    '/v1/model/onnx',
    {
      config: { access: 'any' },
      schema: {
        tags: ['web page'],
        summary:
          'The served model as ONNX, for recognition in the browser (its metadata_props say how to prepare images; see docs/export.md)',
        response: { ...ERROR_RESPONSES },
      },
    },
    async (_request, reply) => {
      const { info } = recognizer.embedder;
      const id = embedderId(info);
      const file = options.onnxModel;
      if (!file)
        throw new TwinshotError(
          'ERR_NOT_FOUND',
          `this server's model (${id}) has no ONNX form; serve a trained model folder`,
        );
      let manifest: { id?: unknown };
      try {
        manifest = JSON.parse(await fs.promises.readFile(`${file}.json`, 'utf8')) as { id?: unknown };
      } catch {
        throw new TwinshotError(
          'ERR_NOT_FOUND',
          `the served model (${id}) has not been exported to ONNX; ${HOW_TO_EXPORT}`,
        );
      }
      // A file exported from other weights would make vectors the server's galleries do not share.
      if (manifest.id !== id) {
        throw new TwinshotError(
          'ERR_CONFLICT',
          `the model's ONNX file was exported from ${String(manifest.id)}, but the server runs ${id}; ${HOW_TO_EXPORT}`,
        );
      }
      const bytes = await fs.promises.readFile(file).catch(() => null);
      if (!bytes)
        throw new TwinshotError(
          'ERR_NOT_FOUND',
          `the served model (${id}) has not been exported to ONNX; ${HOW_TO_EXPORT}`,
        );
      reply.header('cache-control', 'private, no-cache');
      reply.header('etag', `"${id}"`);
      reply.header('content-disposition', `inline; filename="${info.name}.onnx"`);
      reply.type('application/octet-stream');
      return reply.send(bytes);
    },
  );
};
