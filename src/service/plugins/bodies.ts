// The request bodies the service reads: JSON, multipart/form-data, and raw image bytes; nothing
// else (text/plain is refused, so a form cannot smuggle a body in as text).
import fp from 'fastify-plugin';
import multipart from '@fastify/multipart';
import type { ServiceLimits } from '../context.js';

/** Image routes accept these besides JSON and multipart; documented in OpenAPI too. */
export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/octet-stream'];

export const requestBodies = fp<{ limits: Required<ServiceLimits> }>(
  async (app, { limits }) => {
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser(IMAGE_MEDIA_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    await app.register(multipart, {
      limits: {
        fileSize: limits.imageBytes,
        files: limits.imagesPerRequest,
        fields: 8,
        fieldSize: 1024,
        parts: limits.imagesPerRequest + 8,
        headerPairs: 64,
      },
    });
  },
  { name: 'twinshot-bodies' },
);
