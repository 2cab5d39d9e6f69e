// What every route plugin of the service is given: the recognizer, the metrics, the limits, and
// the one way request images are embedded (so refusals are counted the same everywhere).
import { imageSize } from '../data/image.js';
import { isTwinshotError, TwinshotError } from '../errors.js';
import type { Recognizer } from '../gallery/gallery.js';
import type { ServiceMetrics } from './metrics.js';

export interface ServiceLimits {
  /** Largest JSON or raw-image body, in bytes (default 16 MiB; base64 adds a third). */
  bodyBytes?: number;
  /** Largest uploaded image file, in bytes (default 8 MiB). */
  imageBytes?: number;
  /** Largest image, in pixels (width x height, checked before decoding; default 16 million). */
  imagePixels?: number;
  /** Most images in one request (default 16). */
  imagesPerRequest?: number;
  /**
   * The work one request may ask for: its images' pixels added up (width x height, read from the
   * headers before decoding; default 64 million, four images at the per-image limit).
   */
  requestPixels?: number;
}

export const DEFAULT_LIMITS: Required<ServiceLimits> = {
  bodyBytes: 16 * 1024 * 1024,
  imageBytes: 8 * 1024 * 1024,
  imagePixels: 16_000_000,
  imagesPerRequest: 16,
  requestPixels: 64_000_000,
};

export interface ServiceContext {
  recognizer: Recognizer;
  metrics: ServiceMetrics;
  limits: Required<ServiceLimits>;
  /** Checks the request's work budget, then decodes and embeds its images, counting refusals by code. */
  embedImages(images: readonly Buffer[]): Promise<Float32Array[]>;
}

export function createServiceContext(
  recognizer: Recognizer,
  metrics: ServiceMetrics,
  limits: Required<ServiceLimits>,
): ServiceContext {
  return {
    recognizer,
    metrics,
    limits,
    async embedImages(images) {
      try {
        const sizes = (await Promise.all(images.map(imageSize))).map(({ width, height }) => width * height);
        const pixels = sizes.reduce((sum, n) => sum + n, 0);
        // An image over the per-image limit is refused by the decoder, with a message naming that limit.
        if (pixels > limits.requestPixels && sizes.every((n) => n <= limits.imagePixels)) {
          throw new TwinshotError(
            'ERR_PAYLOAD_TOO_LARGE',
            `the request's ${images.length} images hold ${pixels} pixels in all; the limit is ${limits.requestPixels} ` +
              'pixels per request: send fewer or smaller images, or split them over several requests',
          );
        }
        return await recognizer.embed(images);
      } catch (error) {
        if (isTwinshotError(error) && error.status < 500) metrics.imagesRejected.inc({ code: error.code });
        throw error;
      }
    },
  };
}
