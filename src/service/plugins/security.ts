// Browser-facing defences: security headers (helmet, with a Content-Security-Policy the web page
// and the OpenAPI UI work under), CORS for the origins the operator allows (none by default), and
// a refusal of cross-site state-changing requests, so another site's form cannot enrol into a
// server on this machine.
import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyRequest } from 'fastify';
import { TwinshotError } from '../../errors.js';

export interface SecurityOptions {
  /** Origins (scheme://host[:port]) whose pages may call the API from the browser; default none. */
  corsOrigins: readonly string[];
}

/** The one inline style of @fastify/swagger-ui 6's bundle, as the browser reports it. */
const SWAGGER_UI_STYLE_HASH = 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=';

/** Methods that change nothing: never refused for where they came from. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a browser sent the request from another origin. Sec-Fetch-Site is the browser's own
 * answer (every current browser sends it); without it, the Origin header is compared with the
 * Host the request was sent to. Requests with neither come from outside a browser (curl, a
 * service) and are not cross-site requests.
 */
function crossSiteOrigin(request: FastifyRequest): string | null {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  if (site === 'same-origin' || site === 'none') return null;
  if (site !== undefined) return origin ?? `a ${site} page`;
  if (origin === undefined) return null;
  try {
    return new URL(origin).host === request.headers.host ? null : origin;
  } catch {
    return origin; // 'null' (a sandboxed frame or a file) or garbage
  }
}

/** Normalises an allowed origin; @throws TwinshotError ERR_CONFIG for anything but scheme://host[:port] */
export function checkOrigin(origin: string): string {
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    // reported below
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.origin !== origin.replace(/\/$/, '')) {
    throw new TwinshotError(
      'ERR_CONFIG',
      `CORS origin must be scheme://host[:port], e.g. https://app.example.com; got ${JSON.stringify(origin)}`,
    );
  }
  return url.origin;
}

export const browserSecurity = fp<SecurityOptions>(
  async (app, options) => {
    const allowed = new Set(options.corsOrigins.map(checkOrigin));
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          objectSrc: ["'none'"],
          // 'wasm-unsafe-eval' lets the page compile WebAssembly (onnxruntime-web, recognition on the
          // device, served from /ort/); it allows no eval() of JavaScript.
          scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
          scriptSrcAttr: ["'none'"],
          // Swagger UI (at /docs) inserts one <style> element; its hash lets exactly that one apply.
          // The browser tests fail on any CSP violation of the page or /docs, so an upgrade that
          // changes it is noticed.
          styleSrc: ["'self'", `'${SWAGGER_UI_STYLE_HASH}'`],
          // The explorer's PNGs are data: URLs; an uploaded file is previewed from a blob: URL.
          imgSrc: ["'self'", 'data:', 'blob:'],
          fontSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
        },
      },
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
      // Plain HTTP by design (TLS belongs to the proxy in front): HSTS is the proxy's to send.
      strictTransportSecurity: false,
    });
    if (allowed.size > 0) {
      await app.register(cors, {
        origin: [...allowed],
        methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
        allowedHeaders: ['authorization', 'content-type'],
        exposedHeaders: ['x-request-id', 'retry-after'],
        maxAge: 600,
      });
    }
    app.addHook('onRequest', async (request) => {
      if (SAFE_METHODS.has(request.method)) return;
      const origin = crossSiteOrigin(request);
      if (origin === null || allowed.has(origin)) return;
      throw new TwinshotError(
        'ERR_FORBIDDEN',
        `cross-site ${request.method} refused: a page from ${origin} may not change or use this server. ` +
          'To let a web app on another origin call the API, allow its origin (serve --cors-origin ORIGIN)',
      );
    });
  },
  { name: 'twinshot-security' },
);
