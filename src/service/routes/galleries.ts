// Galleries as a resource: list the ones a key may read, create, describe and delete one.
import type { FastifyPluginAsync } from 'fastify';
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
};
