// Teach and recognise: draw (or upload, or photograph) examples of a few new symbols, enrol each
// into a gallery of the service, grow a class example by example and look at its examples, draw a
// query and see the gallery's symbols ranked with confidence bars after every stroke, and take the
// gallery away (take-away.ts).
import { ApiError, isAbort, messageOf, sayError, type ClassSummary, type Identification } from '../api.js';
import { DrawPad } from '../draw-pad.js';
import { h, messageLine, percent, replace, say, unsay } from '../dom.js';
import { loadDeviceModel, type DeviceModel } from '../device/model.js';
import type { GalleryBackend } from '../galleries/backend.js';
import { deviceGalleries } from '../galleries/device.js';
import { serverGalleries } from '../galleries/server.js';
import type { Page } from '../page.js';
import { forgetPictures, picture } from '../pictures.js';
import { createTakeAway } from './take-away.js';

const GALLERY_STORAGE = 'twinshot.gallery';
/** 'server' or 'device': where recognition ran when the page was last used. */
const WHERE_STORAGE = 'twinshot.where';
/** Where earlier versions of the page kept thumbnails; the service keeps pictures now. */
const OLD_THUMBS_STORAGE = 'twinshot.thumbnails.';
const DEFAULT_GALLERY = 'playground';
const GALLERY_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/**
 * The same rule for the input's `pattern` attribute, which browsers compile with the `v` flag
 * (anchored for us): there a '-' inside a class must be escaped.
 */
const GALLERY_NAME_ATTRIBUTE = '[A-Za-z0-9._\\-]{1,64}';
/** The service's label rule (checkLabel in src/gallery/gallery.ts): checked here before sending. */
const MAX_LABEL = 200;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
/** Quiet time after a stroke before the drawing is recognised (a new stroke restarts it). */
const LIVE_DELAY_MS = 250;

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
    // storage disabled or full: the gallery name is a nicety
  }
}

/** Drops the thumbnails earlier versions of the page kept in this browser. */
function forgetOldThumbnails(): void {
  try {
    for (const key of Object.keys(localStorage)) if (key.startsWith(OLD_THUMBS_STORAGE)) localStorage.removeItem(key);
  } catch {
    // storage disabled: nothing was kept
  }
}

