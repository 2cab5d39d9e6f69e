// Image decoding for every entry point (data sets, CLI, service): PNG/JPEG/WebP/GIF bytes ->
// one grayscale square of `size` x `size` uint8 pixels, resized with antialiasing (sharp).
import type { Metadata, default as Sharp } from 'sharp';
import { TwinshotError } from '../errors.js';
import { INK_THRESHOLD, windowAround, type InkWindow } from './ink-frame.js';
import { resizeGray } from './resize.js';

// Where the data sets and the web page (which runs models in the browser) find it.
export { resizeGray };

/** How images are turned into network input; saved in every model's config. */
export interface Preprocessing {
  /** Side of the square input, in pixels (105 for Koch et al., 28 for small nets). */
  size: number;
  /** Store ink as 255 on 0 (Omniglot's black strokes on white become bright strokes on black). */
  invert: boolean;
  /**
   * 'image' (default) resizes the whole picture; 'ink' first crops it to the square around its
   * strokes (see ink-frame.ts), so a character fills the input whatever size it was drawn at.
   */
  frame?: 'image' | 'ink';
}

/** Whether two preprocessings give the same pixels (a missing frame is 'image'). */
export function samePreprocessing(a: Preprocessing, b: Preprocessing): boolean {
  return a.size === b.size && a.invert === b.invert && (a.frame ?? 'image') === (b.frame ?? 'image');
}

export interface DecodeLimits {
  /** Largest accepted width x height before decoding (default 40 megapixels). */
  maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;

// sharp (libvips) is loaded on the first decode, not on import: tensors, models and training import
// this file, and loading libvips costs about 0.2 s and tens of MB that most of their users never need.
let sharpLoading: Promise<typeof Sharp> | undefined;
function loadSharp(): Promise<typeof Sharp> {
  sharpLoading ??= import('sharp').then((module) => module.default);
  return sharpLoading;
}

function imageError(message: string, cause?: unknown): TwinshotError {
  return new TwinshotError('ERR_IMAGE', message, { cause });
}

/**
 * An image's width and height, read from its header without decoding the pixels.
 * @throws TwinshotError ERR_IMAGE when the bytes are not an image
 */
export async function imageSize(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  if (bytes.byteLength === 0) throw imageError('image is empty (0 bytes)');
  const sharp = await loadSharp();
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw imageError(`not a decodable image (${(error as Error).message}); send PNG, JPEG, WebP or GIF`, error);
  }
  return { width: metadata.width ?? 0, height: metadata.height ?? 0 };
}

/**
 * Decodes one image to `size` x `size` grayscale pixels (row-major uint8).
 * Transparent areas become white (paper) before inversion.
 * @throws TwinshotError ERR_IMAGE when the bytes are not an image, are truncated, or exceed maxPixels
 */
export async function decodeImage(
  bytes: Uint8Array,
  pre: Preprocessing,
  limits: DecodeLimits = {},
): Promise<Uint8Array> {
  if (bytes.byteLength === 0) throw imageError('image is empty (0 bytes)');
  const sharp = await loadSharp();
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  const { width, height } = await imageSize(bytes);
  const pixels = width * height;
  if (pixels > maxPixels) {
    throw imageError(`image is ${width}x${height} (${pixels} pixels); the limit is ${maxPixels} pixels`);
  }
  try {
    if (pre.frame === 'ink') return await decodeInkFramed(bytes, pre, maxPixels, pixels);
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .flatten({ background: '#ffffff' })
      .grayscale()
      .resize(pre.size, pre.size, { fit: 'fill', kernel: 'lanczos3' });
    if (pre.invert) pipeline = pipeline.negate({ alpha: false });
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 || data.byteLength !== pre.size * pre.size) {
      // grayscale() can keep an alpha channel; take the first channel of each pixel.
      const out = new Uint8Array(pre.size * pre.size);
      for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels]!;
      return out;
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (error) {
    throw imageError(
      `image could not be decoded (${(error as Error).message}); the file may be truncated or corrupt`,
      error,
    );
  }
}

/** Longest side of the pictures galleries keep with their examples (see makePicture). */
export const PICTURE_SIDE = 256;

/**
 * A small PNG of an image for people to look at (the picture a gallery keeps with an example): on
 * white like decodeImage's input, at most PICTURE_SIDE pixels a side, never enlarged. Large enough
 * to show and to embed again at Omniglot's 105 pixels; a drawing is a few kilobytes.
 * @throws TwinshotError ERR_IMAGE when the bytes are not an image, or exceed maxPixels
 */
