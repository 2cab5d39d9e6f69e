// A gallery's classes: list them, enrol examples of one (keeping a picture of each), list a
// class's examples and fetch their pictures, remove a class, and identify an image against them.
import type { FastifyPluginAsync } from 'fastify';
import { TwinshotError } from '../../errors.js';
import { checkLabel } from '../../gallery/gallery.js';
import type { MatchMode } from '../../gallery/types.js';
import type { ServiceContext } from '../context.js';
import { readImages } from '../images.js';
import * as S from '../schemas.js';

const tags = ['galleries'];

type GalleryParams = { gallery: string };
type ClassParams = { gallery: string; label: string };
type ExampleParams = { gallery: string; id: string };

/** Where an example's picture is served (the routes below). */
const pictureUrl = (gallery: string, id: string): string =>
  `/v1/galleries/${encodeURIComponent(gallery)}/examples/${encodeURIComponent(id)}/picture`;

export const classRoutes: FastifyPluginAsync<ServiceContext> = async (app, context) => {
  const { recognizer, metrics, limits, embedImages } = context;

  app.get<{ Params: GalleryParams }>(
    '/v1/galleries/:gallery/classes',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'List the classes of a gallery with their example counts and a picture of each',
        params: S.GalleryParams,
        response: { 200: S.ClassList, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const gallery = await recognizer.gallery(request.params.gallery);
      const classes = await gallery.listWithPictures();
      return {
        classes: classes.map((c) => ({
          ...c,
          picture: c.picture === null ? null : pictureUrl(gallery.name, c.picture),
        })),
      };
    },
  );

  app.get<{ Params: ClassParams }>(
    '/v1/galleries/:gallery/classes/:label/examples',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: "A class's examples, oldest first, each with the path of its picture (null when it has none)",
        params: S.ClassParams,
        response: { 200: S.ExampleList, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const gallery = await recognizer.gallery(request.params.gallery);
      const examples = await gallery.examples(request.params.label);
      return {
        label: request.params.label,
        examples: examples.map((e) => ({
          id: e.id,
          createdAt: e.createdAt,
          picture: e.hasPicture ? pictureUrl(gallery.name, e.id) : null,
        })),
      };
    },
  );

  app.get<{ Params: ExampleParams }>(
    '/v1/galleries/:gallery/examples/:id/picture',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: "An example's picture (PNG, at most 256 pixels a side), as enrolled",
        params: S.ExampleParams,
        response: { ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const gallery = await recognizer.gallery(request.params.gallery);
      const picture = await gallery.picture(request.params.id);
      // Ids of a deleted and re-created gallery can repeat: revalidate rather than cache for long.
      reply.header('cache-control', 'private, no-cache');
      reply.header('x-content-type-options', 'nosniff');
      reply.type(picture.type);
      return reply.send(Buffer.from(picture.bytes));
    },
  );

  app.post<{ Params: ClassParams }>(
    '/v1/galleries/:gallery/classes/:label/examples',
    {
      config: { access: 'write', imageDoc: { files: ['image'], raw: true } },
      schema: {
        tags,
        summary: 'Enrol one or more example images of a class (one is enough)',
        params: S.ClassParams,
        body: { content: { 'application/json': { schema: S.imagesBody(limits.imagesPerRequest) } } },
        response: { 201: S.EnrollResponse, ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const label = checkLabel(request.params.label);
      const gallery = await recognizer.gallery(request.params.gallery);
      const { images } = await readImages(request, { maxImages: limits.imagesPerRequest });
      const vectors = await embedImages(images.map((i) => i.bytes));
      const ids = await gallery.enrollVectors(vectors.map((vector) => ({ label, vector })));
      // The images were read above (embedImages), so making their pictures cannot fail on them.
      await gallery.keepPictures(
        ids,
        images.map((i) => i.bytes),
      );
      reply.code(201);
      return { label, added: ids.length, ids };
    },
  );

  app.delete<{ Params: ClassParams }>(
    '/v1/galleries/:gallery/classes/:label',
    {
      config: { access: 'write' },
      schema: {
        tags,
        summary: 'Remove a class and all its examples',
        params: S.ClassParams,
        response: { 200: S.RemoveResponse, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { label } = request.params;
      const gallery = await recognizer.gallery(request.params.gallery);
      const removed = await gallery.remove(label);
      if (removed === 0) throw new TwinshotError('ERR_NOT_FOUND', `gallery '${gallery.name}' has no class '${label}'`);
      return { label, removed };
    },
  );

  app.post<{ Params: GalleryParams; Querystring: { k?: number; by?: MatchMode } }>(
    '/v1/galleries/:gallery/identify',
    {
      config: {
        access: 'read',
        imageDoc: { files: ['image'], fields: { k: 'labels to rank', by: 'example or mean' }, raw: true },
      },
      schema: {
        tags,
        summary: "Rank the gallery's classes for an image; label is null when nothing is within the threshold",
        params: S.GalleryParams,
        querystring: S.IdentifyQuery,
        body: { content: { 'application/json': { schema: S.IdentifyBody } } },
        response: { 200: S.Identification, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const gallery = await recognizer.gallery(request.params.gallery);
      const { images, fields } = await readImages(request, { maxImages: 1 });
      const query = request.query;
      const body = (Buffer.isBuffer(request.body) ? {} : (request.body ?? {})) as { k?: number; by?: MatchMode };
      const k = body.k ?? (fields.k !== undefined ? Number(fields.k) : undefined) ?? query.k ?? 5;
      const by = body.by ?? (fields.by as MatchMode | undefined) ?? query.by ?? 'example';
      const vectors = await embedImages(images.map((i) => i.bytes));
      const started = performance.now();
      const [result] = await gallery.identifyVectors(vectors, { k, by });
      metrics.searchSeconds.observe({ store: recognizer.store.kind, by }, (performance.now() - started) / 1000);
      return result!;
    },
  );
};
