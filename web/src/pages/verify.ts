// Verify: two drawings or uploads, and the model's probability that they show the same class.
import { call, sayError, type Verification } from '../api.js';
import { DrawPad } from '../draw-pad.js';
import { h, messageLine, percent, replace, say, unsay } from '../dom.js';
import type { Page } from '../page.js';

export function createVerifyPage(): Page {
  // A new drawing makes the last answer, and any message about the last images, stale.
  const changed = (): void => {
    replace(result);
    unsay(message);
  };
  const padA = new DrawPad({ id: 'verify-a', label: 'first image', onChange: changed });
  const padB = new DrawPad({ id: 'verify-b', label: 'second image', onChange: changed });
  const compare = h('button', { type: 'submit', id: 'verify-compare', class: 'primary' }, 'Compare');
  const message = messageLine('verify-message');
  const result = h('div', { id: 'verify-result', class: 'verify-result', 'aria-live': 'polite' });

  const form = h(
    'form',
    { novalidate: true },
    h(
      'div',
      { class: 'columns' },
      h('div', { class: 'card' }, h('h3', {}, 'First image'), padA.element),
      h('div', { class: 'card' }, h('h3', {}, 'Second image'), padB.element),
    ),
    h('div', { class: 'row center' }, compare),
    message,
    result,
  );

  const element = h(
    'section',
    { class: 'page', id: 'page-verify', 'aria-labelledby': 'verify-title' },
    h('h2', { id: 'verify-title' }, 'Verify'),
    h(
      'p',
      { class: 'lead' },
      'The two halves of a twin network embed two images with the same weights; the distance between the ' +
        'embeddings, calibrated, is the probability that both show the same symbol.',
    ),
    form,
  );

  function render(v: Verification): void {
    replace(
      result,
      h(
        'p',
        { class: `verdict ${v.same ? 'same' : 'different'}`, id: 'verify-verdict' },
        h('strong', { id: 'verify-probability' }, percent(v.confidence)),
        ' probability that they show the same symbol: ',
        h('strong', {}, v.same ? 'same' : 'different'),
        '.',
      ),
      h(
        'span',
        {
          class: 'bar large',
          role: 'meter',
          'aria-valuemin': 0,
          'aria-valuemax': 100,
          'aria-valuenow': Math.round(100 * v.confidence),
          'aria-label': 'probability of the same class',
        },
        h('span', { class: 'fill', style: `width: ${(100 * v.confidence).toFixed(1)}%` }),
      ),
      h(
        'p',
        { class: 'muted' },
        `Distance ${v.distance.toFixed(3)} (${v.metric}); the model calls a match at ${v.threshold.toFixed(3)} or less.`,
      ),
    );
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      if (padA.isEmpty() || padB.isEmpty()) return say(message, 'Draw or upload both images first.', 'error');
      compare.disabled = true;
      say(message, 'Comparing…');
      try {
        const body = new FormData();
        body.append('image1', await padA.toBlob(), 'image1.png');
        body.append('image2', await padB.toBlob(), 'image2.png');
        render(await call<Verification>('POST', '/v1/verify', body));
        say(message, '');
      } catch (error) {
        replace(result);
        sayError(message, error);
      } finally {
        compare.disabled = false;
      }
    })();
  });

  return {
    element,
    show: () => {},
    hide: () => {
      padA.stopCamera();
      padB.stopCamera();
    },
  };
}
