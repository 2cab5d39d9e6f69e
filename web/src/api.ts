// Talking to the twinshot service: fetch with the stored API key, errors turned into messages a
// person can act on (the service's own JSON message, or "cannot reach the server").
import { say } from './dom.js';

const KEY_STORAGE = 'twinshot.apiKey';

/** Any failure of a call, with the service's error code when it sent one. */
export class ApiError extends Error {
  constructor(
    /** HTTP status, or 0 when the server could not be reached. */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Listener = (reachable: boolean) => void;
const listeners = new Set<Listener>();

/** Called with false whenever a call cannot reach the server, and with true when one gets through. */
export function onReachability(listener: Listener): void {
  listeners.add(listener);
}

function report(reachable: boolean): void {
  for (const listener of listeners) listener(reachable);
}

export function apiKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function setApiKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lasts until the page is reloaded
  }
}

/** Headers every call sends: the API key, when one is set. */
export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

const UNREACHABLE = (): string =>
  `Cannot reach the twinshot server at ${location.origin}. Is \`twinshot serve\` still running? ` +
  'Start it again, then retry.';

/** Turns a failed response into an ApiError carrying the service's own message. */
export async function errorOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = `The server answered ${response.status} ${response.statusText}.`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) {
      code = body.error.code ?? code;
      message = body.error.message;
    }
  } catch {
    // not JSON (a proxy's error page): keep the status line
  }
  if (response.status === 401)
    message += ' This server needs an API key: enter one under "API key" at the top of the page.';
  if (response.status === 403) message += ' The API key in use lacks this permission.';
  return new ApiError(response.status, code, message);
}

/**
 * Calls the service. `body` is FormData (images as multipart files) or a JSON value.
 * @throws ApiError with status 0 when the server is unreachable, else the service's error
 */
export async function call<T>(
  method: string,
  path: string,
  body?: FormData | object,
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    report(false);
    throw new ApiError(0, 'ERR_UNREACHABLE', UNREACHABLE());
  }
  report(true);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The message to show for anything a call threw. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return `Something went wrong in the page: ${(error as Error)?.message ?? String(error)}`;
}

/** Shows what a call threw on a message line, tagged with its code so it can be cleared when over. */
export function sayError(line: HTMLElement, error: unknown): void {
  say(line, messageOf(error), 'error', error instanceof ApiError ? error.code : 'ERR_PAGE');
}

/** Whether a call was cancelled by its AbortSignal (a newer request took its place). */
export function isAbort(error: unknown): boolean {
  return (error as Error)?.name === 'AbortError';
}

// ---- the service's responses (see docs/service.md) ---------------------------------------------

export interface Health {
  status: 'ok';
  model: string;
  store: string;
}

export interface Match {
  label: string;
  distance: number;
  confidence: number;
}

export interface Identification {
  label: string | null;
  unknown: boolean;
  matches: Match[];
  metric: string;
  threshold: number;
}

export interface Verification {
  same: boolean;
  distance: number;
  confidence: number;
  metric: string;
  threshold: number;
}

export interface GalleryInfo {
  name: string;
  model: string;
  dim: number;
  metric: string;
  createdAt: string;
  classes: number;
  examples: number;
}

export interface ClassSummary {
  label: string;
  examples: number;
  /** Path of a picture of one of its examples (fetch it with the key), or null. */
  picture?: string | null;
}

export interface ExampleSummary {
  id: string;
  createdAt: string;
  picture: string | null;
}

export interface ExplorerCandidate {
  image: string;
  character: string;
  distance: number;
  confidence: number;
}

export interface ExplorerTask {
  seed: number;
  alphabet: string;
  drawers: number[];
  model: string;
  metric: string;
  threshold: number;
  query: { image: string; character: string };
  candidates: ExplorerCandidate[];
  answer: number;
  choice: number;
  correct: boolean;
}

export interface ExplorerResponse {
  available: boolean;
  message?: string;
  task?: ExplorerTask;
}

export interface RunSummary {
  name: string;
  modifiedAt: string;
  bytes: number;
}

export interface MetricsRecord {
  kind: string;
  step: number;
  loss?: number;
  accuracy?: number;
  [key: string]: unknown;
}
