// Pictures the service keeps with gallery examples, fetched with the API key (an <img src> cannot
// send one) and kept as object URLs until the gallery they show changes.
import { authHeaders } from './api.js';
import { h } from './dom.js';

const cache = new Map<string, Promise<string | null>>();

/** An object URL of the picture at `path` (a path the service gave), or null when it cannot be had. */
function load(path: string): Promise<string | null> {
  let url = cache.get(path);
  if (!url) {
    url = fetch(path, { headers: authHeaders() })
      .then(async (response) => (response.ok ? URL.createObjectURL(await response.blob()) : null))
      .catch(() => null);
    cache.set(path, url);
  }
  return url;
}

/** Lets go of every picture fetched so far (the gallery was cleared, switched or imported into). */
export function forgetPictures(): void {
  for (const url of cache.values()) void url.then((u) => u && URL.revokeObjectURL(u));
  cache.clear();
}

/**
 * A square picture of `side` pixels for `path` (a service path, or an object URL of a picture kept
 * in this browser), filled in when it arrives; a "?" for an example
 * kept without a picture (stored by vector, or taught before the service kept pictures).
 */
export function picture(path: string | null | undefined, side: number, alt = ''): HTMLElement {
  const missing = (): HTMLElement =>
    h(
      'span',
      {
        class: 'no-thumb',
        style: `width: ${side}px; height: ${side}px`,
        title: 'No picture was kept with this example',
        'aria-hidden': alt ? undefined : 'true',
        'aria-label': alt || undefined,
        role: alt ? 'img' : undefined,
      },
      '?',
    );
  if (!path) return missing();
  const image = h('img', { alt, width: side, height: side, class: 'thumb', dataset: { src: path } });
  // A picture kept in this browser (recognition on this device) is already an object URL.
  if (path.startsWith('blob:')) {
    image.src = path;
    return image;
  }
  void load(path).then((url) => {
    if (url) image.src = url;
    else image.replaceWith(missing());
  });
  return image;
}
