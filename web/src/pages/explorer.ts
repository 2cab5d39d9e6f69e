// One-shot explorer: a twenty-way task from Omniglot's evaluation alphabets (never seen in
// training), the model's score for every candidate, its choice, whether it was right, and a
// running accuracy over the tasks seen.
import { call, sayError, type ExplorerResponse, type ExplorerTask } from '../api.js';
import { h, messageLine, percent, replace, say } from '../dom.js';
import type { Page } from '../page.js';

const WAY = 20;

export function createExplorerPage(): Page {
  let seed: number | null = null;
  let seen = 0;
  let right = 0;
  let loading = false;

  /** False once the server said it has no Omniglot: there is nothing to show or to ask for. */
  let available = true;

  const next = h('button', { type: 'button', id: 'explorer-next', class: 'primary' }, 'Next task');
  const message = messageLine('explorer-message');
  const taskInfo = h('p', { id: 'explorer-task', class: 'muted' }, '\u00a0');
  const queryImage = h('img', { id: 'explorer-query', class: 'glyph large', alt: 'Query character', hidden: true });
  const querySlot = h('div', { class: 'glyph-slot large' }, queryImage);
  const verdict = h('p', { id: 'explorer-verdict', class: 'verdict', 'aria-live': 'polite' }, '\u00a0');
  const accuracy = h('p', { id: 'explorer-accuracy', class: 'accuracy' }, 'No tasks yet.');
  const grid = h('ol', { id: 'explorer-candidates', class: 'candidates', 'aria-label': 'Candidates' });
  // Twenty placeholders from the start, so the first task does not push the page around.
  replace(grid, ...Array.from({ length: WAY }, () => h('li', { class: 'candidate placeholder' })));

  const element = h(
    'section',
    { class: 'page', id: 'page-explorer', 'aria-labelledby': 'explorer-title' },
    h('h2', { id: 'explorer-title' }, 'One-shot explorer'),
    h(
      'p',
      { class: 'lead' },
      'Twenty characters of one alphabet, each drawn once by the same person, and a query: one of them drawn by ' +
        'someone else. The model has never seen these alphabets. It picks the candidate nearest to the query; ' +
        'chance is 1 in 20.',
    ),
    message,
    h(
      'div',
      { class: 'explorer', id: 'explorer-board' },
      h(
        'div',
        { class: 'card query-card' },
        h('h3', {}, 'Query'),
        querySlot,
        taskInfo,
        verdict,
        accuracy,
        h('div', { class: 'row' }, next),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', {}, 'Candidates, with the model’s confidence'),
        grid,
        h(
          'p',
          { class: 'hint', id: 'explorer-confidence-note' },
          'Each percentage is the model’s calibrated probability that the candidate shows the query’s character, ' +
            'judged for each candidate on its own, so together they need not add up to 100%. The model’s choice is ' +
            'the nearest candidate (smallest d).',
        ),
      ),
    ),
  );
  const board = element.querySelector<HTMLElement>('#explorer-board')!;

  function render(task: ExplorerTask): void {
    taskInfo.textContent = `${task.alphabet}: query by drawer ${task.drawers[0]}, candidates by drawer ${task.drawers[1]} (task ${task.seed}, model ${task.model})`;
    queryImage.src = task.query.image;
    queryImage.hidden = false;
    const answer = task.candidates[task.answer]!;
    replace(
      verdict,
      task.correct
        ? h('span', { class: 'right' }, '✓ Right: the model picked the query’s character.')
        : h(
            'span',
            { class: 'wrong' },
            `✗ Wrong: the model picked ${task.candidates[task.choice]!.character}; the answer is ${answer.character}.`,
          ),
    );
    verdict.className = `verdict ${task.correct ? 'right' : 'wrong'}`;
    replace(
      grid,
      ...task.candidates.map((c, i) => {
        const isChoice = i === task.choice;
        const isAnswer = i === task.answer;
        const tags = [isChoice ? 'model’s choice' : '', isAnswer ? 'answer' : ''].filter(Boolean);
        return h(
          'li',
          {
            class: ['candidate', isChoice ? 'choice' : '', isAnswer ? 'answer' : ''].join(' ').trim(),
            dataset: { index: String(i), distance: c.distance.toFixed(6) },
            'aria-label': `${c.character}: confidence ${percent(c.confidence)}, distance ${c.distance.toFixed(2)}${tags.length ? `, ${tags.join(', ')}` : ''}`,
          },
          h('img', { src: c.image, alt: '', class: 'glyph', width: 105, height: 105 }),
          h(
            'span',
            { class: 'bar', 'aria-hidden': 'true' },
            h('span', { class: 'fill', style: `width: ${(100 * c.confidence).toFixed(1)}%` }),
          ),
          h('span', { class: 'score' }, `${percent(c.confidence)} · d ${c.distance.toFixed(2)}`),
          h('span', { class: 'tag' }, tags.join(' · ') || '\u00a0'),
        );
      }),
    );
    accuracy.textContent = `Model right on ${right} of ${seen} task${seen === 1 ? '' : 's'} (${percent(right / seen)}); chance is 5%.`;
  }

  async function load(): Promise<void> {
    if (loading) return;
    loading = true;
    next.disabled = true;
    say(message, 'Drawing a task and scoring it…');
    try {
      const query = seed === null ? '' : `?seed=${seed}`;
      const response = await call<ExplorerResponse>('GET', `/v1/explorer/task${query}`);
      if (!response.available || !response.task) {
        // The server's reason names its folders, which are no business of a visitor: say it plainly.
        available = false;
        board.hidden = true;
        say(
          message,
          'The explorer is off on this server: it needs Omniglot’s evaluation set, which the server does not have. ' +
            'Whoever runs the server can fetch it with `twinshot data omniglot` and restart `twinshot serve`.',
          'info',
        );
        return;
      }
      const task = response.task;
      seen += 1;
      if (task.correct) right += 1;
      if (seed !== null) seed += 1;
      render(task);
      say(message, '');
    } catch (error) {
      sayError(message, error);
    } finally {
      loading = false;
      next.disabled = !available;
    }
  }

  next.addEventListener('click', () => void load());

  return {
    element,
    show(params) {
      const requested = params.get('seed');
      if (requested !== null && /^\d+$/.test(requested)) seed = Number(requested);
      if (seen === 0 && available) void load();
    },
    hide: () => {},
  };
}
