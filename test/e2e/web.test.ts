// The web page end to end in headless Chromium against the real service: teach three drawn
// symbols and recognise one, verify pairs and a rejected upload, the one-shot explorer on
// Omniglot, the live training dashboard, phone width and keyboard use; a screenshot of each page.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page, Request } from 'playwright-core';
import { findOmniglot, needs, OMNIGLOT } from '../helpers/prerequisites.js';
import {
  draw,
  launchBrowser,
  screenshot,
  startServer,
  SYMBOLS,
  VIEWPORTS,
  watch,
  type Browser,
  type Server,
} from './helpers.js';

const omniglot = findOmniglot();
let browser: Browser;
let server: Server;

beforeAll(async () => {
  server = await startServer({ webDist: inject('webDist'), omniglot });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** What any tab reported as blocked by the server's Content-Security-Policy, over every test. */
const cspViolations: string[] = [];

/** A fresh tab whose Content-Security-Policy violations are collected. */
async function watched(): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${page.url()}: ${message.text()}`);
  });
  return page;
}

/** Requests each page has made and not yet seen answered. */
const inFlight = new WeakMap<Page, Set<Request>>();

/** A fresh tab on a view of the page, with the server status line filled in. */
async function open(view: string, viewport = { width: 1200, height: 900 }): Promise<Page> {
  const page = await watched();
  const pending = new Set<Request>();
  inFlight.set(page, pending);
  page.on('request', (request) => pending.add(request));
  page.on('requestfinished', (request) => pending.delete(request));
  page.on('requestfailed', (request) => pending.delete(request));
  await page.setViewportSize(viewport);
  await page.goto(`${server.url}/#/${view}`);
  await page.locator('#server-status[data-state="ok"]').waitFor();
  return page;
}

/** Waits until every request the page has made is answered, so none can land after what comes next. */
async function settled(page: Page): Promise<void> {
  await expect.poll(() => inFlight.get(page)!.size).toBe(0);
}

async function api<T>(method: string, url: string, body?: FormData): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${url}`, { method, body });
  return { status: response.status, body: (response.status === 204 ? undefined : await response.json()) as T };
}

describe('Teach and recognise', () => {
  it('teaches three drawn symbols and ranks the right one first for a new drawing', async () => {
    const page = await open('teach');
    await page.fill('#gallery-name', 'e2e-teach');
    await page.locator('#gallery-name').press('Enter');
    await page.locator('#gallery-name').blur();
    await expect.poll(() => page.textContent('#gallery-summary')).toBe('empty');

    const taught: [string, ReturnType<typeof SYMBOLS.circle>][] = [
      ['circle', SYMBOLS.circle()],
      ['cross', SYMBOLS.cross()],
      ['bars', SYMBOLS.bars()],
    ];
    for (const [label, strokes] of taught) {
      await draw(page, '#teach-pad-canvas', strokes);
      await page.fill('#teach-label', label);
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain(`Added “${label}”`);
    }
    await expect.poll(() => page.locator('#taught li[data-label]').count()).toBe(3);
    expect(await page.textContent('#gallery-summary')).toBe('3 symbols, 3 examples');
    // The examples went to the service, not only to the page.
    const classes = await api<{ classes: { label: string }[] }>('GET', '/v1/galleries/e2e-teach/classes');
    expect(classes.body.classes.map((c) => c.label).sort()).toEqual(['bars', 'circle', 'cross']);

    // A smaller, shifted circle: drawn differently, same symbol.
    await draw(page, '#query-pad-canvas', SYMBOLS.circle(0.52, 0.5, 0.27));
    await page.click('#recognise');
    await page.locator('#matches li').first().waitFor();
    const ranked = await page
      .locator('#matches li')
      .evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.label));
    expect(ranked[0]).toBe('circle');
    expect(ranked).toHaveLength(3);
    expect(await page.textContent('#verdict')).toMatch(/^It looks like “circle” \(\d+% sure\)/);
    await expect.poll(() => page.locator('#matches li .bar[role="meter"]').count()).toBe(3);
    await screenshot(page, 'teach');

    // A second query of another symbol, to rule out a page that always ranks the same label first.
    await page.click('#query-pad button:has-text("Clear")');
    await draw(page, '#query-pad-canvas', SYMBOLS.bars(0.04));
    await page.click('#recognise');
    await expect.poll(() => page.locator('#matches li').first().getAttribute('data-label')).toBe('bars');

    // A dot in a corner is like nothing taught: "unknown".
    await page.click('#query-pad button:has-text("Clear")');
    await draw(page, '#query-pad-canvas', [
      [
        [0.08, 0.08],
        [0.1, 0.1],
      ],
    ]);
    await page.click('#recognise');
    await expect.poll(() => page.textContent('#verdict')).toMatch(/^Unknown/);

    // Clearing the gallery empties it on the service.
    await page.click('#clear-gallery');
    await expect.poll(() => page.textContent('#gallery-summary')).toBe('empty');
    expect((await api('GET', '/v1/galleries/e2e-teach')).status).toBe(404);
    await page.close();
  });

  it('says so when the server is unreachable', async () => {
    const page = await open('teach');
    await page.fill('#gallery-name', 'e2e-offline');
    await page.locator('#gallery-name').blur();
    await draw(page, '#teach-pad-canvas', SYMBOLS.cross());
    await page.fill('#teach-label', 'cross');
    // The gallery loads started by opening the page and naming the gallery must be answered first:
    // a success arriving after the refused request would rightly mark the server reachable again.
    await settled(page);
    await page.route('**/v1/**', (route) => route.abort('connectionrefused'));
    await page.click('#teach-add');
    await expect.poll(() => page.textContent('#teach-message')).toContain('Cannot reach the twinshot server');
    expect(await page.getAttribute('#teach-message', 'data-kind')).toBe('error');
    expect(await page.textContent('#server-status')).toContain('unreachable');
    await page.close();
  });
});

describe('Verify', () => {
  it('shows a higher probability for two drawings of one symbol than for two different symbols', async () => {
    const page = await open('verify');
    await draw(page, '#verify-a-canvas', SYMBOLS.circle());
    await draw(page, '#verify-b-canvas', SYMBOLS.circle(0.52, 0.5, 0.27));
    await page.click('#verify-compare');
    const probability = async (): Promise<number> => {
      await page.locator('#verify-probability').waitFor();
      return Number((await page.textContent('#verify-probability'))!.replace('%', '')) / 100;
    };
    const same = await probability();
    expect(await page.textContent('#verify-verdict')).toContain('same');
    await screenshot(page, 'verify');

    await page.click('#verify-b button:has-text("Clear")');
    await draw(page, '#verify-b-canvas', SYMBOLS.cross());
    await page.click('#verify-compare');
    const different = await probability();
    expect(same).toBeGreaterThan(0.5);
    expect(different).toBeLessThan(same);
    await page.close();
  });

  it("shows the service's own message when an upload is rejected", async () => {
    const page = await open('verify');
    const notAnImage = Buffer.from('these are notes, not a picture\n');
    await page.setInputFiles('#verify-a-file', { name: 'notes.png', mimeType: 'image/png', buffer: notAnImage });
    expect(await page.textContent('#verify-a .pad-file')).toContain('notes.png');
    await draw(page, '#verify-b-canvas', SYMBOLS.cross());
    await page.click('#verify-compare');
    await expect.poll(() => page.getAttribute('#verify-message', 'data-kind')).toBe('error');

    // The same bytes sent straight to the service give the message the page must show.
    const form = new FormData();
    form.append('image1', new Blob([notAnImage], { type: 'image/png' }), 'notes.png');
    form.append('image2', new Blob([notAnImage], { type: 'image/png' }), 'notes.png');
    const direct = await api<{ error: { message: string } }>('POST', '/v1/verify', form);
    expect(direct.status).toBe(400);
    expect(await page.textContent('#verify-message')).toBe(direct.body.error.message);
    await page.close();
  });
});

describe('One-shot explorer', () => {
  needs(OMNIGLOT).it('shows a twenty-way task, the scores, the choice, and a running accuracy', async () => {
    const page = await open('explorer?seed=7');
    await expect.poll(() => page.locator('#explorer-candidates .candidate:not(.placeholder)').count()).toBe(20);
    expect(await page.locator('#explorer-query').isVisible()).toBe(true);

    const expected = await api<{ task: { choice: number; answer: number; correct: boolean } }>(
      'GET',
      '/v1/explorer/task?seed=7',
    );
    const shown = await page.locator('#explorer-candidates .candidate').evaluateAll((items) =>
      items.map((li) => ({
        distance: Number((li as HTMLElement).dataset.distance),
        choice: li.classList.contains('choice'),
        answer: li.classList.contains('answer'),
      })),
    );
    const choice = shown.findIndex((c) => c.choice);
    const nearest = shown.reduce((best, c, i) => (c.distance < shown[best]!.distance ? i : best), 0);
    expect(shown.filter((c) => c.choice)).toHaveLength(1);
    expect(shown.filter((c) => c.answer)).toHaveLength(1);
    expect(choice).toBe(nearest);
    expect(choice).toBe(expected.body.task.choice);
    expect(shown.findIndex((c) => c.answer)).toBe(expected.body.task.answer);
    expect(await page.textContent('#explorer-verdict')).toMatch(expected.body.task.correct ? /^✓ Right/ : /^✗ Wrong/);
    const rightSoFar = expected.body.task.correct ? 1 : 0;
    expect(await page.textContent('#explorer-accuracy')).toContain(`right on ${rightSoFar} of 1 task`);
    await screenshot(page, 'explorer');

    await page.click('#explorer-next');
    await expect.poll(() => page.textContent('#explorer-accuracy')).toContain('of 2 tasks');
    const second = await api<{ task: { correct: boolean } }>('GET', '/v1/explorer/task?seed=8');
    expect(await page.textContent('#explorer-accuracy')).toContain(
      `right on ${rightSoFar + (second.body.task.correct ? 1 : 0)} of 2 tasks`,
    );
    await page.close();
  });
});

describe('Training dashboard', () => {
  it('draws a run’s curves and follows its metrics log as it grows', async () => {
    const runDir = path.join(server.runsDir, 'omniglot-demo');
    fs.mkdirSync(runDir);
    const log = path.join(runDir, 'metrics.jsonl');
    const lines: string[] = [];
    for (let step = 50; step <= 1500; step += 50) {
      const loss = 2.2 * Math.exp(-step / 500) + 0.35 + 0.05 * Math.sin(step / 37);
      lines.push(JSON.stringify({ kind: 'train', step, seconds: step / 10, loss, lr: 0.001, imagesPerSecond: 1400 }));
      if (step % 500 === 0)
        lines.push(JSON.stringify({ kind: 'validation', step, seconds: step / 10, accuracy: 0.5 + step / 5000 }));
    }
    fs.writeFileSync(log, lines.join('\n') + '\n');

    const page = await open('training');
    await expect.poll(() => page.getAttribute('#loss-chart', 'data-points')).toBe('30');
    expect(await page.getAttribute('#accuracy-chart', 'data-points')).toBe('3');
    expect(await page.inputValue('#run-select')).toBe('omniglot-demo');
    await expect.poll(() => page.getAttribute('#run-live', 'data-state')).toBe('live');
    expect(await page.textContent('#tile-best')).toBe('80% at 1500');
    await screenshot(page, 'training');

    // `twinshot train` appends: the charts grow without a reload.
    fs.appendFileSync(
      log,
      JSON.stringify({ kind: 'train', step: 1550, seconds: 155, loss: 0.41 }) +
        '\n' +
        JSON.stringify({ kind: 'validation', step: 1550, seconds: 155, accuracy: 0.86 }) +
        '\n',
    );
    await expect.poll(() => page.getAttribute('#loss-chart', 'data-points')).toBe('31');
    await expect.poll(() => page.getAttribute('#accuracy-chart', 'data-points')).toBe('4');
    expect(await page.textContent('#tile-step')).toBe('1550');
    expect(await page.textContent('#tile-best')).toBe('86% at 1550');
    await page.close();
  });
});

describe('Phone width and keyboard', () => {
  it('fits a 375-pixel screen on every page, without sideways scrolling', async () => {
    const page = await open('teach', { width: 375, height: 800 });
    // Earlier tests chose other galleries; the screenshot shows what a first visit shows.
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    for (const view of ['teach', 'verify', 'explorer', 'training']) {
      await page.goto(`${server.url}/#/${view}`);
      await page.locator(`#page-${view}`).waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `${view} is ${width}px wide`).toBeLessThanOrEqual(375);
    }
    await page.goto(`${server.url}/#/teach`);
    await page.locator('#page-teach').waitFor();
    await screenshot(page, 'teach-phone');
    await page.close();
  });

  it('reaches the menu and the teach controls with Tab, with a visible focus ring', async () => {
    const page = await open('teach');
    const focused: string[] = [];
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press('Tab');
      focused.push(
        await page.evaluate(() => {
          const e = document.activeElement as HTMLElement;
          return `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}:${(e.textContent ?? '').trim().slice(0, 30)}`;
        }),
      );
    }
    expect(focused).toContain('a:Verify');
    expect(focused).toContain('input#gallery-name:');
    expect(focused).toContain('input#teach-label:');
    expect(focused).toContain('button#teach-add:Add to gallery');
    // Enter on a menu link switches the view.
    await page.focus('a[data-page="training"]');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.locator('#page-training').waitFor();
    expect(await page.getAttribute('a[data-page="training"]', 'aria-current')).toBe('page');
    await page.close();
  });
});

