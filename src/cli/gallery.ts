// `twinshot gallery enroll|identify|list|remove|export|import`: galleries used directly through
// the library (no server needed; safe beside a running server on the same store).
import { once } from 'node:events';
import fs from 'node:fs';
import readline from 'node:readline';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import type { Gallery, Identification, Recognizer } from '../gallery/gallery.js';
import { resolveImagePaths, withImagePaths, type ImagePathOptions } from './image-paths.js';

interface StoreOptions {
  store: string;
  model?: string;
}

function fail(message: string): never {
  const error = new Error(message) as Error & { exitCode: number };
  error.exitCode = 1;
  throw error;
}

async function withRecognizer<T>(options: StoreOptions, fn: (recognizer: Recognizer) => Promise<T>): Promise<T> {
  const [{ openStore }, { Recognizer }, { loadEmbedder }] = await Promise.all([
    import('../gallery/open-store.js'),
    import('../gallery/gallery.js'),
    import('../service/load-embedder.js'),
  ]);
  const embedder = await loadEmbedder(options.model);
  const store = await openStore(options.store);
  try {
    return await fn(new Recognizer(store, embedder));
  } finally {
    await store.close();
    await embedder.close();
  }
}

function readImage(file: string): Buffer {
  if (!fs.existsSync(file)) fail(`image ${file} does not exist`);
  return fs.readFileSync(file);
}

/** Images read, embedded and stored or searched at once. */
const BATCH = 64;

function printIdentification(file: string, result: Identification, named: boolean, json?: boolean): void {
  if (json) {
    console.log(JSON.stringify({ image: file, ...result }));
    return;
  }
  const verdict = result.unknown ? `unknown (nothing within ${result.threshold.toFixed(3)})` : `${result.label}`;
  console.log(named ? `${file}: ${verdict}` : verdict);
  for (const m of result.matches) {
    console.log(
      `  ${m.label.padEnd(24)} distance ${m.distance.toFixed(4)}  confidence ${(m.confidence * 100).toFixed(1)}%`,
    );
  }
}

function withStoreOptions(command: Command): Command {
  return command
    .option(
      '--store <url>',
      'gallery store: sqlite:PATH or postgres://USER@HOST/DB',
      'sqlite:./twinshot-data/gallery.db',
    )
    .option('--model <dir>', "model folder, or 'pixels' for the raw-pixel baseline (default: models/omniglot-fast)");
}

