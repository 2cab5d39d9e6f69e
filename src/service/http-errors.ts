// Maps anything thrown while serving a request to one response shape, { error: { code, message } },
// with a status from the error catalog. Client mistakes keep their message; server faults never do.
import { ERROR_CODES, isTwinshotError, type ErrorCode } from '../errors.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId?: string };
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  /** True for faults of the server (5xx): log them, with their details, under the request id. */
  isServerFault: boolean;
}

/** Fastify's and its plugins' own error codes, and what they mean in the catalog. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'ERR_UNSUPPORTED_MEDIA',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_ARGUMENT',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_ARGUMENT',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_ARGUMENT',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'ERR_PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'ERR_PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'ERR_PAYLOAD_TOO_LARGE',
  FST_PROTO_VIOLATION: 'ERR_ARGUMENT',
  FST_ERR_VALIDATION: 'ERR_ARGUMENT',
  FST_ERR_BAD_URL: 'ERR_ARGUMENT',
  FST_ERR_MAX_PARAM_LENGTH: 'ERR_URI_TOO_LONG',
  FST_ERR_CTP_INVALID_TYPE: 'ERR_UNSUPPORTED_MEDIA',
  ERR_HTTP_REQUEST_TIMEOUT: 'ERR_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'ERR_PAYLOAD_TOO_LARGE',
};

/** Plain-language messages for framework errors whose own wording is terse or internal. */
const FRAMEWORK_MESSAGES: Partial<Record<string, string>> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty; send a JSON object',
  FST_ERR_CTP_INVALID_MEDIA_TYPE:
    'unsupported Content-Type; send application/json, multipart/form-data, or the image bytes as image/png, image/jpeg, image/webp or image/gif',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'the request is not multipart/form-data',
  FST_REQ_FILE_TOO_LARGE: 'an uploaded file is larger than the per-image limit',
  FST_FILES_LIMIT: 'too many images in one request',
  FST_PARTS_LIMIT: 'too many parts in one multipart request',
  FST_FIELDS_LIMIT: 'too many form fields in one request',
  FST_ERR_BAD_URL:
    'the URL is not valid: a path segment holds a malformed percent-encoding (write each byte as %XX of UTF-8)',
  FST_ERR_MAX_PARAM_LENGTH: 'a path segment of the URL is too long (labels are at most 200 characters)',
  ERR_HTTP_REQUEST_TIMEOUT: 'the request was not received in time; send the whole request without pausing',
  HPE_HEADER_OVERFLOW: 'the request headers are too large',
};

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'ERR_UNAUTHORIZED';
    case 403:
      return 'ERR_FORBIDDEN';
    case 408:
      return 'ERR_TIMEOUT';
    case 404:
      return 'ERR_NOT_FOUND';
    case 409:
      return 'ERR_CONFLICT';
    case 413:
    case 431:
      return 'ERR_PAYLOAD_TOO_LARGE';
    case 414:
      return 'ERR_URI_TOO_LONG';
    case 415:
      return 'ERR_UNSUPPORTED_MEDIA';
    case 429:
      return 'ERR_RATE_LIMITED';
    default:
      return status >= 500 ? 'ERR_INTERNAL' : 'ERR_ARGUMENT';
  }
}

/**
 * The response for an error. 4xx keep a message that says what to fix; 5xx say only what kind
 * of fault it was and the request id, as their messages may name files, hosts or SQL.
 */
export function toHttpError(error: unknown, requestId: string): HttpError {
  let code: ErrorCode;
  let message: string;
  if (isTwinshotError(error)) {
    code = error.code;
    message = error.message;
  } else {
    const e = (error ?? {}) as { code?: unknown; statusCode?: unknown; message?: unknown; validation?: unknown };
    const frameworkCode = typeof e.code === 'string' ? e.code : '';
    const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
    code = FRAMEWORK_CODES[frameworkCode] ?? (e.validation ? 'ERR_ARGUMENT' : codeForStatus(status));
    message = FRAMEWORK_MESSAGES[frameworkCode] ?? (typeof e.message === 'string' ? e.message : 'request failed');
    // JSON.parse's SyntaxError reaches here without a framework code in some paths.
    if (error instanceof SyntaxError && status === 400) code = 'ERR_ARGUMENT';
  }
  const status = ERROR_CODES[code].status;
  const isServerFault = status >= 500;
  if (isServerFault) {
    message =
      code === 'ERR_STORE'
        ? `the gallery store is unavailable; retry later (request ${requestId})`
        : `internal error (request ${requestId}); the server log has the details`;
  }
  return { status, body: { error: { code, message, ...(isServerFault ? { requestId } : {}) } }, isServerFault };
}