describe('A normal visit', () => {
  for (const [name, viewport] of VIEWPORTS) {
    it(`logs no console error or warning and has no failed request at ${name} width`, async () => {
      const page = await watched();
      await page.setViewportSize(viewport);
      const trouble = watch(page);
      await page.goto(`${server.url}/#/teach`);
      await page.locator('#server-status[data-state="ok"]').waitFor();
      await page.fill('#gallery-name', `visit-${name}`);
      await page.locator('#gallery-name').press('Enter');
      await expect.poll(() => page.textContent('#gallery-summary')).toBe('empty');
      await draw(page, '#teach-pad-canvas', SYMBOLS.circle());
      await page.fill('#teach-label', 'circle');
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain('Added “circle”');
      await draw(page, '#query-pad-canvas', SYMBOLS.circle(0.5, 0.52, 0.28));
      await expect.poll(() => page.locator('#matches li').count()).toBe(1);

      await page.click('a[data-page="verify"]');
      await draw(page, '#verify-a-canvas', SYMBOLS.cross());
      await draw(page, '#verify-b-canvas', SYMBOLS.cross(0.03));
      await page.click('#verify-compare');
      await page.locator('#verify-probability').waitFor();

      await page.click('a[data-page="explorer"]');
      await expect
        .poll(async () =>
          omniglot === null
            ? await page.textContent('#explorer-message')
            : String(await page.locator('#explorer-candidates .candidate:not(.placeholder)').count()),
        )
        .toMatch(omniglot === null ? /needs Omniglot/ : /^20$/);

      await page.click('a[data-page="training"]');
      await expect.poll(() => page.getAttribute('#run-live', 'data-state')).toBe('live');
      await page.click('a[data-page="teach"]');
      expect(trouble).toEqual({ console: [], requests: [] });
      await page.close();
    });
  }
});

describe('Content-Security-Policy', () => {
  it('blocks nothing the page or the OpenAPI UI at /docs needs (checked over every test above)', async () => {
    const page = await watched();
    await page.goto(`${server.url}/docs`);
    await page.locator('.opblock').first().waitFor();
    await page.locator('.opblock-summary').first().click();
    await page.locator('.opblock-body').first().waitFor();
    expect(cspViolations).toEqual([]);
    await page.close();
  });
});
