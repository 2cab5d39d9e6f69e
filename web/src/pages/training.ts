// Training dashboard: the loss and one-shot accuracy curves of a run's metrics log
// (runs/<name>/metrics.jsonl), updated live over server-sent events while `twinshot train` runs.
import { authHeaders, call, errorOf, sayError, type MetricsRecord, type RunSummary } from '../api.js';
import { createChart, drawChart } from '../chart.js';
import { h, messageLine, percent, replace, say } from '../dom.js';
import type { Page } from '../page.js';

const RETRY_MS = 2000;

/**
 * Exponential moving average, so a noisy loss still shows its trend; debiased as TensorBoard does
 * (divided by 1 - weight^n), so the curve does not start from zero or lag at the start.
 */
function smooth(points: { x: number; y: number }[], weight = 0.9): { x: number; y: number }[] {
  let value = 0;
  return points.map((p, i) => {
    value = weight * value + (1 - weight) * p.y;
    return { x: p.x, y: value / (1 - weight ** (i + 1)) };
  });
}

/** Below this many points the raw loss is readable as it is: no smoothed line, and dots. */
const SMOOTH_FROM = 100;

/** Reads server-sent events from a fetch body (EventSource cannot send an API key header). */
async function readEvents(
  response: Response,
  onEvent: (event: string, data: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  signal.addEventListener('abort', () => void reader.cancel().catch(() => {}));
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
}

export function createTrainingPage(): Page {
  let records: MetricsRecord[] = [];
  let run: string | null = null;
  let stream: AbortController | null = null;
  let retry: number | undefined;
  let visible = false;

  const select = h('select', { id: 'run-select' });
  const refresh = h('button', { type: 'button', id: 'runs-refresh' }, 'Refresh list');
  const live = h('p', { id: 'run-live', class: 'live', role: 'status' }, '\u00a0');
  const message = messageLine('training-message');
  const tiles = h('dl', { id: 'run-tiles', class: 'tiles' });
  const lossChart = createChart('loss-chart', 'Training loss', () => render());
  const accuracyChart = createChart('accuracy-chart', 'One-shot validation accuracy', () => render());

  const element = h(
    'section',
    { class: 'page', id: 'page-training', 'aria-labelledby': 'training-title' },
    h('h2', { id: 'training-title' }, 'Training'),
    h(
      'p',
      { class: 'lead' },
      'The curves of a training run, read from its metrics log and updated as ',
      h('code', {}, 'twinshot train'),
      ' writes it: the training loss, and the one-shot accuracy on held-out alphabets at each validation.',
    ),
    h('div', { class: 'row' }, h('label', { for: 'run-select' }, 'Run'), select, refresh, live),
    message,
    tiles,
    h(
      'div',
      { class: 'charts' },
      h('figure', { class: 'card' }, h('figcaption', {}, 'Training loss'), lossChart),
      h('figure', { class: 'card' }, h('figcaption', {}, 'One-shot validation accuracy'), accuracyChart),
    ),
  );

  function render(): void {
    const train = records.filter((r) => r.kind === 'train' && typeof r.loss === 'number');
    const validation = records.filter((r) => r.kind === 'validation' && typeof r.accuracy === 'number');
    const loss = train.map((r) => ({ x: r.step, y: r.loss! }));
    drawChart(
      lossChart,
      [
        { points: loss, className: loss.length < SMOOTH_FROM ? 'loss solid' : 'loss', dots: loss.length <= 60 },
        ...(loss.length >= SMOOTH_FROM ? [{ points: smooth(loss), className: 'smooth' }] : []),
      ],
      { title: 'Training loss', xLabel: 'step', format: (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)) },
    );
    drawChart(
      accuracyChart,
      [{ points: validation.map((r) => ({ x: r.step, y: r.accuracy! })), className: 'accuracy', dots: true }],
      { title: 'One-shot validation accuracy', xLabel: 'step', format: percent, yRange: [0, 1] },
    );
    const lastTrain = train[train.length - 1];
    const lastValidation = validation[validation.length - 1];
    const best = validation.reduce<MetricsRecord | undefined>(
      (b, r) => (!b || r.accuracy! > b.accuracy! ? r : b),
      undefined,
    );
    const rate = lastTrain?.imagesPerSecond;
    const tile = (term: string, value: string, id: string): HTMLElement[] => [
      h('dt', {}, term),
      h('dd', { id }, value),
    ];
    replace(
      tiles,
      h(
        'div',
        {},
        ...tile('Step', records.length > 0 ? String(Math.max(...records.map((r) => r.step))) : '–', 'tile-step'),
      ),
      h('div', {}, ...tile('Loss', lastTrain ? lastTrain.loss!.toPrecision(3) : '–', 'tile-loss')),
      h('div', {}, ...tile('Accuracy', lastValidation ? percent(lastValidation.accuracy!) : '–', 'tile-accuracy')),
      h('div', {}, ...tile('Best', best ? `${percent(best.accuracy!)} at ${best.step}` : '–', 'tile-best')),
      h('div', {}, ...tile('Images/s', typeof rate === 'number' ? rate.toFixed(0) : '–', 'tile-rate')),
    );
  }

  function stop(): void {
    stream?.abort();
    stream = null;
    clearTimeout(retry);
  }

  /** Says whether the followed run is still being written or has ended (the service tells). */
  function showState(name: string, finished: boolean): void {
    live.textContent = finished
      ? `■ Finished: ${name} has ended; these are its final curves`
      : `● Live: following ${name}/metrics.jsonl`;
    live.dataset.state = finished ? 'finished' : 'live';
  }

  /** Follows the chosen run; on a dropped connection, retries every two seconds. */
  async function follow(name: string): Promise<void> {
    stop();
    const controller = new AbortController();
    stream = controller;
    live.textContent = `Connecting to ${name}…`;
    live.dataset.state = 'connecting';
    try {
      const response = await fetch(`/v1/runs/${encodeURIComponent(name)}/events`, {
        headers: { accept: 'text/event-stream', ...authHeaders() },
        signal: controller.signal,
      });
      if (!response.ok) {
        const error = await errorOf(response);
        sayError(message, error);
        live.textContent = 'Not following';
        live.dataset.state = 'off';
        if (error.status !== 404) retry = window.setTimeout(() => void follow(name), RETRY_MS * 2);
        return;
      }
      showState(name, false);
      say(message, '');
      await readEvents(
        response,
        (event, data) => {
          const body = JSON.parse(data) as { records: MetricsRecord[]; finished?: boolean };
          if (event === 'status') return showState(name, body.finished === true);
          if (event === 'reset') records = body.records;
          else if (event === 'append') records = records.concat(body.records);
          else return;
          render();
        },
        controller.signal,
      );
    } catch (error) {
      if (controller.signal.aborted) return;
      void error;
    }
    if (controller.signal.aborted || !visible) return;
    live.textContent = 'Connection lost; reconnecting…';
    live.dataset.state = 'lost';
    retry = window.setTimeout(() => void follow(name), RETRY_MS);
  }

  async function loadRuns(): Promise<void> {
    try {
      const { dir, runs } = await call<{ dir: string; runs: RunSummary[] }>('GET', '/v1/runs');
      if (runs.length === 0) {
        replace(select, h('option', { value: '' }, '(no runs)'));
        select.disabled = true;
        run = null;
        stop();
        records = [];
        render();
        live.textContent = '\u00a0';
        say(
          message,
          `No training runs in ${dir} yet. Start one with \`twinshot train --config configs/omniglot-fast.json\`, ` +
            'or point the server at another folder with `twinshot serve --runs DIR`.',
        );
        return;
      }
      select.disabled = false;
      if (run === null || !runs.some((r) => r.name === run)) run = runs[0]!.name;
      replace(select, ...runs.map((r) => h('option', { value: r.name, selected: r.name === run }, r.name)));
      say(message, '');
      if (stream === null) void follow(run);
    } catch (error) {
      sayError(message, error);
    }
  }

  select.addEventListener('change', () => {
    run = select.value;
    records = [];
    render();
    void follow(run);
  });
  refresh.addEventListener('click', () => void loadRuns());
  render();

  return {
    element,
    show(params) {
      visible = true;
      const requested = params.get('run');
      if (requested && requested !== run) {
        run = requested;
        stop();
      }
      void loadRuns();
    },
    hide() {
      visible = false;
      stop();
    },
  };
}
