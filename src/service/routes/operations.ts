// Operations routes: liveness with store reachability (public, never rate-limited) and metrics.
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceContext } from '../context.js';
import * as S from '../schemas.js';

const tags = ['operations'];

export const operationRoutes: FastifyPluginAsync<ServiceContext> = async (app, { recognizer, metrics }) => {
  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Liveness and store reachability',
        security: [],
        response: { 200: S.Health, ...S.ERROR_RESPONSES },
      },
    },
    async () => {
      await recognizer.store.ping();
      return { status: 'ok' as const, model: recognizer.embedder.info.name, store: recognizer.store.kind };
    },
  );

  app.get(
    '/metrics',
    { config: { access: 'any' }, schema: { tags, summary: 'Prometheus metrics (text format)' } },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
};
