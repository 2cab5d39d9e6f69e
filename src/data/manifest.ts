// Manifests: a CSV (with a header) or JSON Lines file listing image path, label and optional group,
// e.g. the `image_path, language, character` CSV of one PyTorch Omniglot implementation.
import fs from 'node:fs';
import path from 'node:path';
import { TwinshotError } from '../errors.js';
import { buildImageSet, checkPreprocessing, type LabeledSource, type LoadOptions } from './build.js';
import { statFingerprint } from './cache.js';
import type { ImageSet } from './dataset.js';

/** Accepted column (or JSON key) names, case-insensitive, first match wins. */
export const MANIFEST_COLUMNS = {
  path: ['path', 'image_path', 'image', 'file', 'filename', 'filepath'],
  label: ['label', 'class', 'character', 'class_name', 'classname', 'target'],
  group: ['group', 'alphabet', 'language', 'superclass', 'category'],
  drawer: ['drawer', 'writer'],
} as const;

export interface ManifestEntry {
  path: string;
  label: string;
  group: string;
  drawer: number;
  /** 1-based line in the manifest, for messages. */
  line: number;
}

export interface LoadManifestOptions extends LoadOptions {
  /** Folder relative image paths start from (default: the manifest's folder). */
  root?: string;
  /** 'csv' or 'jsonl' (default: from the extension; .jsonl/.ndjson are JSON Lines). */
  format?: 'csv' | 'jsonl';
}

function formatError(file: string, line: number, message: string): TwinshotError {
  return new TwinshotError('ERR_FORMAT', `${file}:${line}: ${message}`);
}

/** Splits CSV text into rows of fields (RFC 4180: quotes, doubled quotes, CRLF, a BOM). */
export function parseCsv(text: string, file = 'manifest'): { fields: string[]; line: number }[] {
  const rows: { fields: string[]; line: number }[] = [];
  let field = '';
  let fields: string[] = [];
  let inQuotes = false;
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRow = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0]!.trim() === '')) rows.push({ fields, line: rowLine });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field.trim() === '') {
      field = '';
      inQuotes = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else field += ch;
  }
  if (inQuotes) throw formatError(file, rowLine, 'a quoted field is not closed');
  if (field !== '' || fields.length > 0) endRow();
  return rows;
}

function pickColumn(names: readonly string[], candidates: readonly string[]): number {
  for (const candidate of candidates) {
    const at = names.indexOf(candidate);
    if (at >= 0) return at;
  }
  return -1;
}

function parseDrawer(value: string | number | undefined, file: string, line: number): number {
  if (value === undefined || value === '') return -1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw formatError(file, line, `drawer must be an integer >= 0; got '${value}'`);
  return n;
}

/**
 * Reads a manifest's entries. CSV needs a header naming a path and a label column
 * (see MANIFEST_COLUMNS); JSON Lines needs one object a line with such keys.
 * @throws TwinshotError ERR_FORMAT naming the line of a malformed row; ERR_DATASET when the file is missing or empty
 */
