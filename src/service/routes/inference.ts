// Inference without a gallery: the model's vectors for images, and whether two images match.
import type { FastifyPluginAsync } from 'fastify';
import { TwinshotError } from '../../errors.js';
import type { ServiceContext } from '../context.js';
import { readImages } from '../images.js';
import * as S from '../schemas.js';

const tags = ['inference'];

export const inferenceRoutes: FastifyPluginAsync<ServiceContext> = async (app, context) => {
  const { recognizer, limits, embedImages } = context;

  app.post(
    '/v1/embed',
    {
      config: { access: 'any', imageDoc: { files: ['image'], raw: true } },
      schema: {
        tags,
        summary: 'Embed images with the model',
        body: { content: { 'application/json': { schema: S.imagesBody(limits.imagesPerRequest) } } },
        response: { 200: S.EmbedResponse, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { images } = await readImages(request, { maxImages: limits.imagesPerRequest });
      const vectors = await embedImages(images.map((i) => i.bytes));
      const { name, dim, metric } = recognizer.embedder.info;
      return { model: name, dim, metric, embeddings: vectors.map((v) => Array.from(v)) };
    },
  );

  app.post(
    '/v1/verify',
    {
      config: { access: 'any', imageDoc: { files: ['image1', 'image2'], raw: false } },
      schema: {
        tags,
        summary: 'Whether two images show the same class',
        body: { content: { 'application/json': { schema: S.VerifyBody } } },
        response: { 200: S.Verification, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { images } = await readImages(request, { maxImages: 2, jsonKeys: ['image1', 'image2'] });
      if (images.length !== 2)
        throw new TwinshotError(
          'ERR_ARGUMENT',
          `verify needs exactly two images (image1, image2); got ${images.length}`,
        );
      const [a, b] = await embedImages(images.map((i) => i.bytes));
      return recognizer.verifyVectors(a!, b!);
    },
  );
};
