// Galleries as a resource: list the ones a key may read, create, describe and delete one, and
// take one away as a file (export) and bring it back (import).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { GalleryExport } from '../../gallery/gallery.js';
import { TwinshotError } from '../../errors.js';
import { keyAllows } from '../auth.js';
import type { ServiceContext } from '../context.js';
import * as S from '../schemas.js';

const tags = ['galleries'];

export const galleryRoutes: FastifyPluginAsync<ServiceContext> = async (app, { recognizer }) => {
  app.get(
    '/v1/galleries',
    {
      config: { access: 'any' },
      schema: {
        tags,
        summary: 'List the galleries this key may read',
        response: { 200: S.GalleryList, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const all = await recognizer.listGalleries();
      const key = request.apiKey;
      return { galleries: key ? all.filter((g) => keyAllows(key, g.name, 'read')) : all };
    },
  );

  app.put<{ Params: { gallery: string } }>(
    '/v1/galleries/:gallery',
    {
      config: { access: 'write' },
      schema: {
        tags,
        summary: "Create a gallery for this server's model (200 when it exists already)",
        params: S.GalleryParams,
        response: { 200: S.Gallery, 201: S.Gallery, ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { gallery, created } = await recognizer.createGallery(request.params.gallery);
      reply.code(created ? 201 : 200);
      return gallery.info();
    },
  );

  app.get<{ Params: { gallery: string } }>(
    '/v1/galleries/:gallery',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'Describe a gallery',
        params: S.GalleryParams,
        response: { 200: S.Gallery, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => (await recognizer.gallery(request.params.gallery)).info(),
  );

  app.delete<{ Params: { gallery: string } }>(
    '/v1/galleries/:gallery',
    {
      config: { access: 'write' },
      schema: {
        tags,
        summary: 'Delete a gallery and all its examples',
        params: S.GalleryParams,
        response: { ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { gallery } = request.params;
      if (!(await recognizer.deleteGallery(gallery)))
        throw new TwinshotError('ERR_NOT_FOUND', `gallery '${gallery}' does not exist`);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { gallery: string }; Querystring: { pictures?: boolean } }>(
    '/v1/galleries/:gallery/export',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'The gallery as one file: its model identity, every vector, and each example’s picture',
        params: S.GalleryParams,
        querystring: S.ExportQuery,
        response: { 200: S.GalleryExport, ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const gallery = await recognizer.gallery(request.params.gallery);
      const document = await gallery.export({ pictures: request.query.pictures ?? true });
      reply.header('content-disposition', `attachment; filename="${gallery.name}.twinshot-gallery.json"`);
      return document;
    },
  );

  app.post<{ Params: { gallery: string }; Querystring: { replace?: boolean }; Body: GalleryExport }>(
    '/v1/galleries/:gallery/import',
    {
      config: { access: 'write' },
      schema: {
        tags,
        summary:
          'Add the examples of an export (GET …/export, or `twinshot gallery export`) to a gallery, creating it if needed',
        params: S.GalleryParams,
        querystring: S.ImportQuery,
        // Checked by Gallery#import, whose messages say what is wrong with the file.
        body: {
          content: {
            'application/json': {
              schema: Type.Object({}, { additionalProperties: true, description: 'a gallery export (see /export)' }),
            },
          },
        },
        response: { 200: S.ImportResponse, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { gallery, created } = await recognizer.createGallery(request.params.gallery);
      let imported: number;
      try {
        imported = await gallery.import(request.body, { replace: request.query.replace ?? false });
      } catch (error) {
        // A refused file leaves no empty gallery behind.
        if (created) await recognizer.deleteGallery(gallery.name);
        throw error;
      }
      return { gallery: await gallery.info(), imported };
    },
  );
};
