// Who may call what: rate limiting per client address, then the API-key check of each route's
// `config.access` (onRequest hooks run in registration order, so a flood is refused before any
// key lookup).
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { TwinshotError } from '../../errors.js';
import type { ApiKeyRecord } from '../../gallery/types.js';
import type { Access, KeyChecker } from '../auth.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; routes without it (docs, static files) are public. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The API key the request authenticated with; null on an open server or a public route. */
    apiKey: ApiKeyRecord | null;
  }
}

export interface AccessOptions {
  keys: KeyChecker;
  /** Requests per client address and window, or false for none. */
  rateLimit: { max: number; timeWindowMs: number } | false;
}

export const accessControl = fp<AccessOptions>(
  async (app, options) => {
    app.decorateRequest('apiKey', null);
    if (options.rateLimit !== false) {
      const { max, timeWindowMs } = options.rateLimit;
      await app.register(rateLimit, {
        max,
        timeWindow: timeWindowMs,
        allowList: (request) => request.routeOptions.url === '/healthz',
        errorResponseBuilder: (_request, context) =>
          new TwinshotError(
            'ERR_RATE_LIMITED',
            `rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${context.after}`,
          ),
      });
    }
    app.addHook('onRequest', async (request) => {
      const access = request.routeOptions.config.access;
      if (access === undefined || access === 'public') return;
      const gallery = (request.params as { gallery?: string } | undefined)?.gallery ?? null;
      request.apiKey = await options.keys.check(request.headers.authorization, access, gallery);
    });
  },
  { name: 'twinshot-access' },
);
