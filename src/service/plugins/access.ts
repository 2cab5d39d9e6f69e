// Who may call what: rate limiting per client address, then (on an open server) the loopback
// Host check, then the API-key check of each route's `config.access` (onRequest hooks run in
// registration order, so a flood is refused before any key lookup).
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { TwinshotError } from '../../errors.js';
import type { ApiKeyRecord } from '../../gallery/types.js';
import type { Access, KeyChecker } from '../auth.js';
import { isLoopbackHost } from '../loopback.js';

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
      // An open server answers only to its loopback names, so a page that rebinds its own DNS name
      // to 127.0.0.1 cannot read or change the galleries (no key exists to keep it out).
      const host = request.headers.host;
      if (!isLoopbackHost(host) && !(await options.keys.isRequired())) {
        throw new TwinshotError(
          'ERR_FORBIDDEN',
          `this server has no API key, so it answers only requests addressed to localhost, 127.0.0.1 or [::1]; ` +
            `got Host ${JSON.stringify(host ?? '')} (a guard against DNS rebinding). Use http://127.0.0.1:PORT/, or create an API key`,
        );
      }
      const access = request.routeOptions.config.access;
      if (access === undefined || access === 'public') return;
      const gallery = (request.params as { gallery?: string } | undefined)?.gallery ?? null;
      request.apiKey = await options.keys.check(request.headers.authorization, access, gallery);
    });
  },
  { name: 'twinshot-access' },
);
