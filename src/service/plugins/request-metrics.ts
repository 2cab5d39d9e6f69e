// Counts and times every request by method, route template and status (Prometheus, at /metrics).
import fp from 'fastify-plugin';
import type { ServiceMetrics } from '../metrics.js';

export const requestMetrics = fp<{ metrics: ServiceMetrics }>(
  async (app, { metrics }) => {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
      metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
  },
  { name: 'twinshot-request-metrics' },
);
