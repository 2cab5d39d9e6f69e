// Prometheus metrics of one service instance, in a registry of its own (never the global one),
// so several apps in one process (tests, benchmarks) do not share or clash.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  registry: Registry;
  /** Requests by method, route template and status code. */
  requests: Counter<'method' | 'route' | 'status'>;
  /** Request duration in seconds by method and route template. */
  requestSeconds: Histogram<'method' | 'route'>;
  /** Images per inner embed call (how well micro-batching gathers requests). */
  embedBatchImages: Histogram;
  embedBatchSeconds: Histogram;
  /** Gallery search duration by store kind and match mode. */
  searchSeconds: Histogram<'store' | 'by'>;
  /** Images refused, by error code. */
  imagesRejected: Counter<'code'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'twinshot_' });
  const seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  return {
    registry,
    requests: new Counter({
      name: 'twinshot_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'twinshot_http_request_duration_seconds',
      help: 'HTTP request duration by method and route',
      labelNames: ['method', 'route'] as const,
      buckets: seconds,
      registers: [registry],
    }),
    embedBatchImages: new Histogram({
      name: 'twinshot_embed_batch_images',
      help: 'Images per model call after micro-batching',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    embedBatchSeconds: new Histogram({
      name: 'twinshot_embed_batch_duration_seconds',
      help: 'Duration of one model call',
      buckets: seconds,
      registers: [registry],
    }),
    searchSeconds: new Histogram({
      name: 'twinshot_gallery_search_duration_seconds',
      help: 'Gallery search duration by store and match mode',
      labelNames: ['store', 'by'] as const,
      buckets: seconds,
      registers: [registry],
    }),
    imagesRejected: new Counter({
      name: 'twinshot_images_rejected_total',
      help: 'Uploaded images refused, by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
}
