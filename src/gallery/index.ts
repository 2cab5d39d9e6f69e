// The gallery library's public surface: recognizer and galleries, stores and their contract.
export * from './gallery.js';
export * from './types.js';
export { openStore, DEFAULT_STORE_URL } from './open-store.js';
export { SqliteStore, type SqliteStoreOptions, type SqliteSynchronous } from './sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions, redactUrl } from './postgres-store.js';
export { VectorIndex } from './vector-index.js';
