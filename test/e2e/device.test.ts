// Recognition on this device in headless Chromium, at a laptop's and a phone's width: the page
// fetches the shipped model's ONNX export and onnxruntime-web's files from the service, embeds
// drawings in the browser, keeps its gallery in IndexedDB, and goes on teaching and recognising
// after the server is stopped. Also: the browser's distances agree with the server's, and the time
// one embedding takes in the browser against the server's round trip (printed, and written to
// test-output/e2e/device-timing.json; a figure for the idle machine, not an assertion).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ModelEmbedder } from '../../src/models/model-embedder.js';
import { SHIPPED_MODEL } from '../../src/service/load-embedder.js';
import { onnxFileOf } from '../../src/service/server.js';
import { needs, prerequisite } from '../helpers/prerequisites.js';
import {
  DESKTOP,
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

const ONNX_FILE = onnxFileOf(SHIPPED_MODEL)!;
const SHIPPED_ONNX = prerequisite(
  'the shipped model’s ONNX export',
  () => fs.existsSync(ONNX_FILE) && fs.existsSync(`${ONNX_FILE}.json`),
  `looked for ${path.relative(process.cwd(), ONNX_FILE)}; run \`npm run export:models\` (scripts/setup.sh does)`,
);
/** Recognitions timed in each place; the median is what is reported. */
const TIMED = 40;

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

/** The real service with the shipped model and its ONNX export. */
async function modelServer(): Promise<Server> {
  return startServer({
    webDist: inject('webDist'),
    omniglot: null,
    embedder: await ModelEmbedder.open(SHIPPED_MODEL),
    onnxModel: ONNX_FILE,
  });
}

async function open(server: Server, viewport: { width: number; height: number }, gallery: string): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server.url}/#/teach`);
  await page.locator('#server-status[data-state="ok"]').waitFor();
  await page.fill('#gallery-name', gallery);
  await page.locator('#gallery-name').press('Enter');
  await page.locator('#gallery-name').blur();
  return page;
}

async function useDevice(page: Page): Promise<void> {
  await page.check('#where-device');
  await expect.poll(() => page.textContent('#where-status'), { timeout: 60_000 }).toMatch(/^On this device/);
  expect(await page.getAttribute('#page-teach', 'data-where')).toBe('device');
}

async function teach(page: Page, label: string, strokes: Strokes): Promise<void> {
  await draw(page, '#teach-pad-canvas', strokes);
  await page.fill('#teach-label', label);
  await page.click('#teach-add');
  await expect.poll(() => page.textContent('#teach-message')).toContain(`Added “${label}”`);
}

/** Draws a query on a clean pad and returns the labels ranked, once the answer is there. */
async function recognise(page: Page, strokes: Strokes): Promise<string[]> {
  const clear = page.locator('#query-pad button:has-text("Clear")');
  if (await clear.isEnabled()) await clear.click();
  await expect.poll(() => page.locator('#matches').count()).toBe(0);
  await draw(page, '#query-pad-canvas', strokes);
  await page.locator('#matches li').first().waitFor();
  await expect.poll(() => page.getAttribute('#results', 'aria-busy')).toBeNull();
  return page.locator('#matches li').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.label!));
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Presses Recognise `times` times, each once the last answer is shown, and returns the durations
 * of the measure named. The loop runs in the page, so the test's round trips to Chromium cost nothing.
 */
