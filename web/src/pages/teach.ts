// Teach and recognise: draw one example of a few new symbols, enrol each into a gallery of the
// service, then draw a query and see the gallery's symbols ranked with confidence bars.
import { ApiError, call, messageOf, type ClassSummary, type Identification } from '../api.js';
import { DrawPad } from '../draw-pad.js';
import { h, messageLine, percent, replace, say } from '../dom.js';
import type { Page } from '../page.js';

const GALLERY_STORAGE = 'twinshot.gallery';
const THUMBS_STORAGE = 'twinshot.thumbnails.';
const DEFAULT_GALLERY = 'playground';
const GALLERY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function stored(key: string, fallback: string): string {
  try {
    return localStorage.getItem(key) ?? fallback;
  } catch {
    return fallback;
  }
}

function store(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // storage disabled or full: thumbnails are a nicety
  }
}

const path = (gallery: string, ...rest: string[]): string =>
  ['/v1/galleries', gallery, ...rest].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join('/');

export function createTeachPage(): Page {
  let gallery = stored(GALLERY_STORAGE, DEFAULT_GALLERY);
  let classes: ClassSummary[] = [];
  let busy = false;

  // The service keeps vectors, not pictures: the page remembers a thumbnail of each taught symbol.
  const thumbs = (): Record<string, string> => {
    try {
      return JSON.parse(stored(THUMBS_STORAGE + gallery, '{}')) as Record<string, string>;
    } catch {
      return {};
    }
  };
  const saveThumbs = (value: Record<string, string> | null): void =>
    store(THUMBS_STORAGE + gallery, value === null ? null : JSON.stringify(value));

  const galleryInput = h('input', {
    id: 'gallery-name',
    value: gallery,
    autocomplete: 'off',
    spellcheck: 'false',
    pattern: GALLERY_NAME.source,
    'aria-describedby': 'gallery-help',
  });
  const clearGallery = h('button', { type: 'button', id: 'clear-gallery', class: 'danger' }, 'Clear gallery');
  const gallerySummary = h('span', { id: 'gallery-summary', class: 'muted' });
  const galleryMessage = messageLine('gallery-message');

  const teachPad = new DrawPad({ id: 'teach-pad', label: 'a new symbol to teach', onChange: () => sync() });
  const labelInput = h('input', {
    id: 'teach-label',
    autocomplete: 'off',
    maxlength: 200,
    placeholder: 'e.g. spiral',
  });
  const teachButton = h('button', { type: 'submit', id: 'teach-add', class: 'primary' }, 'Add to gallery');
  const teachMessage = messageLine('teach-message');
  const taughtList = h('ul', { id: 'taught', class: 'taught', 'aria-label': 'Symbols in the gallery' });

  const queryPad = new DrawPad({ id: 'query-pad', label: 'a symbol to recognise', onChange: () => sync() });
  const recogniseButton = h('button', { type: 'submit', id: 'recognise', class: 'primary' }, 'Recognise');
  const queryMessage = messageLine('query-message');
  const results = h('div', { id: 'results', class: 'results', 'aria-live': 'polite' });

  const teachForm = h(
    'form',
    { class: 'card', 'aria-labelledby': 'teach-heading', novalidate: true },
    h('h3', { id: 'teach-heading' }, '1. Teach a symbol'),
    h('p', { class: 'hint' }, 'Draw one example of a new symbol, name it, and add it. One drawing is enough.'),
    teachPad.element,
    h('div', { class: 'row' }, h('label', { for: 'teach-label' }, 'Name'), labelInput, teachButton),
    teachMessage,
    h('h4', {}, 'In the gallery'),
    taughtList,
  );
  const queryForm = h(
    'form',
    { class: 'card', 'aria-labelledby': 'query-heading', novalidate: true },
    h('h3', { id: 'query-heading' }, '2. Recognise'),
    h('p', { class: 'hint' }, 'Draw one of the symbols again, a little differently, and ask which it is.'),
    queryPad.element,
    h('div', { class: 'row' }, recogniseButton),
    queryMessage,
    results,
  );

  const element = h(
    'section',
    { class: 'page', id: 'page-teach', 'aria-labelledby': 'teach-title' },
    h('h2', { id: 'teach-title' }, 'Teach and recognise'),
    h(
      'p',
      { class: 'lead' },
      'A twin network compares two images. It needs no retraining to learn a new symbol: it stores one ' +
        'embedding of your drawing, and later finds the stored symbol nearest to a new drawing.',
    ),
    h(
      'div',
      { class: 'gallery-bar' },
      h('label', { for: 'gallery-name' }, 'Gallery'),
      galleryInput,
      clearGallery,
      gallerySummary,
      h('span', { id: 'gallery-help', class: 'visually-hidden' }, "Letters, digits, '.', '_' and '-'"),
    ),
    galleryMessage,
    h('div', { class: 'columns' }, teachForm, queryForm),
  );

  function sync(): void {
    teachButton.disabled = busy;
    recogniseButton.disabled = busy;
    clearGallery.disabled = busy;
    const n = classes.reduce((sum, c) => sum + c.examples, 0);
    gallerySummary.textContent =
      classes.length === 0
        ? 'empty'
        : `${classes.length} symbol${classes.length === 1 ? '' : 's'}, ${n} example${n === 1 ? '' : 's'}`;
  }

  function renderTaught(): void {
    const pictures = thumbs();
    if (classes.length === 0) {
      replace(taughtList, h('li', { class: 'empty' }, 'Nothing yet: teach a symbol above.'));
      return;
    }
    replace(
      taughtList,
      ...classes.map((c) =>
        h(
          'li',
          { dataset: { label: c.label } },
          pictures[c.label]
            ? h('img', { src: pictures[c.label], alt: '', width: 40, height: 40 })
            : h('span', { class: 'no-thumb', 'aria-hidden': 'true' }, '?'),
          h('span', { class: 'taught-label' }, c.label),
          h('span', { class: 'muted' }, `${c.examples} example${c.examples === 1 ? '' : 's'}`),
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              'aria-label': `Remove ${c.label}`,
              onclick: () => void removeClass(c.label),
            },
            'Remove',
          ),
        ),
      ),
    );
  }

  async function withBusy(work: () => Promise<void>): Promise<void> {
    busy = true;
    sync();
    try {
      await work();
    } finally {
      busy = false;
      sync();
    }
  }

  let loads = 0;
  async function loadClasses(): Promise<void> {
    // Only the latest load counts: switching galleries quickly must not show the previous one's list.
    const load = ++loads;
    try {
      const listed = (await call<{ classes: ClassSummary[] }>('GET', path(gallery, 'classes'))).classes;
      if (load !== loads) return;
      classes = listed;
      say(galleryMessage, '');
    } catch (error) {
      if (load !== loads) return;
      classes = [];
      // A gallery that does not exist yet is simply empty: it is created on the first enrolment.
      if (!(error instanceof ApiError && error.status === 404)) say(galleryMessage, messageOf(error), 'error');
      else say(galleryMessage, '');
    }
    renderTaught();
    sync();
  }

  async function teach(): Promise<void> {
    const label = labelInput.value.trim();
    if (teachPad.isEmpty()) return say(teachMessage, 'Draw the symbol (or upload an image) first.', 'error');
    if (!label) {
      labelInput.focus();
      return say(teachMessage, 'Give the symbol a name first.', 'error');
    }
    await withBusy(async () => {
      say(teachMessage, `Adding “${label}”…`);
      try {
        const image = await teachPad.toBlob();
        await call('PUT', path(gallery));
        const form = new FormData();
        form.append('image', image, 'drawing.png');
        await call('POST', path(gallery, 'classes', label, 'examples'), form);
        saveThumbs({ ...thumbs(), [label]: teachPad.thumbnail() });
        say(teachMessage, `Added “${label}”. Teach another symbol, or draw one on the right to recognise it.`, 'ok');
        teachPad.clear();
        labelInput.value = '';
        await loadClasses();
      } catch (error) {
        say(teachMessage, messageOf(error), 'error');
      }
    });
  }

  async function removeClass(label: string): Promise<void> {
    await withBusy(async () => {
      try {
        await call('DELETE', path(gallery, 'classes', label));
        const pictures = thumbs();
        delete pictures[label];
        saveThumbs(pictures);
        say(galleryMessage, `Removed “${label}”.`, 'ok');
        await loadClasses();
      } catch (error) {
        say(galleryMessage, messageOf(error), 'error');
      }
    });
  }

  async function recognise(): Promise<void> {
    if (queryPad.isEmpty()) return say(queryMessage, 'Draw a symbol (or upload an image) first.', 'error');
    if (classes.length === 0) return say(queryMessage, 'The gallery is empty: teach a symbol first.', 'error');
    await withBusy(async () => {
      say(queryMessage, 'Comparing…');
      try {
        const form = new FormData();
        form.append('image', await queryPad.toBlob(), 'query.png');
        form.append('k', '5');
        const result = await call<Identification>('POST', path(gallery, 'identify'), form);
        say(queryMessage, '');
        renderResults(result);
      } catch (error) {
        say(queryMessage, messageOf(error), 'error');
      }
    });
  }

  function renderResults(result: Identification): void {
    const best = result.matches[0];
    const verdict = result.unknown
      ? h(
          'p',
          { class: 'verdict unknown', id: 'verdict' },
          h('strong', {}, 'Unknown'),
          best
            ? `: nothing in the gallery is close enough. The nearest, “${best.label}”, is ${best.distance.toFixed(2)} away; ` +
                `the model calls a match at ${result.threshold.toFixed(2)} or less.`
            : ': the gallery is empty.',
        )
      : h(
          'p',
          { class: 'verdict', id: 'verdict' },
          'It looks like ',
          h('strong', {}, `“${result.label}”`),
          best ? ` (${percent(best.confidence)} sure).` : '.',
        );
    const pictures = thumbs();
    replace(
      results,
      verdict,
      h(
        'ol',
        { class: 'matches', id: 'matches', 'aria-label': 'Ranked matches' },
        ...result.matches.map((m, i) =>
          h(
            'li',
            { dataset: { label: m.label }, class: i === 0 && !result.unknown ? 'best' : '' },
            pictures[m.label]
              ? h('img', { src: pictures[m.label], alt: '', width: 32, height: 32 })
              : h('span', { class: 'no-thumb', 'aria-hidden': 'true' }, '?'),
            h('span', { class: 'match-label' }, m.label),
            h(
              'span',
              {
                class: 'bar',
                role: 'meter',
                'aria-valuemin': 0,
                'aria-valuemax': 100,
                'aria-valuenow': Math.round(100 * m.confidence),
                'aria-label': `confidence for ${m.label}`,
              },
              h('span', { class: 'fill', style: `width: ${(100 * m.confidence).toFixed(1)}%` }),
            ),
            h('span', { class: 'pct' }, percent(m.confidence)),
            h('span', { class: 'dist muted' }, `d = ${m.distance.toFixed(2)}`),
          ),
        ),
      ),
    );
  }

  teachForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void teach();
  });
  queryForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void recognise();
  });
  clearGallery.addEventListener('click', () => {
    void withBusy(async () => {
      try {
        await call('DELETE', path(gallery));
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) return say(galleryMessage, messageOf(error), 'error');
      }
      saveThumbs(null);
      replace(results);
      say(galleryMessage, `Cleared gallery “${gallery}”.`, 'ok');
      await loadClasses();
    });
  });
  galleryInput.addEventListener('change', () => {
    const name = galleryInput.value.trim();
    if (!GALLERY_NAME.test(name)) {
      say(galleryMessage, "A gallery name is 1-64 letters, digits, '.', '_' or '-'.", 'error');
      return;
    }
    gallery = name;
    store(GALLERY_STORAGE, name);
    replace(results);
    void loadClasses();
  });

  renderTaught();
  sync();
  return {
    element,
    show: () => void loadClasses(),
    hide: () => {},
  };
}
