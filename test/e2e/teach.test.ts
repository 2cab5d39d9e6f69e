// The Teach page in headless Chromium at a laptop's and a phone's width: live recognition after
// each stroke (stale requests cancelled), several uploads at once, the camera (a fake one, and
// none), long and over-long labels, messages that go when their cause does, the wording and
// layout a first-time user tripped on, and a first visit without 404s or console errors.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page, Request } from 'playwright-core';
import sharp from 'sharp';
import {
  draw,
  launchBrowser,
  startServer,
  SYMBOLS,
  VIEWPORTS,
  watch,
  type Browser,
  type Server,
  type Strokes,
} from './helpers.js';

let browser: Browser;
let server: Server;

beforeAll(async () => {
  server = await startServer({ webDist: inject('webDist'), omniglot: null });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh tab at a viewport, on a gallery of its own (galleries outlive tabs in the store). */
async function openTeach(viewport: { width: number; height: number }, gallery: string): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server.url}/#/teach`);
  await page.locator('#server-status[data-state="ok"]').waitFor();
  await page.fill('#gallery-name', gallery);
  await page.locator('#gallery-name').press('Enter');
  await page.locator('#gallery-name').blur();
  await expect.poll(() => page.textContent('#gallery-summary')).toBe('empty');
  return page;
}

async function teach(page: Page, label: string, strokes: Strokes): Promise<void> {
  await draw(page, '#teach-pad-canvas', strokes);
  await page.fill('#teach-label', label);
  await page.click('#teach-add');
  await expect.poll(() => page.textContent('#teach-message')).toContain('Added “');
}

async function classesOf(gallery: string): Promise<{ label: string; examples: number }[]> {
  const response = await fetch(`${server.url}/v1/galleries/${gallery}/classes`);
  return ((await response.json()) as { classes: { label: string; examples: number }[] }).classes;
}

