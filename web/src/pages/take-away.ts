// "Take it away" on the Teach page: download the gallery as one file (model identity, vectors and
// pictures), import such a file, and a short snippet that uses the gallery from code.
import { apiKey, authHeaders, call, errorOf, sayError, ApiError } from '../api.js';
import { h, messageLine, replace, say } from '../dom.js';

export interface TakeAwayOptions {
  /** The gallery shown on the page. */
  gallery(): string;
  /** Whether it exists on the service (there is nothing to download before it does). */
  exists(): boolean;
  /** Called after an import, to show what arrived. */
  imported(): Promise<void>;
}

export interface TakeAway {
  element: HTMLElement;
  /** Brings the buttons and the snippets up to date with the gallery and the API key. */
  sync(busy: boolean): void;
}

const galleryPath = (gallery: string, rest: string): string => `/v1/galleries/${encodeURIComponent(gallery)}/${rest}`;

/** The snippets use the API as a program would: the address of this server and this gallery. */
function snippets(gallery: string): { curl: string; fetch: string } {
  const url = `${location.origin}${galleryPath(gallery, 'identify')}?k=3`;
  const keyed = apiKey() !== '';
  const curl = [
    `curl -F image=@drawing.png${keyed ? ' -H "authorization: Bearer $TWINSHOT_KEY"' : ''} \\`,
    `  '${url}'`,
  ].join('\n');
  const fetchCode = [
    "import { readFile } from 'node:fs/promises';",
    '',
    'const form = new FormData();',
    "form.append('image', new Blob([await readFile('drawing.png')]), 'drawing.png');",
    `const response = await fetch('${url}', {`,
    "  method: 'POST',",
    ...(keyed ? ['  headers: { authorization: `Bearer ${process.env.TWINSHOT_KEY}` },'] : []),
    '  body: form,',
    '});',
    'const { label, matches } = await response.json();',
    'console.log(label, matches);',
  ].join('\n');
  return { curl, fetch: fetchCode };
}

export function createTakeAway(options: TakeAwayOptions): TakeAway {
  const download = h('button', { type: 'button', id: 'gallery-download' }, 'Download gallery');
  const importButton = h('button', { type: 'button', id: 'gallery-import' }, 'Import a gallery file…');
  const importInput = h('input', {
    type: 'file',
    accept: '.json,application/json',
    id: 'gallery-import-file',
    class: 'visually-hidden',
    tabindex: -1,
    'aria-hidden': 'true',
  });
  const message = messageLine('take-away-message');
  const curlCode = h('code', { id: 'snippet-curl' });
  const fetchCode = h('code', { id: 'snippet-fetch' });
  const keyNote = h('p', { class: 'hint', id: 'snippet-key-note' });

  const element = h(
    'section',
    { class: 'card take-away', id: 'take-away', 'aria-labelledby': 'take-away-heading' },
    h('h3', { id: 'take-away-heading' }, '3. Take it away'),
    h(
      'p',
      { class: 'hint' },
      'Download the gallery as one file: the identity of the model that made it, and each example’s vector and ' +
        'picture. Import it here or on another server with the same model (classes in the file replace those of ' +
        'the same name), or call this gallery from your own code.',
    ),
    h('div', { class: 'row' }, download, importButton, importInput),
    message,
    h(
      'details',
      { class: 'snippets', id: 'api-snippets' },
      h('summary', {}, 'Use this gallery from code: curl and fetch'),
      h('p', { class: 'hint' }, 'Recognise drawing.png from a shell:'),
      h('pre', {}, curlCode),
      h('p', { class: 'hint' }, 'Or from JavaScript (Node 20 or later, as an ES module; in a browser, send a Blob):'),
      h('pre', {}, fetchCode),
      keyNote,
    ),
  );

  let busy = false;
  function sync(pageBusy: boolean): void {
    download.disabled = pageBusy || busy || !options.exists();
    importButton.disabled = pageBusy || busy;
    const code = snippets(options.gallery());
    curlCode.textContent = code.curl;
    fetchCode.textContent = code.fetch;
    replace(
      keyNote,
      apiKey()
        ? 'This server wants an API key: set TWINSHOT_KEY to one (the page never shows yours).'
        : 'Once the server has API keys, add the header authorization: Bearer KEY.',
    );
  }

  async function run(work: () => Promise<void>): Promise<void> {
    busy = true;
    sync(false);
    try {
      await work();
    } finally {
      busy = false;
      sync(false);
    }
  }

  download.addEventListener(
    'click',
    () =>
      void run(async () => {
        const gallery = options.gallery();
        say(message, `Preparing “${gallery}”…`);
        try {
          let response: Response;
          try {
            response = await fetch(galleryPath(gallery, 'export'), { headers: authHeaders() });
          } catch {
            throw new ApiError(0, 'ERR_UNREACHABLE', 'Cannot reach the twinshot server; start it again, then retry.');
          }
          if (!response.ok) throw await errorOf(response);
          const blob = await response.blob();
          const link = h('a', { href: URL.createObjectURL(blob), download: `${gallery}.twinshot-gallery.json` });
          link.click();
          setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
          say(
            message,
            `Downloaded ${gallery}.twinshot-gallery.json (${Math.max(1, Math.round(blob.size / 1024))} kB).`,
            'ok',
          );
        } catch (error) {
          sayError(message, error);
        }
      }),
  );

  importButton.addEventListener('click', () => importInput.click());
  importInput.addEventListener('change', () => {
    const file = importInput.files?.[0];
    importInput.value = '';
    // One import or download at a time (the button is disabled meanwhile; the input is hidden).
    if (!file || busy) return;
    void run(async () => {
      const gallery = options.gallery();
      let document: unknown;
      try {
        document = JSON.parse(await file.text());
      } catch {
        return say(
          message,
          `${file.name} is not a gallery file: it is not JSON. Choose a file from “Download gallery”.`,
          'error',
        );
      }
      if ((document as { format?: unknown } | null)?.format !== 'twinshot-gallery')
        return say(message, `${file.name} is not a gallery file. Choose a file from “Download gallery”.`, 'error');
      say(message, `Importing ${file.name} into “${gallery}”…`);
      try {
        const answer = await call<{ imported: number }>(
          'POST',
          `${galleryPath(gallery, 'import')}?replace=true`,
          document as object,
        );
        say(message, `Imported ${answer.imported} example${answer.imported === 1 ? '' : 's'} into “${gallery}”.`, 'ok');
        await options.imported();
      } catch (error) {
        sayError(message, error);
      }
    });
  });

  return { element, sync };
}