async function timeRecognitions(page: Page, times: number, measure: string): Promise<number[]> {
  return page.evaluate(
    async ({ times, measure }) => {
      performance.clearMeasures();
      const button = document.querySelector<HTMLButtonElement>('#recognise')!;
      const results = document.querySelector('#results')!;
      for (let i = 0; i < times; i++) {
        // The page marks the results busy as the click starts a recognition, and unmarks them with the answer.
        button.click();
        while (results.hasAttribute('aria-busy')) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      return performance.getEntriesByName(measure).map((entry) => entry.duration);
    },
    { times, measure },
  );
}

needs(SHIPPED_ONNX).describe('Recognition on this device', () => {
  for (const [name, viewport] of VIEWPORTS) {
    describe(`at ${name} width (${viewport.width}x${viewport.height})`, () => {
      let server: Server;
      beforeAll(async () => {
        server = await modelServer();
      });
      afterAll(async () => server?.close());

      it('teaches and recognises in the browser, keeps the gallery in IndexedDB, and goes on after the server stops', async () => {
        const gallery = `device-${name}`;
        let page = await open(server, viewport, gallery);
        const trouble = watch(page);
        expect(await page.textContent('#where-status')).toMatch(/^On the server/);
        await useDevice(page);
        expect(await page.textContent('#where-status')).toContain('omniglot-fast@');
        expect(await page.isHidden('#take-away')).toBe(true);
        await teach(page, 'circle', SYMBOLS.circle());
        await teach(page, 'cross', SYMBOLS.cross());
        expect((await recognise(page, SYMBOLS.circle(0.52, 0.5, 0.27)))[0]).toBe('circle');
        // Nothing of it reached the server's store.
        const listed = await fetch(`${server.url}/v1/galleries`).then((r) => r.json() as Promise<{ galleries: [] }>);
        expect(listed.galleries).toEqual([]);
        expect(trouble).toEqual({ console: [], requests: [] });
        await page.close();

        // A reload comes back to this device and to the gallery kept in IndexedDB, pictures and all.
        page = await open(server, viewport, gallery);
        const later = watch(page);
        await expect.poll(() => page.textContent('#where-status'), { timeout: 60_000 }).toMatch(/^On this device/);
        await expect.poll(() => page.locator('#taught li[data-label]').count()).toBe(2);
        expect(
          await page
            .locator('#taught li[data-label] > .thumb')
            .evaluateAll((images) => images.map((i) => (i as HTMLImageElement).src.startsWith('blob:'))),
        ).toEqual([true, true]);

        // The server goes away; the page does not need it.
        await server.close();
        await teach(page, 'bars', SYMBOLS.bars());
        expect((await recognise(page, SYMBOLS.bars(0.04)))[0]).toBe('bars');
        expect((await recognise(page, SYMBOLS.cross(0.03)))[0]).toBe('cross');
        await page.locator('#taught li[data-label="bars"] button.examples-toggle').click();
        await expect.poll(() => page.locator('#taught li[data-label="bars"] .examples-strip img').count()).toBe(1);
        expect(await page.textContent('#where-status')).toMatch(/^On this device/);
        expect(later).toEqual({ console: [], requests: [] });
        await page.close();
      });
    });
  }

  describe('against the server', () => {
    let server: Server;
    beforeAll(async () => {
      server = await modelServer();
    });
    afterAll(async () => server?.close());

    it('gives the distances the server gives, and times one embedding in the browser against a round trip', async () => {
      const page = await open(server, DESKTOP, 'parity');
      const taught = SYMBOLS.circle();
      const query = SYMBOLS.circle(0.5, 0.53, 0.25);
      const distances: Record<string, number> = {};
      for (const place of ['server', 'device'] as const) {
        if (place === 'device') await useDevice(page);
        await teach(page, 'circle', taught);
        await recognise(page, query);
        distances[place] = Number(await page.getAttribute('#matches li[data-label="circle"]', 'data-distance'));
      }
      expect(Math.abs(distances.device! - distances.server!)).toBeLessThan(1e-4);

      const device = await timeRecognitions(page, TIMED, 'twinshot:device:embed');
      await page.check('#where-server');
      await expect.poll(() => page.textContent('#where-status')).toMatch(/^On the server/);
      await expect.poll(() => page.locator('#taught li[data-label]').count()).toBe(1);
      await recognise(page, query);
      const server_ = await timeRecognitions(page, TIMED, 'twinshot:server:identify');
      expect(device.length).toBe(TIMED);
      expect(server_.length).toBe(TIMED);
      const report = {
        measuredAt: new Date().toISOString(),
        chromium: browser.context.browser()?.version() ?? 'unknown',
        model: 'omniglot-fast',
        drawings: TIMED,
        deviceEmbedMs: { median: median(device), min: Math.min(...device), max: Math.max(...device) },
        serverRoundTripMs: { median: median(server_), min: Math.min(...server_), max: Math.max(...server_) },
        distance: distances,
      };
      fs.mkdirSync('test-output/e2e', { recursive: true });
      fs.writeFileSync('test-output/e2e/device-timing.json', `${JSON.stringify(report, null, 2)}\n`);
      console.log(
        `e2e: one drawing embedded in Chromium (onnxruntime-web, wasm, 1 thread): median ${report.deviceEmbedMs.median.toFixed(1)} ms; ` +
          `server round trip (identify): median ${report.serverRoundTripMs.median.toFixed(1)} ms, over ${TIMED} each`,
      );
      await page.close();
    });
  });
});