/** A PNG of a black circle on white, as a photographed or scanned symbol would arrive. */
function circlePng(radius: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="105" height="105"><rect width="105" height="105" fill="#fff"/><circle cx="52" cy="52" r="${radius}" fill="none" stroke="#000" stroke-width="5"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const isIdentify = (request: Request): boolean => request.method() === 'POST' && /\/identify$/.test(request.url());

for (const [name, viewport] of VIEWPORTS) {
  describe(`Teach at ${name} width (${viewport.width}x${viewport.height})`, () => {
    it('recognises as you draw, after each stroke, keeping only the newest request', async () => {
      const page = await openTeach(viewport, `live-${name}`);
      await teach(page, 'circle', SYMBOLS.circle());
      await teach(page, 'bars', SYMBOLS.bars());
      // Teaching says where to go next without "left", "right", "above" or "below".
      expect(await page.textContent('#teach-message')).toContain('in “2. Recognise”');
      expect(await page.textContent('#teach-message')).not.toMatch(/\b(left|right|above|below)\b/);

      // One stroke, no button: the drawing is recognised.
      await draw(page, '#query-pad-canvas', SYMBOLS.circle(0.52, 0.5, 0.27));
      await expect.poll(() => page.locator('#matches li').first().getAttribute('data-label')).toBe('circle');
      expect(await page.textContent('#confidence-note')).toContain('need not add up to 100%');

      // Slow answers: each stroke of the bars replaces the request before it, and only the last one
      // answers (the earlier ones are aborted by the page, not left to finish).
      const sent: Request[] = [];
      const aborted: Request[] = [];
      page.on('request', (request) => void (isIdentify(request) && sent.push(request)));
      page.on('requestfailed', (request) => void (isIdentify(request) && aborted.push(request)));
      await page.route('**/identify', async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 1200));
        await route.continue().catch(() => {}); // the page may have cancelled it meanwhile
      });
      await page.click('#query-pad button:has-text("Clear")');
      const bars = SYMBOLS.bars(0.03);
      for (const stroke of bars) {
        await draw(page, '#query-pad-canvas', [stroke]);
        await page.waitForTimeout(400); // past the debounce: each stroke sends its own request
      }
      await expect.poll(() => page.locator('#matches li').first().getAttribute('data-label')).toBe('bars');
      expect(sent.length).toBe(bars.length);
      await expect.poll(() => aborted.length).toBe(bars.length - 1);
      expect(await page.getAttribute('#results', 'aria-busy')).toBeNull();
      await page.unroute('**/identify');

      // Clearing the query takes its answer away.
      await page.click('#query-pad button:has-text("Clear")');
      await expect.poll(() => page.locator('#matches').count()).toBe(0);
      await page.close();
    });

    it('adds several uploaded images as examples of one symbol at once', async () => {
      const gallery = `uploads-${name}`;
      const page = await openTeach(viewport, gallery);
      const files = await Promise.all(
        [28, 32, 36].map(async (r, i) => ({
          name: `ring-${i + 1}.png`,
          mimeType: 'image/png',
          buffer: await circlePng(r),
        })),
      );
      await page.setInputFiles('#teach-pad-file', files);
      expect(await page.textContent('#teach-pad-status')).toBe('3 images: ring-1.png, ring-2.png, ring-3.png');
      expect(await page.locator('#teach-pad .pad-count').isVisible()).toBe(true);
      await page.fill('#teach-label', 'ring');
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain('Added “ring” with 3 examples');
      expect(await classesOf(gallery)).toMatchObject([{ label: 'ring', examples: 3 }]);
      await expect.poll(() => page.textContent('#gallery-summary')).toBe('1 symbol, 3 examples');
      await page.close();
    });

    it('takes a picture with the camera where there is one, and offers none where there is not', async () => {
      const gallery = `camera-${name}`;
      const page = await openTeach(viewport, gallery);
      // Chromium's fake camera (see helpers.ts) films a test pattern.
      await page.locator('#teach-pad-camera').waitFor({ state: 'visible' });
      await page.click('#teach-pad-camera');
      await page.locator('#teach-pad .pad-video').waitFor({ state: 'visible' });
      await page.click('#teach-pad-shoot');
      await expect.poll(() => page.textContent('#teach-pad-status')).toBe('Uploaded: camera.png');
      expect(await page.locator('#teach-pad .pad-video').isVisible()).toBe(false);
      await page.fill('#teach-label', 'pattern');
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain('Added “pattern”');
      expect(await classesOf(gallery)).toMatchObject([{ label: 'pattern', examples: 1 }]);
      await page.close();

      // A browser without getUserMedia (plain http on a network address has none): no camera button.
      const bare = await browser.context.newPage();
      await bare.setViewportSize(viewport);
      await bare.addInitScript(() => Object.defineProperty(navigator, 'mediaDevices', { value: undefined }));
      const trouble = watch(bare);
      await bare.goto(`${server.url}/#/teach`);
      await bare.locator('#server-status[data-state="ok"]').waitFor();
      await bare.locator('#teach-pad-upload').waitFor();
      expect(await bare.locator('#teach-pad-camera').isVisible()).toBe(false);
      expect(trouble.console).toEqual([]);
      await bare.close();
    });

    it('keeps a 200-character label inside the page, and explains a longer one before sending it', async () => {
      const gallery = `long-${name}`;
      const page = await openTeach(viewport, gallery);
      const long = 'W'.repeat(200);
      await teach(page, long, SYMBOLS.cross());
      await draw(page, '#query-pad-canvas', SYMBOLS.cross(0.02));
      await expect.poll(() => page.locator('#matches li').count()).toBe(1);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `the page is ${width}px wide`).toBeLessThanOrEqual(viewport.width);
      // Nothing covers the Recognise button: it is what a tap on its middle reaches.
      await page.locator('#recognise').scrollIntoViewIfNeeded();
      const onTop = await page.locator('#recognise').evaluate((button) => {
        const box = button.getBoundingClientRect();
        return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2) === button;
      });
      expect(onTop).toBe(true);

      // 230 characters: the page says what is wrong, and sends nothing.
      let enrolments = 0;
      page.on('request', (request) => void (/\/examples$/.test(request.url()) && enrolments++));
      await draw(page, '#teach-pad-canvas', SYMBOLS.circle());
      await page.fill('#teach-label', 'x'.repeat(230));
      await page.click('#teach-add');
      await expect
        .poll(() => page.textContent('#teach-message'))
        .toBe('A name can be at most 200 characters; this one has 230. Shorten it.');
      expect(enrolments).toBe(0);
      // The message goes once the name is being fixed.
      await page.locator('#teach-label').press('Backspace');
      expect(await page.textContent('#teach-message')).toBe('');
      await page.close();
    });

    it('takes a message away when its cause is gone', async () => {
      const page = await openTeach(viewport, `messages-${name}`);
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain('Draw the symbol');
      await draw(page, '#teach-pad-canvas', SYMBOLS.cross());
      expect(await page.textContent('#teach-message')).toBe('');
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toBe('Give the symbol a name first.');
      await page.fill('#teach-label', 'cross');
      expect(await page.textContent('#teach-message')).toBe('');
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain('Added “cross”');

      // Cut off: the query says the server cannot be reached, with the command as code, not backticks.
      await page.route('**/v1/**', (route) => route.abort('connectionrefused'));
      await draw(page, '#query-pad-canvas', SYMBOLS.cross(0.02));
      await expect.poll(() => page.textContent('#query-message')).toContain('Cannot reach the twinshot server');
      expect(await page.textContent('#query-message')).not.toContain('`');
      expect(await page.locator('#query-message code').textContent()).toBe('twinshot serve');
      await draw(page, '#teach-pad-canvas', SYMBOLS.circle());
      await page.fill('#teach-label', 'circle');
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain('Cannot reach the twinshot server');
      // Back: the next call that gets through takes "cannot reach" away everywhere.
      await page.unroute('**/v1/**');
      await page.click('#recognise');
      await expect.poll(() => page.locator('#matches li').count()).toBe(1);
      expect(await page.textContent('#query-message')).toBe('');
      expect(await page.textContent('#teach-message')).toBe('');
      expect(await page.textContent('#server-status')).toContain('model');
      await page.close();
    });

    it('shows a first visit with a valid gallery pattern, no 404 and no console errors', async () => {
      const page = await browser.context.newPage();
      await page.setViewportSize(viewport);
      const trouble = watch(page);
      await page.goto(`${server.url}/#/teach`);
      await page.evaluate(() => localStorage.clear());
      await page.reload();
      await page.locator('#server-status[data-state="ok"]').waitFor();
      await expect.poll(() => page.textContent('#gallery-summary')).toBe('empty');
      expect(await page.inputValue('#gallery-name')).toBe('playground');
      // Browsers compile `pattern` with the v flag; a bad one is ignored (and logged).
      const check = await page.locator('#gallery-name').evaluate((input: HTMLInputElement) => {
        new RegExp(input.pattern, 'v');
        input.value = 'no spaces allowed';
        const mismatch = input.validity.patternMismatch;
        input.value = 'fine-name_1.2';
        return { mismatch, fine: input.validity.valid };
      });
      expect(check).toEqual({ mismatch: true, fine: true });
      expect(await page.isDisabled('#clear-gallery')).toBe(true);
      expect(trouble).toEqual({ console: [], requests: [] });

      if (viewport.width >= 760) {
        // Side by side, the two drawing areas start level, however the hints above them wrap.
        for (const width of [viewport.width, 800]) {
          await page.setViewportSize({ width, height: viewport.height });
          const [teachBox, queryBox] = await Promise.all(
            ['#teach-pad-canvas', '#query-pad-canvas'].map((s) => page.locator(s).boundingBox()),
          );
          expect(Math.abs(teachBox!.y - queryBox!.y), `at ${width}px`).toBeLessThanOrEqual(1);
          expect(queryBox!.x).toBeGreaterThan(teachBox!.x + teachBox!.width);
        }
      } else {
        // One column: the query card comes below the teach card, and nothing is wider than the screen.
        const [teachBox, queryBox] = await Promise.all(
          ['#teach-pad-canvas', '#query-pad-canvas'].map((s) => page.locator(s).boundingBox()),
        );
        expect(queryBox!.y).toBeGreaterThan(teachBox!.y + teachBox!.height);
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
      }
      await page.close();
    });
  });
}
