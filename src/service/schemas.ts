// JSON schemas (TypeBox) of the HTTP API: request params, queries and JSON bodies are validated
// against them, responses serialised by them, and the OpenAPI document at /docs built from them.
import { Type, type TSchema } from '@sinclair/typebox';
import { GALLERY_NAME_PATTERN, MAX_K } from '../gallery/gallery.js';

const Base64Image = Type.String({
  minLength: 1,
  description: 'an image file (PNG, JPEG, WebP or GIF) in base64, or a data: URL (canvas.toDataURL())',
});

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable error code, listed in docs/errors.md' }),
      message: Type.String({ description: 'what went wrong and what to do' }),
      requestId: Type.Optional(
        Type.String({ description: 'on server faults: the id under which the log has details' }),
      ),
    }),
  },
  { description: 'every error has this shape' },
);

/** The error responses every route may give. */
export const ERROR_RESPONSES = { '4xx': ErrorResponse, '5xx': ErrorResponse };

export const GalleryParams = Type.Object({
  gallery: Type.String({
    pattern: GALLERY_NAME_PATTERN,
    description: "gallery name: 1-64 letters, digits, '.', '_', '-'",
  }),
});

export const ClassParams = Type.Object({
  gallery: GalleryParams.properties.gallery,
  label: Type.String({ minLength: 1, maxLength: 200, description: 'class label (URL-encoded)' }),
});

const MatchBy = Type.Union([Type.Literal('example'), Type.Literal('mean')], {
  description: "match by each label's nearest example (default) or by its class mean",
});
const K = Type.Integer({ minimum: 1, maximum: MAX_K, description: 'number of labels to rank (default 5)' });

export const IdentifyQuery = Type.Object({ k: Type.Optional(K), by: Type.Optional(MatchBy) });

export function imagesBody(maxImages: number): TSchema {
  return Type.Object({
    image: Type.Optional(Base64Image),
    // The count limit is checked by the handler, so that it answers 413 like multipart uploads do.
    images: Type.Optional(Type.Array(Base64Image, { minItems: 1, description: `at most ${maxImages} images` })),
  });
}

export const IdentifyBody = Type.Object({ image: Base64Image, k: Type.Optional(K), by: Type.Optional(MatchBy) });

export const VerifyBody = Type.Object({
  image1: Type.Optional(Base64Image),
  image2: Type.Optional(Base64Image),
  images: Type.Optional(Type.Array(Base64Image, { minItems: 2, maxItems: 2 })),
});

export const Gallery = Type.Object({
  name: Type.String(),
  model: Type.String({ description: 'model whose vectors the gallery holds' }),
  dim: Type.Integer(),
  metric: Type.Union([Type.Literal('l2'), Type.Literal('cosine'), Type.Literal('l1')]),
  createdAt: Type.String({ format: 'date-time' }),
  classes: Type.Integer(),
  examples: Type.Integer(),
});

export const GalleryList = Type.Object({ galleries: Type.Array(Gallery) });

const PictureUrl = Type.Union([Type.String(), Type.Null()], {
  description: 'path of a picture (GET it with the same key), or null when there is none',
});

export const ClassList = Type.Object({
  classes: Type.Array(
    Type.Object({
      label: Type.String(),
      examples: Type.Integer(),
      picture: Type.Optional(PictureUrl),
    }),
  ),
});

export const ExampleParams = Type.Object({
  gallery: GalleryParams.properties.gallery,
  id: Type.String({ pattern: '^[1-9][0-9]{0,18}$', description: 'example id, as enrolment returned it' }),
});

export const ExampleList = Type.Object({
  label: Type.String(),
  examples: Type.Array(
    Type.Object({
      id: Type.String(),
      createdAt: Type.String({ format: 'date-time' }),
      picture: PictureUrl,
    }),
  ),
});

export const GalleryExport = Type.Object(
  {
    format: Type.Literal('twinshot-gallery'),
    version: Type.Literal(1),
    name: Type.String(),
    model: Type.String({ description: "the model's name and weights digest: only its vectors can be imported" }),
    dim: Type.Integer(),
    metric: Type.String(),
    exportedAt: Type.String({ format: 'date-time' }),
    examples: Type.Array(
      Type.Object({
        label: Type.String(),
        vector: Type.String({ description: 'base64 little-endian float32' }),
        createdAt: Type.String(),
        picture: Type.Optional(Type.String({ description: 'the example’s picture, a PNG in base64' })),
      }),
    ),
  },
  { description: 'a gallery as one file: `twinshot gallery export` writes the same' },
);

export const ExportQuery = Type.Object({
  pictures: Type.Optional(Type.Boolean({ description: 'include the pictures (default true)' })),
});

export const ImportQuery = Type.Object({
  replace: Type.Optional(
    Type.Boolean({ description: 'remove the classes the file holds before adding its examples (default false)' }),
  ),
});

export const ImportResponse = Type.Object({
  gallery: Gallery,
  imported: Type.Integer({ description: 'examples added' }),
});

export const EnrollResponse = Type.Object({
  label: Type.String(),
  added: Type.Integer(),
  ids: Type.Array(Type.String()),
});

export const RemoveResponse = Type.Object({ label: Type.String(), removed: Type.Integer() });

const Match = Type.Object({
  label: Type.String(),
  distance: Type.Number(),
  confidence: Type.Number({ description: 'calibrated probability that the image shows this label' }),
});

export const Identification = Type.Object({
  label: Type.Union([Type.String(), Type.Null()], { description: 'best label, or null when unknown' }),
  unknown: Type.Boolean({ description: "true when no label is within the model's threshold" }),
  matches: Type.Array(Match),
  by: MatchBy,
  metric: Type.String(),
  threshold: Type.Number(),
});

export const Verification = Type.Object({
  same: Type.Boolean(),
  distance: Type.Number(),
  confidence: Type.Number({ description: 'calibrated probability that both images show the same class' }),
  metric: Type.String(),
  threshold: Type.Number(),
});

export const EmbedResponse = Type.Object({
  model: Type.String(),
  dim: Type.Integer(),
  metric: Type.String(),
  embeddings: Type.Array(Type.Array(Type.Number())),
});

export const Health = Type.Object({
  status: Type.Literal('ok'),
  model: Type.String(),
  store: Type.String(),
});