/** What is wrong with a label, or null when the service will take it. */
function labelProblem(label: string): string | null {
  if (!label) return 'Give the symbol a name first.';
  if (label.length > MAX_LABEL)
    return `A name can be at most ${MAX_LABEL} characters; this one has ${label.length}. Shorten it.`;
  if (CONTROL_CHARACTERS.test(label)) return 'A name cannot contain line breaks or other control characters.';
  return null;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function createTeachPage(): Page {
  let gallery = stored(GALLERY_STORAGE, DEFAULT_GALLERY);
  /** Whether the gallery exists on the service (null until the first look). */
  let exists: boolean | null = null;
  let classes: ClassSummary[] = [];
  let busy = false;
  const server = serverGalleries();
  let backend: GalleryBackend = server;
  /** The model running in this browser, once loaded (kept: switching back and forth is instant). */
  let deviceModel: Promise<DeviceModel> | null = null;
  /** Classes whose examples are shown (kept across re-renders). */
  const opened = new Set<string>();
  forgetOldThumbnails();

  const whereServer = h('input', { type: 'radio', name: 'where', value: 'server', id: 'where-server', checked: true });
  const whereDevice = h('input', { type: 'radio', name: 'where', value: 'device', id: 'where-device' });
  const whereStatus = h('p', { id: 'where-status', class: 'where-status', role: 'status', 'aria-live': 'polite' });
  const where = h(
    'fieldset',
    { class: 'where', id: 'where' },
    h('legend', {}, 'Where recognition runs'),
    h(
      'div',
      { class: 'where-choices' },
      h('label', { for: 'where-server' }, whereServer, ' On the server'),
      h('label', { for: 'where-device' }, whereDevice, ' On this device'),
    ),
    whereStatus,
  );

  const galleryInput = h('input', {
    id: 'gallery-name',
    value: gallery,
    autocomplete: 'off',
    spellcheck: 'false',
    pattern: GALLERY_NAME_ATTRIBUTE,
    'aria-describedby': 'gallery-help',
  });
  const clearGallery = h('button', { type: 'button', id: 'clear-gallery', class: 'danger' }, 'Clear gallery');
  const gallerySummary = h('span', { id: 'gallery-summary', class: 'muted' });
  const galleryMessage = messageLine('gallery-message');

  const teachPad = new DrawPad({
    id: 'teach-pad',
    label: 'a new symbol to teach',
    multiple: true,
    onChange: () => {
      if (!busy) unsay(teachMessage);
    },
  });
  const labelInput = h('input', {
    id: 'teach-label',
    autocomplete: 'off',
    placeholder: 'e.g. spiral',
    'aria-describedby': 'teach-label-help',
  });
  const teachButton = h('button', { type: 'submit', id: 'teach-add', class: 'primary' }, 'Add to gallery');
  const teachMessage = messageLine('teach-message');
  const taughtList = h('ul', { id: 'taught', class: 'taught', 'aria-label': 'Symbols in the gallery' });

  const queryPad = new DrawPad({ id: 'query-pad', label: 'a symbol to recognise', onChange: () => queryChanged() });
  const recogniseButton = h('button', { type: 'submit', id: 'recognise', class: 'primary' }, 'Recognise');
  const queryMessage = messageLine('query-message');
  const results = h('div', { id: 'results', class: 'results', 'aria-live': 'polite' });

  const teachForm = h(
    'form',
    { class: 'card level', 'aria-labelledby': 'teach-heading', novalidate: true },
    h(
      'div',
      { class: 'card-head' },
      h('h3', { id: 'teach-heading' }, '1. Teach a symbol'),
      h(
        'p',
        { class: 'hint' },
        'Draw one example of a new symbol, name it, and add it. One drawing is enough; you can also upload several ' +
          'images of it at once.',
      ),
    ),
    h(
      'div',
      { class: 'card-body' },
      teachPad.element,
      h('div', { class: 'row' }, h('label', { for: 'teach-label' }, 'Name'), labelInput, teachButton),
      h('span', { id: 'teach-label-help', class: 'visually-hidden' }, `Up to ${MAX_LABEL} characters`),
      teachMessage,
      h('h4', {}, 'In the gallery'),
      taughtList,
    ),
  );
  const queryForm = h(
    'form',
    { class: 'card level', 'aria-labelledby': 'query-heading', novalidate: true },
    h(
      'div',
      { class: 'card-head' },
      h('h3', { id: 'query-heading' }, '2. Recognise'),
      h(
        'p',
        { class: 'hint' },
        'Draw one of the symbols again, a little differently: it is recognised after every stroke.',
      ),
    ),
    h(
      'div',
      { class: 'card-body' },
      queryPad.element,
      h('div', { class: 'row' }, recogniseButton),
      queryMessage,
      results,
    ),
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
    where,
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
  const takeAway = createTakeAway({
    gallery: () => gallery,
    exists: () => exists === true,
    imported: async () => {
      exists = true;
      forgetPictures();
      await loadClasses();
      queryChanged();
    },
  });
  element.append(takeAway.element);

  function sync(): void {
    teachButton.disabled = busy;
    clearGallery.disabled = busy || exists !== true;
    const n = classes.reduce((sum, c) => sum + c.examples, 0);
    gallerySummary.textContent =
      classes.length === 0 ? 'empty' : `${plural(classes.length, 'symbol')}, ${plural(n, 'example')}`;
    takeAway.sync(busy);
  }

  function renderTaught(): void {
    if (classes.length === 0) {
      replace(taughtList, h('li', { class: 'empty' }, 'Nothing yet: teach a symbol above.'));
      return;
    }
    for (const label of opened) if (!classes.some((c) => c.label === label)) opened.delete(label);
    replace(
      taughtList,
      ...classes.map((c, i) => {
        const stripId = `examples-${i}`;
        const strip = h('ol', {
          class: 'examples-strip',
          id: stripId,
          'aria-label': `Examples of ${c.label}`,
          hidden: !opened.has(c.label),
        });
        const toggle = h(
          'button',
          {
            type: 'button',
            class: 'small examples-toggle',
            'aria-expanded': String(opened.has(c.label)),
            'aria-controls': stripId,
            'aria-label': `Examples of ${c.label}`,
            onclick: () => {
              if (opened.has(c.label)) opened.delete(c.label);
              else opened.add(c.label);
              toggle.setAttribute('aria-expanded', String(opened.has(c.label)));
              strip.hidden = !opened.has(c.label);
              if (opened.has(c.label)) void showExamples(c.label, strip);
            },
          },
          'Examples',
        );
        if (opened.has(c.label)) void showExamples(c.label, strip);
        return h(
          'li',
          { dataset: { label: c.label } },
          picture(c.picture, 40),
          h('span', { class: 'taught-label' }, c.label),
          h('span', { class: 'muted taught-count' }, plural(c.examples, 'example')),
          h(
            'span',
            { class: 'class-actions' },
            toggle,
            h(
              'button',
              {
                type: 'button',
                class: 'small add-example',
                'aria-label': `Add an example to ${c.label}`,
                onclick: () => void addExample(c.label),
              },
              'Add example',
            ),
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
          strip,
        );
      }),
    );
  }

  /** Fills a class's strip with the pictures of its examples, oldest first. */
  async function showExamples(label: string, strip: HTMLElement): Promise<void> {
    replace(strip, h('li', { class: 'muted' }, 'Loading…'));
    try {
      const examples = await backend.examples(gallery, label);
      replace(
        strip,
        ...examples.map((e, i) =>
          h('li', { dataset: { id: e.id } }, picture(e.picture, 56, `Example ${i + 1} of ${label}`)),
        ),
      );
    } catch (error) {
      replace(strip);
      sayError(galleryMessage, error);
    }
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
      // A gallery that does not exist yet is simply empty (it is created on the first enrolment), so
      // look it up in the list rather than asking for its classes and getting a 404.
      const found = await backend.exists(gallery);
      if (load !== loads) return;
      const listed = found ? await backend.classes(gallery) : [];
      if (load !== loads) return;
      exists = found;
      classes = listed;
      if (galleryMessage.dataset.kind === 'error') unsay(galleryMessage);
    } catch (error) {
      if (load !== loads) return;
      if (error instanceof ApiError && error.status === 404) {
        // deleted in between, by another tab or client
        exists = false;
        classes = [];
      } else sayError(galleryMessage, error);
    }
    renderTaught();
    sync();
  }

  async function teach(): Promise<void> {
    const label = labelInput.value.trim();
    if (teachPad.isEmpty()) return say(teachMessage, 'Draw the symbol (or upload an image) first.', 'error');
    const problem = labelProblem(label);
    if (problem) {
      labelInput.focus();
      return say(teachMessage, problem, 'error');
    }
    await enrol(label);
  }

  /** "Add example" on a class: the drawing on the teach pad becomes one more example of it. */
  async function addExample(label: string): Promise<void> {
    if (teachPad.isEmpty()) {
      labelInput.value = label;
      teachPad.canvas.scrollIntoView({ block: 'nearest' });
      return say(
        teachMessage,
        `Draw another example of “${label}” above (or upload images of it), then press Add to gallery.`,
      );
    }
    await enrol(label);
  }

  async function enrol(label: string): Promise<void> {
    const known = classes.find((c) => c.label === label);
    await withBusy(async () => {
      const count = teachPad.count;
      say(teachMessage, `Adding “${label}”${count > 1 ? ` (${count} images)` : ''}…`);
      try {
        await backend.enrol(gallery, label, await teachPad.toBlobs());
        exists = true;
        // Known at once, so recognition works even if the refresh below does not get through.
        classes = known
          ? classes.map((c) => (c.label === label ? { ...c, examples: c.examples + count } : c))
          : [...classes, { label, examples: count, picture: null }];
        sync(); // the summary agrees with the message below from the start
        // Cleared before the message: clearing the pad clears its messages.
        teachPad.clear();
        labelInput.value = '';
        say(
          teachMessage,
          known
            ? `Added ${plural(count, 'example')} to “${label}” (now ${known.examples + count}).`
            : `Added “${label}”${count > 1 ? ` with ${count} examples` : ''}. Teach another symbol, or draw it ` +
                'again in “2. Recognise” to test it.',
          'ok',
        );
        await loadClasses();
        if (!queryPad.isEmpty()) void recognise();
      } catch (error) {
        sayError(teachMessage, error);
      }
    });
  }

  async function removeClass(label: string): Promise<void> {
    await withBusy(async () => {
      try {
        await backend.removeClass(gallery, label);
        say(galleryMessage, `Removed “${label}”.`, 'ok');
        await loadClasses();
        queryChanged();
      } catch (error) {
        sayError(galleryMessage, error);
      }
    });
  }

  // ---- recognition: after each stroke (debounced), the newest drawing only ---------------------
  let liveTimer: number | undefined;
  let inflight: AbortController | null = null;

  function cancelRecognition(): void {
    window.clearTimeout(liveTimer);
    inflight?.abort();
    inflight = null;
    results.removeAttribute('aria-busy');
  }

  function queryChanged(): void {
    cancelRecognition();
    if (queryPad.isEmpty()) {
      replace(results);
      unsay(queryMessage);
      return;
    }
    liveTimer = window.setTimeout(() => void recognise(), LIVE_DELAY_MS);
  }

  async function recognise(): Promise<void> {
    cancelRecognition();
    if (queryPad.isEmpty()) return say(queryMessage, 'Draw a symbol (or upload an image) first.', 'error');
    if (classes.length === 0) {
      replace(results);
      return say(queryMessage, 'The gallery is empty: teach a symbol in “1. Teach a symbol” first.', 'error');
    }
    const controller = new AbortController();
    inflight = controller;
    results.setAttribute('aria-busy', 'true');
    say(queryMessage, 'Recognising…');
    try {
      const image = await queryPad.toBlob();
      if (controller.signal.aborted) return;
      const result = await backend.identify(gallery, image, 5, controller.signal);
      if (controller !== inflight) return;
      unsay(queryMessage);
      renderResults(result);
    } catch (error) {
      if (isAbort(error) || controller !== inflight) return;
      replace(results);
      sayError(queryMessage, error);
    } finally {
      if (controller === inflight) {
        inflight = null;
        results.removeAttribute('aria-busy');
      }
    }
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
    const pictures = new Map(classes.map((c) => [c.label, c.picture]));
    replace(
      results,
      verdict,
      h(
        'ol',
        { class: 'matches', id: 'matches', 'aria-label': 'Ranked matches' },
        ...result.matches.map((m, i) =>
          h(
            'li',
            {
              dataset: { label: m.label, distance: m.distance.toFixed(6) },
              class: i === 0 && !result.unknown ? 'best' : '',
            },
            picture(pictures.get(m.label), 32),
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
      h(
        'p',
        { class: 'hint', id: 'confidence-note' },
        'Each percentage is the model’s calibrated probability that your drawing shows that symbol, judged for ' +
          'each symbol on its own, so together they need not add up to 100%. d is the distance between the two ' +
          `embeddings; the model calls a match at ${result.threshold.toFixed(2)} or less.`,
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
  labelInput.addEventListener('input', () => {
    if (teachMessage.dataset.kind === 'error') unsay(teachMessage);
  });
  clearGallery.addEventListener('click', () => {
    void withBusy(async () => {
      try {
        await backend.clear(gallery);
      } catch (error) {
        return sayError(galleryMessage, error);
      }
      forgetPictures();
      opened.clear();
      cancelRecognition();
      replace(results);
      unsay(queryMessage);
      say(galleryMessage, `Cleared gallery “${gallery}”.`, 'ok');
      await loadClasses();
    });
  });
  galleryInput.addEventListener('input', () => {
    if (galleryMessage.dataset.kind === 'error') unsay(galleryMessage);
  });
  galleryInput.addEventListener('change', () => {
    const name = galleryInput.value.trim();
    if (!GALLERY_NAME.test(name)) {
      say(galleryMessage, "A gallery name is 1-64 letters, digits, '.', '_' or '-'.", 'error');
      return;
    }
    gallery = name;
    exists = null;
    forgetPictures();
    opened.clear();
    store(GALLERY_STORAGE, name);
    unsay(galleryMessage);
    cancelRecognition();
    replace(results);
    unsay(queryMessage);
    void loadClasses().then(() => {
      if (!queryPad.isEmpty()) queryChanged();
    });
  });

  // ---- where recognition runs: the service, or this browser ----------------------------------
  let device: GalleryBackend | null = null;

  /** Marks the page with where recognition runs; on the server, says so (the device says more once loaded). */
  function sayWhere(): void {
    element.dataset.where = backend.where;
    takeAway.element.hidden = backend.where === 'device';
    if (backend.where === 'server')
      say(
        whereStatus,
        'On the server: each drawing is sent to the twinshot server, which runs the model and keeps the gallery.',
      );
  }

  async function switchTo(place: 'server' | 'device'): Promise<void> {
    store(WHERE_STORAGE, place);
    if (place === 'device') {
      whereDevice.checked = true;
      say(whereStatus, 'Loading the model and its runtime into this browser (about 15 MB the first time)…');
      try {
        deviceModel ??= loadDeviceModel();
        const model = await deviceModel;
        if (!whereDevice.checked) return; // switched back while it loaded
        device ??= deviceGalleries(model);
        backend = device;
        say(
          whereStatus,
          `On this device: the model ${model.id} runs in this browser (onnxruntime-web). Drawings and this ` +
            'gallery stay here (IndexedDB); once the model has loaded, no server is needed.',
          'ok',
        );
      } catch (error) {
        deviceModel = null;
        whereServer.checked = true;
        backend = server;
        store(WHERE_STORAGE, 'server');
        sayWhere();
        say(
          whereStatus,
          `Recognition on this device is not available: ${messageOf(error)} It stays on the server.`,
          'error',
        );
        return;
      }
    } else {
      whereServer.checked = true;
      backend = server;
    }
    sayWhere();
    // Another place holds another gallery: show what it holds.
    exists = null;
    classes = [];
    forgetPictures();
    opened.clear();
    cancelRecognition();
    replace(results);
    unsay(queryMessage);
    renderTaught();
    sync();
    await loadClasses();
    if (!queryPad.isEmpty()) queryChanged();
  }

  whereServer.addEventListener('change', () => void switchTo('server'));
  whereDevice.addEventListener('change', () => void switchTo('device'));
  sayWhere();
  if (stored(WHERE_STORAGE, 'server') === 'device') void switchTo('device');

  renderTaught();
  sync();
  return {
    element,
    show: () => void loadClasses(),
    hide: () => {
      teachPad.stopCamera();
      queryPad.stopCamera();
    },
  };
}
