// What every route plugin of the service is given: the recognizer, the metrics, the limits, and
// the one way request images are embedded (so refusals are counted the same everywhere).
import { isTwinshotError } from '../errors.js';
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
}

export const DEFAULT_LIMITS: Required<ServiceLimits> = {
  bodyBytes: 16 * 1024 * 1024,
  imageBytes: 8 * 1024 * 1024,
  imagePixels: 16_000_000,
  imagesPerRequest: 16,
};

export interface ServiceContext {
  recognizer: Recognizer;
  metrics: ServiceMetrics;
  limits: Required<ServiceLimits>;
  /** Decodes and embeds a request's images, counting refusals by code. */
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
        return await recognizer.embed(images);
      } catch (error) {
        if (isTwinshotError(error) && error.status < 500) metrics.imagesRejected.inc({ code: error.code });
        throw error;
      }
    },
  };
}
