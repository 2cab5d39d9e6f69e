// The errors both gallery stores raise, worded the same whichever database is behind them.
import { TwinshotError, isTwinshotError } from '../errors.js';

/** Wraps a database failure as ERR_STORE, naming the backend and what it was doing; our own errors pass through. */
export function storeError(backend: 'SQLite' | 'PostgreSQL', action: string, error: unknown): TwinshotError {
  if (isTwinshotError(error)) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new TwinshotError('ERR_STORE', `${backend} store could not ${action}: ${detail}`, { cause: error });
}

/** ERR_NOT_FOUND for a gallery, with the request that creates it. */
export function galleryNotFound(name: string): TwinshotError {
  return new TwinshotError(
    'ERR_NOT_FOUND',
    `gallery '${name}' does not exist; create it with PUT /v1/galleries/${name}`,
  );
}
