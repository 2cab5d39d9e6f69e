// One error shape for every answer that is not a success: the error handler (statuses from the
// catalog, no internals in 5xx), the 404 of unknown routes, and the request id on every response.
import http from 'node:http';
import type { Socket } from 'node:net';
import fp from 'fastify-plugin';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { toHttpError } from '../http-errors.js';

/**
 * Fastify's `frameworkErrors` option: what its router refuses before any route or hook runs (a
 * malformed percent-encoding, an over-long path segment) is answered in the service's shape too.
 */
export function frameworkErrorReply(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const answer = toHttpError(error, request.id);
  request.log.info({ code: answer.body.error.code }, answer.body.error.message);
  void reply.code(answer.status).header('x-request-id', request.id).send(answer.body);
}

/**
 * Fastify's `clientErrorHandler` option: requests Node's HTTP parser refuses (malformed, headers
 * too large, or too slow: the request timeouts) get a JSON body in the service's shape before the
 * socket closes. There is no request yet, so no request id.
 */
export function clientErrorReply(
  this: { log: FastifyBaseLogger },
  error: Error & { code?: string },
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = toHttpError(error, '');
  this.log.info({ code: answer.body.error.code, err: error.message }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify(answer.body);
    socket.write(
      `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The server options that route Fastify's own refusals through the service's error shape. */
export const ERROR_SERVER_OPTIONS = {
  frameworkErrors: frameworkErrorReply,
  clientErrorHandler: clientErrorReply,
} satisfies Partial<FastifyServerOptions>;

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
