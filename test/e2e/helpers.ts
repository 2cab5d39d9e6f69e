// What the browser tests share: Debian's Chromium driven by playwright-core, the real service on a
// free port over a throwaway SQLite store, strokes drawn with the mouse, and screenshots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { buildApp, type TwinshotApp } from '../../src/service/app.js';
import type { Embedder } from '../../src/models/embedder.js';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import { SqliteStore } from '../../src/gallery/sqlite-store.js';

/** Debian's package; playwright's own browser download is not available here. */
export const CHROMIUM = process.env.TWINSHOT_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // A fake camera that needs no permission prompt, for the pads' camera input.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

/** The two widths every page feature is checked at: a laptop and a phone. */
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const VIEWPORTS = [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const;

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with a fresh profile folder, removed on close.
 * @throws Error naming the package to install when the browser is missing
 */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium, or scripts/setup.sh test as root), ` +
        'or set TWINSHOT_CHROMIUM to a Chromium binary',
    );
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Server {
  app: TwinshotApp;
  url: string;
  /** The runs folder the dashboard reads. */
  runsDir: string;
  close(): Promise<void>;
}

/** What went wrong in a page while it was watched: console errors and warnings, and failed requests. */
export interface Trouble {
  console: string[];
  requests: string[];
}

/**
 * Records console errors and warnings (Chromium reports invalid `pattern` attributes and failed
 * loads there), uncaught exceptions, requests that failed (other than those the page cancelled),
 * and responses of 400 or more.
 */
export function watch(page: Page): Trouble {
  const trouble: Trouble = { console: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      trouble.console.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => trouble.console.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => {
    const reason = request.failure()?.errorText ?? 'failed';
    // Requests the page cancels itself (a stale recognition, a stream it stops following) are not failures.
    if (reason !== 'net::ERR_ABORTED') trouble.requests.push(`${request.method()} ${request.url()}: ${reason}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400)
      trouble.requests.push(`${response.request().method()} ${response.url()}: ${response.status()}`);
  });
  return trouble;
}

/** The real service (pixel baseline, fresh SQLite store) serving the built page, on a free port. */
export async function startServer(options: {
  webDist: string;
  omniglot: string | null;
  /** The model (default: the pixel baseline); closed with the server. */
  embedder?: Embedder;
  /** Its ONNX export, for recognition in the browser (default: none). */
  onnxModel?: string | null;
}): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-e2e-'));
  const runsDir = path.join(dir, 'runs');
  fs.mkdirSync(runsDir);
  const store = SqliteStore.open(path.join(dir, 'gallery.db'));
  const embedder = options.embedder ?? new PixelEmbedder();
  const app = await buildApp({
    embedder,
    store,
    staticDir: options.webDist,
    rateLimit: false,
    defaultMetrics: false,
    web: { runsDir, omniglot: options.omniglot, pollMs: 100 },
    onnxModel: options.onnxModel ?? null,
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    runsDir,
    // Once: a test may stop the server before the suite's afterAll does.
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await store.close();
        await embedder.close();
        fs.rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** Points in canvas fractions (0..1), one array per stroke. */
export type Strokes = [number, number][][];

export const SYMBOLS = {
  circle: (cx = 0.5, cy = 0.5, r = 0.3): Strokes => [
    Array.from({ length: 33 }, (_, i): [number, number] => [
      cx + r * Math.cos((2 * Math.PI * i) / 32),
      cy + r * Math.sin((2 * Math.PI * i) / 32),
    ]),
  ],
  cross: (d = 0): Strokes => [
    [
      [0.2 + d, 0.2],
      [0.8 + d, 0.8],
    ],
    [
      [0.8 + d, 0.2],
      [0.2 + d, 0.8],
    ],
  ],
  bars: (d = 0): Strokes =>
    [0.25, 0.5, 0.75].map((y) => [
      [0.15, y + d],
      [0.85, y + d],
    ]),
};

/** Draws strokes on a canvas with the mouse (pointer events, as a person would). */
export async function draw(page: Page, canvasSelector: string, strokes: Strokes): Promise<void> {
  // On a phone the canvas may be below the fold, where the mouse cannot reach.
  await page.locator(canvasSelector).scrollIntoViewIfNeeded();
  const box = await page.locator(canvasSelector).boundingBox();
  if (!box) throw new Error(`${canvasSelector} is not visible`);
  const at = ([x, y]: [number, number]): [number, number] => [box.x + x * box.width, box.y + y * box.height];
  for (const stroke of strokes) {
    const [first, ...rest] = stroke;
    await page.mouse.move(...at(first!));
    await page.mouse.down();
    for (const point of rest) await page.mouse.move(...at(point), { steps: 2 });
    await page.mouse.up();
  }
}

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const DOCS_DIR = path.join(repoRoot, 'docs/screenshots');
const SCREENSHOT_DIRS = [DOCS_DIR, path.join(repoRoot, 'test-output/e2e')];

/**
 * Whether two PNGs differ by more than rasterisation noise: Chromium's anti-aliasing of rounded
 * corners varies by one level from run to run, which would otherwise dirty the committed pictures.
 */
async function differs(a: Buffer, b: Buffer): Promise<boolean> {
  const [x, y] = await Promise.all([a, b].map((png) => sharp(png).raw().toBuffer({ resolveWithObject: true })));
  if (x!.info.width !== y!.info.width || x!.info.height !== y!.info.height || x!.info.channels !== y!.info.channels)
    return true;
  for (let i = 0; i < x!.data.length; i++) if (Math.abs(x!.data[i]! - y!.data[i]!) > 2) return true;
  return false;
}

/**
 * Saves a full-page screenshot to test-output/e2e/ (the run's artefacts) and docs/screenshots/
 * (committed; rewritten only when the page looks different).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  // Images (the explorer's data: URLs) decode asynchronously; wait for them and one more frame.
  await page.waitForFunction(() => Array.from(document.images).every((image) => image.complete));
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const png = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide' });
  for (const dir of SCREENSHOT_DIRS) {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}.png`);
    if (dir === DOCS_DIR && fs.existsSync(file) && !(await differs(fs.readFileSync(file), png))) continue;
    fs.writeFileSync(file, png);
  }
}
