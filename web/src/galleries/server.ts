// The gallery kept by the twinshot service: every call is one HTTP request (see docs/service.md).
import {
  ApiError,
  call,
  type ClassSummary,
  type ExampleSummary,
  type GalleryInfo,
  type Identification,
} from '../api.js';
import type { GalleryBackend } from './backend.js';

/** The service's default of images per request (limits.imagesPerRequest): larger uploads go in parts. */
const IMAGES_PER_REQUEST = 16;

/** '/v1/galleries/g/classes/a%20b': each part after the prefix URL-encoded. */
export const galleryPath = (gallery: string, ...rest: string[]): string =>
  ['/v1/galleries', gallery, ...rest].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join('/');

export function serverGalleries(): GalleryBackend {
  /** Galleries this page has seen exist, so enrolment creates each only once. */
  const known = new Set<string>();
  return {
    where: 'server',

    // Looked up in the list rather than by asking for its classes, which would answer 404 (and
    // log an error in the browser's console) for a gallery that is simply not there yet.
    async exists(gallery) {
      const { galleries } = await call<{ galleries: GalleryInfo[] }>('GET', '/v1/galleries');
      const found = galleries.some((g) => g.name === gallery);
      if (found) known.add(gallery);
      else known.delete(gallery);
      return found;
    },

    async classes(gallery) {
      return (await call<{ classes: ClassSummary[] }>('GET', galleryPath(gallery, 'classes'))).classes;
    },

    async examples(gallery, label) {
      return (await call<{ examples: ExampleSummary[] }>('GET', galleryPath(gallery, 'classes', label, 'examples')))
        .examples;
    },

    async enrol(gallery, label, images) {
      if (!known.has(gallery)) await call('PUT', galleryPath(gallery));
      known.add(gallery);
      for (let start = 0; start < images.length; start += IMAGES_PER_REQUEST) {
        const form = new FormData();
        images
          .slice(start, start + IMAGES_PER_REQUEST)
          .forEach((image, i) => form.append('image', image, `example-${start + i + 1}.png`));
        await call('POST', galleryPath(gallery, 'classes', label, 'examples'), form);
      }
    },

    async removeClass(gallery, label) {
      await call('DELETE', galleryPath(gallery, 'classes', label));
    },

    async clear(gallery) {
      known.delete(gallery);
      try {
        await call('DELETE', galleryPath(gallery));
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
    },

    async identify(gallery, image, k, signal) {
      const form = new FormData();
      form.append('image', image, 'query.png');
      form.append('k', String(k));
      const started = performance.now();
      const result = await call<Identification>('POST', galleryPath(gallery, 'identify'), form, signal);
      // The round trip, beside the device's embedding time (docs/web.md: on this device).
      performance.measure('twinshot:server:identify', { start: started, end: performance.now() });
      return result;
    },
  };
}