export async function makePicture(bytes: Uint8Array, limits: DecodeLimits = {}): Promise<Uint8Array> {
  if (bytes.byteLength === 0) throw imageError('image is empty (0 bytes)');
  const sharp = await loadSharp();
  try {
    const png = await sharp(bytes, { limitInputPixels: limits.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: 'error' })
      .flatten({ background: '#ffffff' })
      .resize(PICTURE_SIDE, PICTURE_SIDE, { fit: 'inside', withoutEnlargement: true })
      .png({ compressionLevel: 9, palette: false })
      .toBuffer();
    return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
  } catch (error) {
    throw imageError(`not a readable image (${(error as Error).message}); use PNG, JPEG, WebP or GIF`, error);
  }
}

/**
 * Pictures up to this many pixels are framed and resized in JavaScript, exactly as the data sets
 * are (a few milliseconds at most); larger ones entirely in libvips' threads, so that no image
 * holds the event loop (a 4000 x 4000 upload took over a second in JavaScript).
 */
export const JS_FRAME_MAX_PIXELS = 512 * 512;

/**
 * Decodes to grayscale, frames by the ink, and resizes; see JS_FRAME_MAX_PIXELS for where.
 * `pixels` is the picture's size from its header. Large pictures pass between libvips steps as
 * fast-compressed PNGs, never as raw buffers: tens of megabytes of raw pixels per upload made V8
 * collect garbage on the main thread for hundreds of milliseconds.
 */
async function decodeInkFramed(
  bytes: Uint8Array,
  pre: Preprocessing,
  maxPixels: number,
  pixels: number,
): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const decoded = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
    .flatten({ background: '#ffffff' })
    .grayscale()
    .extractChannel(0);
  if (pixels <= JS_FRAME_MAX_PIXELS) {
    const { data, info } = await decoded.raw().toBuffer({ resolveWithObject: true });
    return resizeGray(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, pre);
  }
  const lossless = { compressionLevel: 1, adaptiveFiltering: false } as const;
  const { data: gray, info } = await decoded.png(lossless).toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  let framed = gray;
  const window = await inkWindowInLibvips(gray, width, height);
  if (window !== null) {
    // The part of the window inside the picture, then paper around it where the window reaches past.
    const x0 = Math.max(0, window.left);
    const y0 = Math.max(0, window.top);
    const x1 = Math.min(width, window.left + window.side);
    const y1 = Math.min(height, window.top + window.side);
    framed = await sharp(gray, { limitInputPixels: false })
      .extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 })
      .extend({
        left: x0 - window.left,
        top: y0 - window.top,
        right: window.left + window.side - x1,
        bottom: window.top + window.side - y1,
        background: '#ffffff',
      })
      .extractChannel(0)
      .png(lossless)
      .toBuffer();
  }
  let pipeline = sharp(framed, { limitInputPixels: false }).resize(pre.size, pre.size, {
    fit: 'fill',
    kernel: 'lanczos3',
  });
  if (pre.invert) pipeline = pipeline.negate({ alpha: false });
  const out = await pipeline.extractChannel(0).raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * {@link inkWindow} computed by libvips on a grayscale PNG: the bounding box of pixels darker
 * than INK_THRESHOLD (find_trim in line-art mode counts pixels differing from white by more than
 * the threshold), and null when there is none (then find_trim keeps the whole picture, as it also
 * does for ink touching every edge, so the darkest pixel decides).
 */
async function inkWindowInLibvips(grayPng: Buffer, width: number, height: number): Promise<InkWindow | null> {
  const sharp = await loadSharp();
  // The trimmed pixels are not needed, only their box; a fast PNG of them keeps the output small.
  const { info } = await sharp(grayPng, { limitInputPixels: false })
    .trim({ background: '#ffffff', threshold: 255 - INK_THRESHOLD, lineArt: true })
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer({ resolveWithObject: true });
  const left = -(info.trimOffsetLeft ?? 0);
  const top = -(info.trimOffsetTop ?? 0);
  if (info.width === width && info.height === height) {
    const stats = await sharp(grayPng, { limitInputPixels: false }).stats();
    if (stats.channels[0]!.min >= INK_THRESHOLD) return null;
  }
  return windowAround({ minX: left, minY: top, maxX: left + info.width - 1, maxY: top + info.height - 1 });
}
