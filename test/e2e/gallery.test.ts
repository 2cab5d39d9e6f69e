// Galleries on the Teach page in headless Chromium, at a laptop's and a phone's width: pictures
// kept by the service (so another browser shows them), classes grown example by example and their
// examples shown, the gallery downloaded and imported again, and the code snippets run as written.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { draw, launchBrowser, startServer, SYMBOLS, VIEWPORTS, watch, type Browser, type Server } from './helpers.js';

const run = promisify(execFile);
let browser: Browser;
/** A second browser with its own profile: what another person's browser would show. */
let other: Browser;
let server: Server;
let scratch: string;

beforeAll(async () => {
  server = await startServer({ webDist: inject('webDist'), omniglot: null });
  browser = await launchBrowser();
  other = await launchBrowser();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-e2e-gallery-'));
});

afterAll(async () => {
  await browser?.close();
  await other?.close();
  await server?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function openTeach(
  context: Browser['context'],
  viewport: { width: number; height: number },
  gallery: string,
): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server.url}/#/teach`);
  await page.locator('#server-status[data-state="ok"]').waitFor();
  await page.fill('#gallery-name', gallery);
  await page.locator('#gallery-name').press('Enter');
  await page.locator('#gallery-name').blur();
  return page;
}

/** Whether every picture in `selector` has arrived and decoded (not a "?" placeholder). */
async function picturesShown(page: Page, selector: string): Promise<boolean[]> {
  return page
    .locator(selector)
    .evaluateAll((nodes) =>
      nodes.map((node) => node instanceof HTMLImageElement && node.complete && node.naturalWidth > 0),
    );
}

for (const [name, viewport] of VIEWPORTS) {
  describe(`Galleries at ${name} width (${viewport.width}x${viewport.height})`, () => {
    it('shows the pictures the service keeps in another browser, and grows a class example by example', async () => {
      const gallery = `pictures-${name}`;
      const page = await openTeach(browser.context, viewport, gallery);
      await draw(page, '#teach-pad-canvas', SYMBOLS.circle());
      await page.fill('#teach-label', 'circle');
      await page.click('#teach-add');
      await expect.poll(() => page.textContent('#teach-message')).toContain('Added “circle”');

      // "Add example" with nothing drawn says what to do, with the name filled in.
      const row = page.locator('#taught li[data-label="circle"]');
      await row.locator('button.add-example').click();
      expect(await page.textContent('#teach-message')).toContain('Draw another example of “circle”');
      expect(await page.inputValue('#teach-label')).toBe('circle');
      // With a drawing, it adds one more example to that class.
      await draw(page, '#teach-pad-canvas', SYMBOLS.circle(0.5, 0.5, 0.22));
      await row.locator('button.add-example').click();
      await expect.poll(() => page.textContent('#teach-message')).toBe('Added 1 example to “circle” (now 2).');
      await expect.poll(() => row.locator('.taught-count').textContent()).toBe('2 examples');

      // The class's examples, each with its picture from the service.
      await row.locator('button.examples-toggle').click();
      expect(await row.locator('button.examples-toggle').getAttribute('aria-expanded')).toBe('true');
      await expect
        .poll(() => picturesShown(page, '#taught li[data-label="circle"] .examples-strip img'))
        .toEqual([true, true]);
      await page.close();

      // Another browser (its own profile and storage) shows the same pictures.
      const elsewhere = await openTeach(other.context, viewport, gallery);
      const trouble = watch(elsewhere);
      await expect.poll(() => elsewhere.locator('#taught li[data-label]').count()).toBe(1);
      await expect.poll(() => picturesShown(elsewhere, '#taught li[data-label="circle"] > .thumb')).toEqual([true]);
      await draw(elsewhere, '#query-pad-canvas', SYMBOLS.circle(0.52, 0.5, 0.27));
      await expect.poll(() => picturesShown(elsewhere, '#matches li .thumb')).toEqual([true]);
      expect(trouble).toEqual({ console: [], requests: [] });
      await elsewhere.close();
    });

    it('downloads the gallery as one file, imports it again, and refuses a file that is not one', async () => {
      const gallery = `takeaway-${name}`;
      const page = await openTeach(browser.context, viewport, gallery);
      // Until the page has looked the new name up, it still shows the previous gallery's state.
      await expect.poll(() => page.textContent('#gallery-summary')).toBe('empty');
      await expect.poll(() => page.isDisabled('#gallery-download')).toBe(true);
      for (const [label, strokes] of [
        ['cross', SYMBOLS.cross()],
        ['bars', SYMBOLS.bars()],
      ] as const) {
        await draw(page, '#teach-pad-canvas', strokes);
        await page.fill('#teach-label', label);
        await page.click('#teach-add');
        await expect.poll(() => page.textContent('#teach-message')).toContain(`Added “${label}”`);
      }
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#gallery-download')]);
      expect(download.suggestedFilename()).toBe(`${gallery}.twinshot-gallery.json`);
      const file = path.join(scratch, `${gallery}.json`);
      await download.saveAs(file);
      const exported = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        format: string;
        model: string;
        examples: { label: string; picture?: string }[];
      };
      expect(exported).toMatchObject({ format: 'twinshot-gallery', model: 'pixels-16' });
      expect(exported.examples.map((e) => e.label).sort()).toEqual(['bars', 'cross']);
      const picture = await sharp(Buffer.from(exported.examples[0]!.picture!, 'base64')).metadata();
      expect(picture.format).toBe('png');

      // Cleared, then brought back from the file, pictures and all.
      await page.click('#clear-gallery');
      await expect.poll(() => page.textContent('#gallery-summary')).toBe('empty');
      await page.setInputFiles('#gallery-import-file', file);
      await expect.poll(() => page.textContent('#take-away-message')).toBe(`Imported 2 examples into “${gallery}”.`);
      await expect.poll(() => page.textContent('#gallery-summary')).toBe('2 symbols, 2 examples');
      await expect.poll(() => picturesShown(page, '#taught li[data-label] > .thumb')).toEqual([true, true]);
      // Again: classes in the file replace those of the same name, so nothing doubles. The message
      // reads as after the first import, so wait for this import's end: Import is enabled again.
      await page.setInputFiles('#gallery-import-file', file);
      await expect.poll(() => page.isDisabled('#gallery-import')).toBe(false);
      expect(await page.textContent('#take-away-message')).toBe(`Imported 2 examples into “${gallery}”.`);
      expect(await page.textContent('#gallery-summary')).toBe('2 symbols, 2 examples');

      await page.setInputFiles('#gallery-import-file', {
        name: 'notes.json',
        mimeType: 'application/json',
        buffer: Buffer.from('{"hello": "world"}'),
      });
      await expect.poll(() => page.textContent('#take-away-message')).toContain('notes.json is not a gallery file');
      expect(await page.getAttribute('#take-away-message', 'data-kind')).toBe('error');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
      await page.close();
    });
  });
}