export function registerGalleryCommand(program: Command): void {
  const gallery = program
    .command('gallery')
    .description('enrol, identify, list, remove, export and import gallery classes');

  withStoreOptions(
    withImagePaths(
      gallery
        .command('enroll')
        .description('enrol example images of a class (creating the gallery if needed)')
        .argument('<gallery>', 'gallery name')
        .argument('<label>', 'class label')
        .argument('[images...]', 'image files (PNG, JPEG, WebP, GIF), folders or quoted glob patterns'),
    ),
  ).action(async (name: string, label: string, args: string[], options: StoreOptions & ImagePathOptions) => {
    const files = await resolveImagePaths(args, options);
    const enrolled = await withRecognizer(options, async (recognizer) => {
      const { gallery: g } = await recognizer.createGallery(name);
      let count = 0;
      // A batch at a time, so any number of images fits in memory; each batch is stored atomically.
      for (let start = 0; start < files.length; start += BATCH) {
        count += (await g.enroll(label, files.slice(start, start + BATCH).map(readImage))).ids.length;
      }
      return count;
    });
    console.log(`enrolled ${enrolled} example(s) of '${label}' in gallery ${name}`);
  });

  withStoreOptions(
    withImagePaths(
      gallery
        .command('identify')
        .description("rank a gallery's classes for each image")
        .argument('<gallery>', 'gallery name')
        .argument('[images...]', 'image files, folders or quoted glob patterns')
        .option('-k <n>', 'labels to rank', '5')
        .option('--by <mode>', 'example (nearest example) or mean (class mean)', 'example')
        .option('--json', 'print one JSON object per image'),
    ),
  ).action(
    async (
      name: string,
      args: string[],
      options: StoreOptions & ImagePathOptions & { k: string; by: string; json?: boolean },
    ) => {
      const files = await resolveImagePaths(args, options);
      await withRecognizer(options, async (recognizer) => {
        const g = await recognizer.gallery(name);
        for (let start = 0; start < files.length; start += BATCH) {
          const batch = files.slice(start, start + BATCH);
          const results = await g.identifyMany(batch.map(readImage), {
            k: Number(options.k),
            by: options.by as 'example' | 'mean',
          });
          results.forEach((result, i) => printIdentification(batch[i]!, result, files.length > 1, options.json));
        }
      });
    },
  );

  withStoreOptions(
    gallery
      .command('list')
      .description('list galleries, or the classes of one gallery')
      .argument('[gallery]', 'gallery name')
      .option('--json', 'print JSON'),
  ).action(async (name: string | undefined, options: StoreOptions & { json?: boolean }) => {
    await withRecognizer(options, async (recognizer) => {
      if (name === undefined) {
        const galleries = await recognizer.listGalleries();
        if (options.json) console.log(JSON.stringify(galleries));
        else if (galleries.length === 0) console.log('no galleries');
        else
          for (const g of galleries)
            console.log(
              `${g.name.padEnd(24)} ${g.classes} classes, ${g.examples} examples  (${g.model}, ${g.dim}-d ${g.metric})`,
            );
        return;
      }
      const classes = await (await recognizer.gallery(name)).list();
      if (options.json) console.log(JSON.stringify(classes));
      else if (classes.length === 0) console.log(`gallery ${name} is empty`);
      else for (const c of classes) console.log(`${c.label.padEnd(24)} ${c.examples}`);
    });
  });

  withStoreOptions(
    gallery
      .command('remove')
      .description('remove a class from a gallery, or (without a label, with --yes) the whole gallery')
      .argument('<gallery>', 'gallery name')
      .argument('[label]', 'class label')
      .option('--yes', 'confirm deleting the whole gallery'),
  ).action(async (name: string, label: string | undefined, options: StoreOptions & { yes?: boolean }) => {
    await withRecognizer(options, async (recognizer) => {
      if (label === undefined) {
        if (!options.yes) fail(`this deletes gallery ${name} and all its examples; add --yes to confirm`);
        if (!(await recognizer.deleteGallery(name))) fail(`gallery ${name} does not exist`);
        console.log(`deleted gallery ${name}`);
        return;
      }
      const removed = await (await recognizer.gallery(name)).remove(label);
      if (removed === 0) fail(`gallery ${name} has no class '${label}'`);
      console.log(`removed '${label}' (${removed} example(s)) from gallery ${name}`);
    });
  });

  withStoreOptions(
    gallery
      .command('export')
      .description(
        "write a gallery's vectors, model identity and pictures as JSON (to a file, or to stdout); a FILE ending in .jsonl gets JSON Lines, without pictures",
      )
      .argument('<gallery>', 'gallery name')
      .argument('[file]', 'output file')
      .option('--no-pictures', "leave out the examples' pictures (a smaller file)"),
  ).action(async (name: string, file: string | undefined, options: StoreOptions & { pictures: boolean }) => {
    if (file?.endsWith('.jsonl')) {
      // Line by line: a gallery of millions does not fit in one JSON string.
      const count = await withRecognizer(options, async (recognizer) => {
        const out = fs.createWriteStream(file);
        let lines = -1;
        for await (const line of (await recognizer.gallery(name)).exportLines()) {
          if (!out.write(line)) await once(out, 'drain');
          lines++;
        }
        out.end();
        await finished(out);
        return lines;
      });
      console.log(`exported ${count} examples of gallery ${name} to ${file}`);
      return;
    }
    const document = await withRecognizer(options, async (recognizer) =>
      (await recognizer.gallery(name)).export({ pictures: options.pictures }),
    );
    const text = JSON.stringify(document);
    if (file === undefined) process.stdout.write(`${text}\n`);
    else {
      fs.writeFileSync(file, text);
      console.log(`exported ${document.examples.length} examples of gallery ${name} to ${file}`);
    }
  });

  withStoreOptions(
    gallery
      .command('import')
      .description('add the examples of an export to a gallery (creating it if needed)')
      .argument('<gallery>', 'gallery name')
      .argument('<file>', 'file written by gallery export')
      .option('--replace', 'remove the classes the file contains before adding'),
  ).action(async (name: string, file: string, options: StoreOptions & { replace?: boolean }) => {
    if (!fs.existsSync(file)) fail(`${file} does not exist`);
    if (isJsonLines(file)) {
      if (options.replace)
        fail('--replace needs the whole list of labels first: it works with JSON exports, not JSON Lines');
      const count = await withRecognizer(options, async (recognizer) => {
        const { gallery: g } = await recognizer.createGallery(name);
        return importLinesWithProgress(g, file);
      });
      console.log(`imported ${count} examples into gallery ${name}`);
      return;
    }
    let document: unknown;
    try {
      document = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      fail(`${file} is not JSON: ${(error as Error).message}`);
    }
    const count = await withRecognizer(options, async (recognizer) => {
      const { gallery: g } = await recognizer.createGallery(name);
      return g.import(document as never, { replace: options.replace ?? false });
    });
    console.log(`imported ${count} examples into gallery ${name}`);
  });
}

/** Whether the file starts with the header line of an export in JSON Lines. */
function isJsonLines(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const text = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)).toString('utf8');
    return /^\s*\{[^\n]*"format"\s*:\s*"twinshot-gallery-lines"/.test(text);
  } finally {
    fs.closeSync(fd);
  }
}

/** Streams a JSON Lines export into the gallery, with a progress bar (by bytes read) on a terminal. */
async function importLinesWithProgress(gallery: Gallery, file: string): Promise<number> {
  const { SingleBar, Presets } = await import('cli-progress');
  const total = fs.statSync(file).size;
  const input = fs.createReadStream(file);
  const bar = new SingleBar(
    { format: 'importing [{bar}] {percentage}% | {examples} examples | {eta_formatted} left', noTTYOutput: false },
    Presets.shades_classic,
  );
  bar.start(total, 0, { examples: 0 });
  let examples = 0;
  input.on('data', () => bar.update(input.bytesRead, { examples }));
  try {
    const count = await gallery.importLines(readline.createInterface({ input, crlfDelay: Infinity }), {
      onProgress: (written) => {
        examples = written;
        bar.update(input.bytesRead, { examples });
      },
    });
    bar.update(total, { examples: count });
    return count;
  } finally {
    bar.stop();
    input.destroy();
  }
}