export function readManifest(file: string, format?: 'csv' | 'jsonl'): ManifestEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new TwinshotError('ERR_DATASET', `manifest ${file} cannot be read (${(error as Error).message})`, {
      cause: error,
    });
  }
  const kind = format ?? (/\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : 'csv');
  const entries: ManifestEntry[] = [];
  if (kind === 'jsonl') {
    const lines = text.split(/\r?\n/);
    lines.forEach((raw, index) => {
      const lineNo = index + 1;
      if (raw.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (error) {
        throw formatError(file, lineNo, `not valid JSON (${(error as Error).message})`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw formatError(file, lineNo, 'expected a JSON object');
      const record = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]),
      );
      const get = (keys: readonly string[]): unknown => keys.map((k) => record[k]).find((v) => v !== undefined);
      const p = get(MANIFEST_COLUMNS.path);
      const label = get(MANIFEST_COLUMNS.label);
      const group = get(MANIFEST_COLUMNS.group);
      if (typeof p !== 'string' || p === '')
        throw formatError(file, lineNo, `needs a "path" string (one of ${MANIFEST_COLUMNS.path.join(', ')})`);
      if ((typeof label !== 'string' && typeof label !== 'number') || label === '') {
        throw formatError(file, lineNo, `needs a "label" (one of ${MANIFEST_COLUMNS.label.join(', ')})`);
      }
      if (group !== undefined && typeof group !== 'string' && typeof group !== 'number')
        throw formatError(file, lineNo, '"group" must be a string');
      entries.push({
        path: p,
        label: String(label),
        group: group === undefined ? '' : String(group),
        drawer: parseDrawer(get(MANIFEST_COLUMNS.drawer) as string | number | undefined, file, lineNo),
        line: lineNo,
      });
    });
  } else {
    const rows = parseCsv(text, file);
    if (rows.length === 0) throw new TwinshotError('ERR_DATASET', `manifest ${file} is empty`);
    const header = rows[0]!.fields.map((f) => f.trim().toLowerCase());
    const pathAt = pickColumn(header, MANIFEST_COLUMNS.path);
    const labelAt = pickColumn(header, MANIFEST_COLUMNS.label);
    const groupAt = pickColumn(header, MANIFEST_COLUMNS.group);
    const drawerAt = pickColumn(header, MANIFEST_COLUMNS.drawer);
    if (pathAt < 0 || labelAt < 0) {
      throw formatError(
        file,
        rows[0]!.line,
        `the header (${header.join(', ')}) needs a path column (${MANIFEST_COLUMNS.path.join(' / ')}) and a label column (${MANIFEST_COLUMNS.label.join(' / ')})`,
      );
    }
    for (const row of rows.slice(1)) {
      if (row.fields.length !== header.length) {
        throw formatError(file, row.line, `has ${row.fields.length} fields; the header has ${header.length}`);
      }
      const p = row.fields[pathAt]!.trim();
      const label = row.fields[labelAt]!.trim();
      if (p === '' || label === '') throw formatError(file, row.line, 'path and label must not be empty');
      entries.push({
        path: p,
        label,
        group: groupAt >= 0 ? row.fields[groupAt]!.trim() : '',
        drawer: drawerAt >= 0 ? parseDrawer(row.fields[drawerAt]!.trim(), file, row.line) : -1,
        line: row.line,
      });
    }
  }
  if (entries.length === 0) throw new TwinshotError('ERR_DATASET', `manifest ${file} lists no images`);
  return entries;
}

/**
 * Loads the images a manifest lists. A class is (group, label): the same label under two groups
 * names two classes, as Omniglot's `character01` does in every alphabet. Listed files that are
 * missing or undecodable are skipped with one warning (see maxSkippedFraction).
 *
 * @example
 * const set = await loadManifest('omniglot.csv', { size: 28, invert: true }); // image_path,language,character
 * @throws TwinshotError ERR_FORMAT for a malformed manifest, ERR_DATASET when it lists nothing readable
 */
export async function loadManifest(file: string, options: LoadManifestOptions = {}): Promise<ImageSet> {
  const preprocessing = checkPreprocessing(options, { size: 105, invert: false });
  const resolved = path.resolve(file);
  const entries = readManifest(resolved, options.format);
  const root = path.resolve(options.root ?? path.dirname(resolved));
  const sources: LabeledSource[] = entries.map((e) => {
    const image = path.resolve(root, e.path);
    return {
      path: image,
      read: () => fs.readFileSync(image),
      className: e.group ? `${e.group}/${e.label}` : e.label,
      groupName: e.group,
      drawer: e.drawer,
    };
  });
  const present = sources.map((s) => s.path).filter((p) => fs.existsSync(p));
  return buildImageSet({
    sources,
    preprocessing,
    description: resolved,
    cacheName: `manifest-${path.basename(resolved)}`,
    fingerprint: { manifest: statFingerprint(resolved), root, images: statFingerprint(root, present) },
    options,
  });
}
