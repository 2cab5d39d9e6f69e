// The explorer on a server without Omniglot, and the training dashboard before a run appears, while
// it runs and once it has finished, at a laptop's and a phone's width: short messages without
// server paths or backticks, no empty tiles, and chart labels as large on a phone as on a laptop.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, startServer, VIEWPORTS, watch, type Browser, type Server } from './helpers.js';

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

async function open(view: string, viewport: { width: number; height: number }): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server.url}/#/${view}`);
  await page.locator('#server-status[data-state="ok"]').waitFor();
  return page;
}

/** A metrics log like `twinshot train` writes: a loss every 50 steps, a validation every 500. */
function writeRun(name: string, lastStep: number): string {
  const dir = path.join(server.runsDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  for (let step = 50; step <= lastStep; step += 50) {
    lines.push(JSON.stringify({ kind: 'train', step, seconds: step / 10, loss: 2 * Math.exp(-step / 400) + 0.3 }));
    if (step % 500 === 0) lines.push(JSON.stringify({ kind: 'validation', step, accuracy: 0.5 + step / 5000 }));
  }
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
  return dir;
}

for (const [name, viewport] of VIEWPORTS) {
  describe(`Explorer and training at ${name} width (${viewport.width}x${viewport.height})`, () => {
    it('says briefly that the explorer needs Omniglot, with no server paths, no empty tiles and no Next', async () => {
      const page = await open('explorer', viewport);
      const trouble = watch(page);
      await expect.poll(() => page.textContent('#explorer-message')).toContain('needs Omniglot');
      const message = (await page.textContent('#explorer-message'))!;
      expect(message).not.toMatch(/\/\w|`/);
      expect(message.length).toBeLessThan(200);
      expect(await page.locator('#explorer-message code').first().textContent()).toBe('twinshot data omniglot');
      expect(await page.locator('#explorer-candidates .candidate').first().isVisible()).toBe(false);
      expect(await page.isDisabled('#explorer-next')).toBe(true);
      expect(await page.locator('#explorer-next').isVisible()).toBe(false);
      // Coming back does not ask again.
      await page.goto(`${server.url}/#/training`);
      await page.goto(`${server.url}/#/explorer`);
      expect(await page.textContent('#explorer-message')).toBe(message);
      expect(trouble).toEqual({ console: [], requests: [] });
      await page.close();
    });

    it('shows "–" in every tile before a run, readable chart labels once there is one, and when it has finished', async () => {
      const run = `run-${name}`;
      fs.rmSync(path.join(server.runsDir), { recursive: true, force: true });
      fs.mkdirSync(server.runsDir);
      const page = await open('training', viewport);
      await expect.poll(() => page.textContent('#training-message')).toContain('No training runs');
      expect(await page.textContent('#training-message')).not.toContain('`');
      expect(await page.locator('#training-message code').first().textContent()).toMatch(/^twinshot train/);
      const tiles = await page.locator('#run-tiles dd').allTextContents();
      expect(tiles).toEqual(['–', '–', '–', '–', '–']);

      const dir = writeRun(run, 1500);
      await page.click('#runs-refresh');
      await expect.poll(() => page.getAttribute('#loss-chart', 'data-points')).toBe('30');
      expect(await page.textContent('#tile-step')).toBe('1500');
      for (const chart of ['#loss-chart', '#accuracy-chart']) {
        await page.locator(chart).scrollIntoViewIfNeeded();
        const boxes = (selector: string) =>
          page
            .locator(selector)
            .evaluateAll((texts) =>
              texts.map(
                (t) => ({ text: t.textContent, ...t.getBoundingClientRect().toJSON() }) as DOMRect & { text: string },
              ),
            );
        // 12px text drawn at 12px: at least 11px tall on screen, at either width.
        for (const label of await boxes(`${chart} text`))
          expect(label.height, `${chart} "${label.text}"`).toBeGreaterThanOrEqual(11);
        // Tick labels along the x axis (centred under their ticks) do not run into each other.
        const xTicks = (await boxes(`${chart} text.tick[text-anchor="middle"]`)).sort((a, b) => a.x - b.x);
        expect(xTicks.length).toBeGreaterThanOrEqual(2);
        for (let i = 1; i < xTicks.length; i++)
          expect(xTicks[i]!.x, `${chart} x ticks overlap`).toBeGreaterThan(xTicks[i - 1]!.x + xTicks[i - 1]!.width);
        const width = await page.locator(chart).evaluate((svg) => svg.getBoundingClientRect().width);
        expect(width).toBeLessThanOrEqual(viewport.width);
      }

      // While the log grows the run is live; once `twinshot train` writes metrics.svg, it has ended.
      await expect.poll(() => page.getAttribute('#run-live', 'data-state')).toBe('live');
      fs.writeFileSync(path.join(dir, 'metrics.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
      await expect.poll(() => page.getAttribute('#run-live', 'data-state')).toBe('finished');
      expect(await page.textContent('#run-live')).toContain('Finished');
      expect(await page.textContent('#run-live')).not.toContain('Live');
      await page.close();
    });
  });
}
