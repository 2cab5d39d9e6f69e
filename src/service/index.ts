// The recognition service's public surface: the app factory, the server, batching, keys, models.
export { buildApp, type AppOptions, type ServiceLimits, type TwinshotApp } from './app.js';
export { startServer, DEFAULT_STATIC_DIR, type ServerOptions, type RunningServer } from './server.js';
export { BatchingEmbedder, type BatchingOptions } from './batching-embedder.js';
export { loadEmbedder, DEFAULT_MODEL } from './load-embedder.js';
export {
  createApiKey,
  hashToken,
  keyAllows,
  parseScopes,
  KeyChecker,
  type Access,
  type NewKeyOptions,
} from './auth.js';
export { toHttpError, type ErrorBody } from './http-errors.js';
