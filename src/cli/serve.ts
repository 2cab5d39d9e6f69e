// `twinshot serve`: the recognition service over HTTP (see docs/service.md).
import fs from 'node:fs';
import type { Command } from 'commander';

function integer(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer from ${min} to ${max}; got '${value}'`);
    return n;
  };
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve enrolment, identification and verification over HTTP (OpenAPI at /docs)')
    .option(
      '--model <dir>',
      "trained model folder, or 'pixels' for the raw-pixel baseline (default: models/omniglot-fast)",
    )
    .option(
      '--store <url>',
      'gallery store: sqlite:PATH or postgres://USER@HOST/DB',
      'sqlite:./twinshot-data/gallery.db',
    )
    .option('--port <n>', 'TCP port (0 picks a free one)', integer('--port', 0, 65535), 8080)
    .option('--host <address>', 'address to bind; other than loopback only once API keys exist', '127.0.0.1')
    .option('--require-keys', 'require an API key on every request even before any key exists')
    .option(
      '--max-batch <n>',
      'most images per model call when batching concurrent requests',
      integer('--max-batch', 1, 4096),
      32,
    )
    .option('--max-delay-ms <n>', 'longest wait to fill a batch, in ms', integer('--max-delay-ms', 0, 1000), 2)
    .option(
      '--rate-limit <n>',
      'requests per minute per client address (0: no limit)',
      integer('--rate-limit', 0, 1e9),
      600,
    )
    .option(
      '--cors-origin <origins>',
      'comma-separated origins (https://app.example.com) whose pages may call the API from a browser; default none',
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', 'info')
    .option('--runs <dir>', "training runs the web page's dashboard follows (<dir>/<run>/metrics.jsonl)", './runs')
    .action(
      async (options: {
        model?: string;
        store: string;
        port: number;
        host: string;
        requireKeys?: boolean;
        maxBatch: number;
        maxDelayMs: number;
        rateLimit: number;
        logLevel: string;
        corsOrigin?: string;
        runs: string;
      }) => {
        const { startServer, DEFAULT_STATIC_DIR } = await import('../service/server.js');
        const server = await startServer({
          model: options.model,
          store: options.store,
          port: options.port,
          host: options.host,
          requireKeys: options.requireKeys ?? false,
          logLevel: options.logLevel,
          app: {
            batching: { maxBatch: options.maxBatch, maxDelayMs: options.maxDelayMs },
            rateLimit: options.rateLimit === 0 ? false : { max: options.rateLimit, timeWindowMs: 60_000 },
            web: { runsDir: options.runs },
            corsOrigins: (options.corsOrigin ?? '')
              .split(',')
              .map((o) => o.trim())
              .filter(Boolean),
          },
        });
        const { info } = server.app.recognizer.embedder;
        console.log(
          `twinshot serve: listening on ${server.url} (model ${info.name}, store ${server.app.recognizer.store.location}, ` +
            `API keys ${server.requireKeys ? 'required' : 'not required: open to this machine only'}); API docs at ${server.url}/docs`,
        );
        console.log(
          fs.existsSync(`${DEFAULT_STATIC_DIR}/index.html`)
            ? `twinshot serve: web page at ${server.url}/`
            : 'twinshot serve: the web page is not built; run `npx vite build web` (or scripts/setup.sh) and restart',
        );
        const stop = (signal: string): void => {
          console.log(`twinshot serve: ${signal}, shutting down`);
          server.close().then(
            () => process.exit(0),
            (error: unknown) => {
              console.error(`twinshot serve: shutdown failed: ${(error as Error).message}`);
              process.exit(1);
            },
          );
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      },
    );
}
