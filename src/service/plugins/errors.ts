// One error shape for every answer that is not a success: the error handler (statuses from the
// catalog, no internals in 5xx), the 404 of unknown routes, and the request id on every response.
import fp from 'fastify-plugin';
import { toHttpError } from '../http-errors.js';

export const errorReplies = fp(
  async (app) => {
    app.setErrorHandler((error, request, reply) => {
      const http = toHttpError(error, request.id);
      if (http.isServerFault) request.log.error({ err: error }, 'request failed');
      else request.log.info({ code: http.body.error.code }, http.body.error.message);
      if (http.status === 401) reply.header('www-authenticate', 'Bearer realm="twinshot"');
      return reply.code(http.status).send(http.body);
    });
    app.setNotFoundHandler((request, reply) =>
      reply
        .code(404)
        .send({ error: { code: 'ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
    );
    app.addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
  },
  { name: 'twinshot-errors' },
);
