// A line chart as SVG (no charting library): a fixed height so nothing around it moves as data
// arrives, drawn at the width it is shown at so its labels keep their size on a phone.
import { svg } from './dom.js';

export interface Series {
  points: { x: number; y: number }[];
  /** CSS class of the line (colours live in style.css). */
  className: string;
  /** Dots at each point (for sparse series such as validations). */
  dots?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  format: (y: number) => string;
  /** Fixed y range (e.g. [0, 1] for accuracy); default: the data's range. */
  yRange?: [number, number];
}

/** Width used before the chart is laid out (and the narrowest it is drawn at). */
const DEFAULT_WIDTH = 640;
const MIN_WIDTH = 240;
const HEIGHT = 240;
const M = { left: 56, right: 16, top: 12, bottom: 34 };
/** Room each x tick label needs, in pixels. */
const X_TICK_SPACING = 70;
/** Most vertices drawn per line; longer series are thinned (every point still counts in data-points). */
const MAX_VERTICES = 1500;

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / count));
  const unit = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) ?? step * 10;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / unit) * unit; t <= hi + unit * 1e-9; t += unit) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/**
 * Draws series into `host` (an <svg> created once by {@link createChart}); `data-points` on the
 * svg holds the number of data points of the first series, which tests and screen readers use.
 */
export function drawChart(host: SVGSVGElement, series: readonly Series[], options: ChartOptions): void {
  while (host.firstChild) host.removeChild(host.firstChild);
  // One user unit per CSS pixel: labels are as large on a phone as on a desktop.
  const shown = Math.round(host.getBoundingClientRect().width);
  const width = shown > 0 ? Math.max(MIN_WIDTH, shown) : DEFAULT_WIDTH;
  host.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
  const all = series.flatMap((s) => s.points);
  const main = series[0]?.points ?? [];
  host.dataset.points = String(main.length);
  const last = main[main.length - 1];
  host.setAttribute(
    'aria-label',
    last
      ? `${options.title}: ${main.length} points, latest ${options.format(last.y)} at step ${last.x}`
      : `${options.title}: no data yet`,
  );
  const plotW = width - M.left - M.right;
  const plotH = HEIGHT - M.top - M.bottom;
  host.append(svg('rect', { x: M.left, y: M.top, width: plotW, height: plotH, class: 'plot-area' }));
  if (all.length === 0) {
    host.append(
      svg(
        'text',
        { x: M.left + plotW / 2, y: M.top + plotH / 2, class: 'empty', 'text-anchor': 'middle' },
        'no data yet',
      ),
    );
    return;
  }
  const xMax = Math.max(1, ...all.map((p) => p.x));
  const xMin = Math.min(0, ...all.map((p) => p.x));
  let [yLo, yHi] = options.yRange ?? [Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
  if (yHi - yLo < 1e-9) [yLo, yHi] = [yLo - 0.5, yHi + 0.5];
  const pad = options.yRange ? 0 : (yHi - yLo) * 0.05;
  yLo -= pad;
  yHi += pad;
  const x = (v: number): number => M.left + ((v - xMin) / (xMax - xMin)) * plotW;
  const y = (v: number): number => M.top + plotH - ((v - yLo) / (yHi - yLo)) * plotH;

  for (const t of niceTicks(yLo, yHi, 4)) {
    host.append(svg('line', { x1: M.left, x2: M.left + plotW, y1: y(t), y2: y(t), class: 'grid' }));
    host.append(svg('text', { x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, options.format(t)));
  }
  for (const t of niceTicks(xMin, xMax, Math.max(2, Math.min(6, Math.floor(plotW / X_TICK_SPACING))))) {
    host.append(svg('text', { x: x(t), y: HEIGHT - M.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, String(t)));
  }
  host.append(
    svg('text', { x: M.left + plotW / 2, y: HEIGHT - 4, 'text-anchor': 'middle', class: 'axis-label' }, options.xLabel),
  );

  for (const s of series) {
    if (s.points.length === 0) continue;
    const stride = Math.max(1, Math.ceil(s.points.length / MAX_VERTICES));
    const shown = s.points.filter((_, i) => i % stride === 0 || i === s.points.length - 1);
    const d = shown.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join('');
    host.append(svg('path', { d, class: `line ${s.className}` }));
    if (s.dots && s.points.length <= 200) {
      for (const p of s.points) {
        host.append(
          svg(
            'circle',
            { cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: 3, class: `dot ${s.className}` },
            svg('title', {}, `step ${p.x}: ${options.format(p.y)}`),
          ),
        );
      }
    }
  }
}

/**
 * An empty chart of fixed height that fills its container's width; `redraw` is called when that
 * width changes (a phone turned, a window resized), so the chart is drawn again at the new size.
 */
export function createChart(id: string, title: string, redraw?: () => void): SVGSVGElement {
  const element = svg('svg', {
    id,
    viewBox: `0 0 ${DEFAULT_WIDTH} ${HEIGHT}`,
    height: HEIGHT,
    role: 'img',
    'aria-label': `${title}: no data yet`,
    class: 'chart',
    preserveAspectRatio: 'xMinYMid meet',
  });
  if (redraw && typeof ResizeObserver === 'function') {
    let width = 0;
    new ResizeObserver(([entry]) => {
      const now = Math.round(entry?.contentRect.width ?? 0);
      // Only a real change of width: the height is fixed, so drawing again cannot trigger this again.
      if (now > 0 && Math.abs(now - width) >= 2) {
        width = now;
        redraw();
      }
    }).observe(element);
  }
  return element;
}
