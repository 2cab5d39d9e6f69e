// The error catalog: every error twinshot throws on purpose has a stable code, and the ones
// that can reach HTTP clients carry a status. docs/errors.md lists them; a test keeps both in step.

export const ERROR_CODES = {
  ERR_TORCH: { status: 500, summary: 'libtorch rejected an operation (its message says why)' },
  ERR_NATIVE_LOAD: { status: 500, summary: 'the native addon or libtorch could not be loaded' },
  ERR_ARGUMENT: { status: 400, summary: 'an argument has the wrong value or type' },
  ERR_SHAPE: { status: 400, summary: 'a tensor has the wrong shape' },
  ERR_DTYPE: { status: 400, summary: 'a tensor has the wrong dtype' },
  ERR_DISPOSED: { status: 500, summary: 'a tensor was used after dispose() or outside its scope' },
  ERR_FORMAT: { status: 400, summary: 'a file is not in the expected format (safetensors, checkpoint, manifest)' },
  ERR_IMAGE: { status: 400, summary: 'an image could not be decoded, or is too large' },
  ERR_DATASET: { status: 400, summary: 'a data set is missing, empty or laid out wrongly' },
  ERR_CONFIG: { status: 400, summary: 'a configuration file or option is invalid' },
  ERR_MODEL: { status: 400, summary: 'a model folder is missing or does not match its config' },
  ERR_NOT_FOUND: { status: 404, summary: 'a gallery, class or route does not exist' },
  ERR_CONFLICT: { status: 409, summary: 'the resource already exists or was changed meanwhile' },
  ERR_UNAUTHORIZED: { status: 401, summary: 'an API key is required and was missing or wrong' },
  ERR_FORBIDDEN: {
    status: 403,
    summary: 'the API key lacks the scope for this gallery or action, or the request is not allowed from where it came',
  },
  ERR_TIMEOUT: { status: 408, summary: 'the request was not received in time' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, summary: 'the request body, image or image count is over its limit' },
  ERR_URI_TOO_LONG: { status: 414, summary: 'a path segment of the URL is longer than the service accepts' },
  ERR_UNSUPPORTED_MEDIA: { status: 415, summary: 'the request content type is not supported' },
  ERR_RATE_LIMITED: { status: 429, summary: 'too many requests; retry after the time given' },
  ERR_STORE: { status: 503, summary: 'the gallery store failed (disk full, database down)' },
  ERR_DISTRIBUTED: { status: 500, summary: 'a process group could not form, or a collective failed or timed out' },
  ERR_INTERNAL: { status: 500, summary: 'an unexpected internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every error twinshot throws on purpose. */
export class TwinshotError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_CODES[code].status;
  }
}

/** An error raised inside libtorch; the message starts with the op name. */
export class TorchError extends TwinshotError {
  constructor(message: string) {
    super('ERR_TORCH', message);
  }
}

export class ArgumentError extends TwinshotError {
  constructor(message: string, code: 'ERR_ARGUMENT' | 'ERR_SHAPE' | 'ERR_DTYPE' = 'ERR_ARGUMENT') {
    super(code, message);
  }
}

export class ShapeError extends ArgumentError {
  constructor(message: string) {
    super(message, 'ERR_SHAPE');
  }
}

export class DTypeError extends ArgumentError {
  constructor(message: string) {
    super(message, 'ERR_DTYPE');
  }
}

export function isTwinshotError(error: unknown): error is TwinshotError {
  return error instanceof TwinshotError;
}
