// The JSONL metrics log (one object per line: training steps and validations) and its SVG plot.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';

export interface MetricsRecord {
  kind: 'train' | 'validation';
  step: number;
  seconds: number;
  [key: string]: number | string;
}

export class MetricsLog {
  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  append(record: MetricsRecord): void {
    fs.appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }

  read(): MetricsRecord[] {
    if (!fs.existsSync(this.file)) return [];
    return fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as MetricsRecord];
        } catch {
          return []; // a line cut by a crash
        }
      });
  }

  /** Drops records after `step` (a resumed run repeats them). */
  truncateAfter(step: number): void {
    const kept = this.read().filter((r) => r.step <= step);
    writeFileAtomic(this.file, kept.map((r) => JSON.stringify(r)).join('\n') + (kept.length > 0 ? '\n' : ''));
  }
}

/** Two stacked panels: training loss, and validation accuracy, against step. */
export function plotMetrics(records: readonly MetricsRecord[], title: string): string {
  const width = 720;
  const panel = 220;
  const margin = { left: 64, right: 24, top: 36, bottom: 36 };
  const train = records.filter((r) => r.kind === 'train' && typeof r.loss === 'number');
  const valid = records.filter((r) => r.kind === 'validation' && typeof r.accuracy === 'number');
  const maxStep = Math.max(1, ...records.map((r) => r.step));
  const x = (step: number) => margin.left + ((width - margin.left - margin.right) * step) / maxStep;
  const panelSvg = (
    points: { step: number; value: number }[],
    top: number,
    label: string,
    format: (v: number) => string,
  ): string => {
    if (points.length === 0)
      return `<text x="${margin.left}" y="${top + panel / 2}" font-size="13">no ${label} yet</text>`;
    const lo = Math.min(...points.map((p) => p.value));
    const hi = Math.max(...points.map((p) => p.value));
    const span = hi - lo || 1;
    const y = (v: number) => top + panel - ((panel - 20) * (v - lo)) / span - 10;
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    return [
      `<rect x="${margin.left}" y="${top}" width="${width - margin.left - margin.right}" height="${panel}" fill="none" stroke="#ccc"/>`,
      `<text x="${margin.left}" y="${top - 6}" font-size="13">${label}</text>`,
      `<text x="${margin.left - 6}" y="${y(hi) + 4}" font-size="11" text-anchor="end">${format(hi)}</text>`,
      `<text x="${margin.left - 6}" y="${y(lo) + 4}" font-size="11" text-anchor="end">${format(lo)}</text>`,
      `<path d="${d}" fill="none" stroke="#2563eb" stroke-width="1.5"/>`,
      ...points.map((p) =>
        points.length <= 60
          ? `<circle cx="${x(p.step).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="2" fill="#2563eb"/>`
          : '',
      ),
    ].join('\n');
  };
  const height = margin.top + 2 * panel + 60 + margin.bottom;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" font-size="15" text-anchor="middle">${escapeXml(title)}</text>`,
    panelSvg(
      train.map((r) => ({ step: r.step, value: r.loss as number })),
      margin.top + 10,
      'training loss',
      (v) => v.toFixed(3),
    ),
    panelSvg(
      valid.map((r) => ({ step: r.step, value: r.accuracy as number })),
      margin.top + panel + 60,
      'validation one-shot accuracy',
      (v) => `${(100 * v).toFixed(1)}%`,
    ),
    `<text x="${width / 2}" y="${height - 8}" font-size="12" text-anchor="middle">step (max ${maxStep})</text>`,
    '</svg>',
  ].join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