describe('The code snippets', () => {
  it('recognise a drawing when run as written, with curl and with Node', async () => {
    const gallery = 'snippets';
    const page = await openTeach(browser.context, VIEWPORTS[0][1], gallery);
    await draw(page, '#teach-pad-canvas', SYMBOLS.cross());
    await page.fill('#teach-label', 'cross');
    await page.click('#teach-add');
    await expect.poll(() => page.textContent('#teach-message')).toContain('Added “cross”');
    await page.click('#api-snippets summary');
    const curl = (await page.textContent('#snippet-curl'))!;
    const fetchCode = (await page.textContent('#snippet-fetch'))!;
    expect(curl).toContain(`${server.url}/v1/galleries/${gallery}/identify`);

    const dir = fs.mkdtempSync(path.join(scratch, 'snippet-'));
    const png = await sharp(
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="105" height="105"><rect width="105" height="105" fill="#fff"/>' +
          '<path d="M25 25 L80 80 M80 25 L25 80" stroke="#000" stroke-width="6"/></svg>',
      ),
    )
      .png()
      .toBuffer();
    fs.writeFileSync(path.join(dir, 'drawing.png'), png);
    const fromCurl = await run('bash', ['-c', curl], { cwd: dir });
    expect(JSON.parse(fromCurl.stdout)).toMatchObject({ label: 'cross', matches: [{ label: 'cross' }] });
    fs.writeFileSync(path.join(dir, 'snippet.mjs'), fetchCode);
    const fromNode = await run(process.execPath, ['snippet.mjs'], { cwd: dir });
    expect(fromNode.stdout).toMatch(/^cross \[/);
    await page.close();
  });
});
