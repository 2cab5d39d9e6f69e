// Reads the images (and small form fields) of a request, whichever way they came: multipart
// upload, base64 in JSON (data: URLs included, as canvas.toDataURL() makes), or raw image bytes.
import type { FastifyRequest } from 'fastify';
import { isTwinshotError, TwinshotError } from '../errors.js';

export interface RequestImages {
  /** Images in request order, with the form field or JSON key each came from. */
  images: { field: string; bytes: Buffer }[];
  /** Text fields of a multipart form (e.g. k, by); JSON fields stay in request.body. */
  fields: Record<string, string>;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const DATA_URL = /^data:([^;,]*)(;[^,]*)?,/;

/** Decodes one base64 (or base64url, or data: URL) string; `where` names it in errors. */
export function decodeBase64Image(text: unknown, where: string): Buffer {
  if (typeof text !== 'string') throw new TwinshotError('ERR_ARGUMENT', `${where} must be a base64 string`);
  let payload = text;
  const dataUrl = DATA_URL.exec(text);
  if (dataUrl) {
    if (!dataUrl[2]?.includes('base64'))
      throw new TwinshotError('ERR_ARGUMENT', `${where}: data: URLs must be base64-encoded`);
    payload = text.slice(dataUrl[0].length);
  }
  payload = payload.replace(/\s+/g, '');
  if (!BASE64.test(payload)) throw new TwinshotError('ERR_ARGUMENT', `${where} is not valid base64`);
  const bytes = Buffer.from(payload, payload.includes('-') || payload.includes('_') ? 'base64url' : 'base64');
  if (bytes.byteLength === 0) throw new TwinshotError('ERR_IMAGE', `${where} is empty (0 bytes)`);
  return bytes;
}

/**
 * The multipart parser (busboy) throws plain Errors for bodies it cannot read (no boundary, bytes
 * that are not multipart, a part cut off); they are the client's fault, so they become 400s.
 * Coded errors (the multipart limits, ours) pass through unchanged.
 */
function malformedMultipart(error: unknown): unknown {
  if (isTwinshotError(error) || typeof (error as { code?: unknown })?.code === 'string') return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new TwinshotError(
    'ERR_ARGUMENT',
    `the multipart/form-data body could not be read (${reason}); send a complete form with a boundary in its Content-Type, as browsers and curl -F do`,
  );
}

/**
 * Collects a request's images.
 * @param jsonKeys JSON keys that hold one image each (e.g. ['image1', 'image2']); 'images' (an array) and 'image' are always read
 * @throws TwinshotError ERR_ARGUMENT when there is no image; ERR_PAYLOAD_TOO_LARGE over maxImages; ERR_UNSUPPORTED_MEDIA for other bodies
 */
export async function readImages(
  request: FastifyRequest,
  options: { maxImages: number; jsonKeys?: readonly string[] },
): Promise<RequestImages> {
  const images: RequestImages['images'] = [];
  const fields: Record<string, string> = {};
  const tooMany = (): TwinshotError =>
    new TwinshotError('ERR_PAYLOAD_TOO_LARGE', `at most ${options.maxImages} images per request; split the upload`);

  if (request.isMultipart()) {
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          const bytes = await part.toBuffer();
          if (images.length >= options.maxImages) throw tooMany();
          images.push({ field: part.fieldname, bytes });
        } else {
          fields[part.fieldname] = String(part.value);
        }
      }
    } catch (error) {
      throw malformedMultipart(error);
    }
  } else if (Buffer.isBuffer(request.body)) {
    // image/* or application/octet-stream: the body is the image.
    images.push({ field: 'body', bytes: request.body });
  } else if (request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body)) {
    const body = request.body as Record<string, unknown>;
    if (body.images !== undefined) {
      if (!Array.isArray(body.images))
        throw new TwinshotError('ERR_ARGUMENT', 'images must be an array of base64 strings');
      if (body.images.length > options.maxImages) throw tooMany();
      body.images.forEach((text, i) =>
        images.push({ field: 'images', bytes: decodeBase64Image(text, `images[${i}]`) }),
      );
    }
    for (const key of ['image', ...(options.jsonKeys ?? [])]) {
      if (body[key] === undefined) continue;
      if (images.length >= options.maxImages) throw tooMany();
      images.push({ field: key, bytes: decodeBase64Image(body[key], key) });
    }
  } else if (request.body !== undefined && request.body !== null && request.body !== '') {
    throw new TwinshotError('ERR_UNSUPPORTED_MEDIA', 'unsupported body; send JSON, multipart/form-data or image bytes');
  }
  if (images.length === 0) {
    throw new TwinshotError(
      'ERR_ARGUMENT',
      'the request has no image: send multipart/form-data with an image file, JSON {"image": "<base64>"}, ' +
        'or the image bytes with Content-Type image/png (or jpeg, webp, gif)',
    );
  }
  for (const { field, bytes } of images) {
    if (bytes.byteLength === 0) throw new TwinshotError('ERR_IMAGE', `image '${field}' is empty (0 bytes)`);
  }
  return { images, fields };
}
