// Framing a drawing by its ink: the square around the strokes, so that every character fills the
// network's small input whatever size and place it was drawn at (people draw the same character
// at different sizes and positions; at 28x28 those differences cost detail the network needs).

/** A square window in image coordinates; it may extend past the image (paper there). */
export interface InkWindow {
  left: number;
  top: number;
  side: number;
}

/** Pixels darker than this (0 = black) count as ink when framing. */
export const INK_THRESHOLD = 128;

/** Share of the window's side left as paper on each side of the ink. */
export const INK_MARGIN = 0.1;

/**
 * The square window centred on the ink's bounding box, with INK_MARGIN of paper on each side;
 * null when the image has no ink.
 */
export function inkWindow(gray: Uint8Array, width: number, height: number): InkWindow | null {
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (gray[row + x]! < INK_THRESHOLD) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) return null;
  return windowAround({ minX, minY, maxX, maxY });
}

/** The square window centred on an ink bounding box (inclusive corners), with INK_MARGIN of paper on each side. */
export function windowAround(box: { minX: number; minY: number; maxX: number; maxY: number }): InkWindow {
  const { minX, minY, maxX, maxY } = box;
  const extent = Math.max(maxX - minX + 1, maxY - minY + 1);
  const side = Math.max(1, Math.round(extent / (1 - 2 * INK_MARGIN)));
  return {
    left: Math.round((minX + maxX + 1 - side) / 2),
    top: Math.round((minY + maxY + 1 - side) / 2),
    side,
  };
}

/** The window's pixels (`side * side`), paper (255) where it extends past the image. */
export function cropWindow(gray: Uint8Array, width: number, height: number, window: InkWindow): Uint8Array {
  const { left, top, side } = window;
  const out = new Uint8Array(side * side).fill(255);
  const x0 = Math.max(0, left);
  const x1 = Math.min(width, left + side);
  for (let y = Math.max(0, top); y < Math.min(height, top + side); y++) {
    if (x1 > x0) out.set(gray.subarray(y * width + x0, y * width + x1), (y - top) * side + (x0 - left));
  }
  return out;
}

/** The image framed by its ink (unchanged when it has none), with its new width and height. */
export function frameInk(
  gray: Uint8Array,
  width: number,
  height: number,
): { data: Uint8Array; width: number; height: number } {
  const window = inkWindow(gray, width, height);
  if (window === null) return { data: gray, width, height };
  return { data: cropWindow(gray, width, height, window), width: window.side, height: window.side };
}
