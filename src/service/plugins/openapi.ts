// The OpenAPI document (/docs/json) and its UI (/docs), built from the routes' schemas; image
// routes add their multipart fields and raw image bodies through `config.imageDoc`.
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { IMAGE_MEDIA_TYPES } from './bodies.js';

export interface ImageRouteDoc {
  /** Multipart file fields the route reads (any name is accepted; these are documented). */
  files: string[];
  /** Multipart text fields. */
  fields?: Record<string, string>;
  /** Whether a raw image body (one image) is accepted. */
  raw: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** For image routes: the multipart fields and raw bodies OpenAPI should document. */
    imageDoc?: ImageRouteDoc;
  }
}

export const openApi = fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'twinshot recognition service',
          version: '1',
          description:
            'One-shot recognition with a twin network: enrol a class from one image, identify new images, verify pairs. ' +
            'Images go as multipart/form-data files, base64 in JSON (data: URLs accepted), or raw image bytes. ' +
            'Errors are { error: { code, message } }; codes are listed in docs/errors.md.',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'API key from `twinshot keys create`' },
          },
        },
        security: [{ bearer: [] }],
      },
      transform: ({ schema, url, route }) => {
        const doc = route.config?.imageDoc;
        if (!schema || !doc) return { schema, url };
        const properties: Record<string, unknown> = {};
        for (const file of doc.files) properties[file] = { type: 'string', format: 'binary' };
        for (const [field, description] of Object.entries(doc.fields ?? {}))
          properties[field] = { type: 'string', description };
        const body = schema.body as { content?: Record<string, unknown> } | undefined;
        const content: Record<string, unknown> = {
          ...body?.content,
          'multipart/form-data': { schema: { type: 'object', properties } },
        };
        if (doc.raw)
          for (const type of IMAGE_MEDIA_TYPES) content[type] = { schema: { type: 'string', format: 'binary' } };
        return { schema: { ...schema, body: { content } } as typeof schema, url };
      },
    });
    // No badge from the public validator: the page loads nothing from elsewhere (and the CSP forbids it).
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null } });
  },
  { name: 'twinshot-openapi' },
);
