// The page's entry: builds each view on first visit, switches views on #fragment changes, and
// shows whether the server is reachable and which model it serves.
import './style.css';
import { apiKey, call, messageOf, onReachability, setApiKey, type Health } from './api.js';
import { unsayAll } from './dom.js';
import type { Page } from './page.js';
import { createExplorerPage } from './pages/explorer.js';
import { createTeachPage } from './pages/teach.js';
import { createTrainingPage } from './pages/training.js';
import { createVerifyPage } from './pages/verify.js';

const factories: Record<string, () => Page> = {
  teach: createTeachPage,
  verify: createVerifyPage,
  explorer: createExplorerPage,
  training: createTrainingPage,
};
const titles: Record<string, string> = {
  teach: 'Teach and recognise',
  verify: 'Verify',
  explorer: 'One-shot explorer',
  training: 'Training',
};
const pages = new Map<string, Page>();
let current: string | null = null;

const main = document.querySelector<HTMLElement>('#main')!;
const status = document.querySelector<HTMLElement>('#server-status')!;

/** '#/explorer?seed=4' -> ['explorer', seed=4]; anything unknown shows the first page. */
function parseHash(): [string, URLSearchParams] {
  const match = /^#\/([a-z]+)(?:\?(.*))?$/.exec(location.hash);
  const name = match?.[1] && match[1] in factories ? match[1] : 'teach';
  return [name, new URLSearchParams(match?.[2] ?? '')];
}

function route(): void {
  const [name, params] = parseHash();
  if (name !== current && current !== null) {
    const old = pages.get(current)!;
    old.hide();
    old.element.hidden = true;
  }
  let page = pages.get(name);
  if (!page) {
    page = factories[name]!();
    pages.set(name, page);
    // The heading takes focus on navigation (below); it stays out of the tab order.
    page.element.querySelector('h2')?.setAttribute('tabindex', '-1');
    main.append(page.element);
  }
  page.element.hidden = false;
  const moved = current !== null && name !== current;
  current = name;
  document.title = `${titles[name]} · twinshot`;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a[data-page]')) {
    if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  page.show(params);
  // After a click in the menu, move focus to the new view so keyboard and screen-reader users land in it.
  if (moved) page.element.querySelector<HTMLElement>('h2')?.focus({ preventScroll: false });
}

async function checkServer(): Promise<void> {
  try {
    const health = await call<Health>('GET', '/healthz');
    status.textContent = `● model ${health.model} · store ${health.store}`;
    status.dataset.state = 'ok';
  } catch (error) {
    status.textContent = '● server unreachable';
    status.dataset.state = 'down';
    status.title = messageOf(error).replaceAll('`', '');
  }
}

onReachability((reachable) => {
  if (reachable && status.dataset.state === 'down') {
    void checkServer();
    // "Cannot reach the server" is over once a call gets through.
    unsayAll('ERR_UNREACHABLE');
  }
  if (!reachable) {
    status.textContent = '● server unreachable';
    status.dataset.state = 'down';
  }
});

const keyForm = document.querySelector<HTMLFormElement>('#api-key-form')!;
const keyInput = document.querySelector<HTMLInputElement>('#api-key')!;
keyInput.value = apiKey();
keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim());
  keyForm.closest('details')!.open = false;
  void checkServer();
  // Views reload what they show with the new key.
  if (current) pages.get(current)?.show(parseHash()[1]);
});

window.addEventListener('hashchange', route);
route();
void checkServer();
