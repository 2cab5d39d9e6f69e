// An image to a network's input in the browser, as the service prepares it (src/data/image.ts):
// on white paper, 8-bit grayscale, framed by its ink and resized by the same code (resizeGray),
// inverted when the model asks, divided by 255.
import { resizeGray } from '../../../src/data/resize.js';

export interface DevicePreprocessing {
  size: number;
  invert: boolean;
  frame: 'image' | 'ink';
}

/**
 * Pictures up to this many pixels are framed and resized exactly as the service does; larger ones
 * (camera photos) are first scaled down by the browser to fit, which the service does not do, so
 * their vectors can differ slightly from the server's. Drawings (420 x 420) are never scaled.
 */
const EXACT_MAX_PIXELS = 512 * 512;

/**
 * The network's input for one image: `size` x `size` float32 values in [0, 1], rows top to bottom.
 * @throws Error when the browser cannot decode the image
 */
export async function imageToInput(image: Blob, pre: DevicePreprocessing): Promise<Float32Array> {
  const bitmap = await createImageBitmap(image);
  try {
    const scale = Math.min(1, Math.sqrt(EXACT_MAX_PIXELS / (bitmap.width * bitmap.height)));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('this browser cannot draw on a canvas');
    // Transparent pixels over white paper, as the service flattens them.
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, width, height);
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, width, height);
    const rgba = context.getImageData(0, 0, width, height).data;
    // Rec. 709 luma: exact for gray pixels (drawings), close to libvips for colour photos.
    const gray = new Uint8Array(width * height);
    for (let i = 0, j = 0; i < gray.length; i++, j += 4)
      gray[i] = Math.round(0.2126 * rgba[j]! + 0.7152 * rgba[j + 1]! + 0.0722 * rgba[j + 2]!);
    const pixels = resizeGray(gray, width, height, pre);
    const input = new Float32Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) input[i] = pixels[i]! / 255;
    return input;
  } finally {
    bitmap.close();
  }
}

/** A small PNG of an image for the gallery's list (at most `side` pixels a side, on white). */
export async function pictureOf(image: Blob, side = 256): Promise<Blob> {
  const bitmap = await createImageBitmap(image);
  try {
    const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d')!;
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, width, height);
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, width, height);
    return await canvas.convertToBlob({ type: 'image/png' });
  } finally {
    bitmap.close();
  }
}
