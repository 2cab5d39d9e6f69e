// DrawPad: a square canvas to draw a symbol on with a mouse, pen or finger (pointer events), or an
// uploaded image in its place; it hands the service a PNG of dark strokes on white, like Omniglot.
import { h } from './dom.js';

/** Bitmap side in pixels; the service scales it down to the model's input (105 for Omniglot). */
const SIDE = 420;
/**
 * Omniglot's strokes are about 5 pixels wide on its 105-pixel images (the mode of horizontal ink
 * runs in the evaluation set), so 20 here: the model sees the strokes it was trained on.
 */
const STROKE = 20;
const INK = '#000';
const PAPER = '#fff';

type Point = [x: number, y: number];

export interface DrawPadOptions {
  /** Used for the element ids and the accessible name ("Drawing area: <label>"). */
  id: string;
  label: string;
  /** Called when the drawing or the upload changes. */
  onChange?: () => void;
}

export class DrawPad {
  readonly element: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly #context: CanvasRenderingContext2D;
  readonly #preview: HTMLImageElement;
  readonly #fileName: HTMLSpanElement;
  readonly #fileInput: HTMLInputElement;
  readonly #undo: HTMLButtonElement;
  readonly #clear: HTMLButtonElement;
  readonly #onChange: () => void;
  #strokes: Point[][] = [];
  #current: Point[] | null = null;
  #pointer: number | null = null;
  #file: File | null = null;
  #previewUrl: string | null = null;

  constructor(options: DrawPadOptions) {
    this.#onChange = options.onChange ?? (() => {});
    this.canvas = h('canvas', {
      id: `${options.id}-canvas`,
      width: SIDE,
      height: SIDE,
      role: 'img',
      'aria-label': `Drawing area: ${options.label}. Draw with a mouse, pen or finger, or upload an image below.`,
    });
    const context = this.canvas.getContext('2d');
    if (!context) throw new Error('this browser cannot draw on a canvas');
    this.#context = context;
    this.#preview = h('img', { class: 'pad-preview', alt: '', hidden: true });
    this.#fileName = h('span', { class: 'pad-file', 'aria-live': 'polite' });
    this.#fileInput = h('input', {
      type: 'file',
      accept: 'image/*',
      class: 'visually-hidden',
      tabindex: -1,
      'aria-hidden': 'true',
      id: `${options.id}-file`,
      onchange: () => {
        const file = this.#fileInput.files?.[0];
        if (file) this.useFile(file);
        this.#fileInput.value = '';
      },
    });
    this.#undo = h('button', { type: 'button', class: 'small', onclick: () => this.undo() }, 'Undo');
    this.#clear = h('button', { type: 'button', class: 'small', onclick: () => this.clear() }, 'Clear');
    const upload = h(
      'button',
      { type: 'button', class: 'small', id: `${options.id}-upload`, onclick: () => this.#fileInput.click() },
      'Upload image…',
    );
    this.element = h(
      'div',
      { class: 'pad', id: options.id },
      h('div', { class: 'pad-surface' }, this.canvas, this.#preview),
      h('div', { class: 'pad-tools' }, this.#undo, this.#clear, upload, this.#fileInput),
      this.#fileName,
    );
    this.#listen();
    this.#redraw();
    this.#sync();
  }

  /** True when there is neither a stroke nor an uploaded file. */
  isEmpty(): boolean {
    return this.#file === null && this.#strokes.length === 0;
  }

  /** The image to send: the uploaded file as it is, or the drawing as a PNG. */
  async toBlob(): Promise<Blob> {
    if (this.#file) return this.#file;
    return new Promise((resolve, reject) =>
      this.canvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error('the canvas could not be encoded'))),
        'image/png',
      ),
    );
  }

  /** A small PNG data URL of what is shown, for lists of taught symbols. */
  thumbnail(side = 56): string {
    const small = h('canvas', { width: side, height: side });
    const context = small.getContext('2d')!;
    context.fillStyle = PAPER;
    context.fillRect(0, 0, side, side);
    const source = this.#file ? this.#preview : this.canvas;
    try {
      context.drawImage(source, 0, 0, side, side);
    } catch {
      // an upload the browser cannot decode: a blank thumbnail
    }
    return small.toDataURL('image/png');
  }

  /** Removes every stroke and the upload. */
  clear(): void {
    this.#strokes = [];
    this.#current = null;
    this.#setFile(null);
    this.#redraw();
    this.#changed();
  }

  undo(): void {
    if (this.#file) this.#setFile(null);
    else this.#strokes.pop();
    this.#redraw();
    this.#changed();
  }

  /** Shows an uploaded file in place of the drawing; it is sent unchanged. */
  useFile(file: File): void {
    this.#strokes = [];
    this.#redraw();
    this.#setFile(file);
    this.#changed();
  }

  #setFile(file: File | null): void {
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    this.#file = file;
    this.#previewUrl = file ? URL.createObjectURL(file) : null;
    this.#preview.hidden = file === null;
    if (this.#previewUrl) this.#preview.src = this.#previewUrl;
    else this.#preview.removeAttribute('src');
    this.#fileName.textContent = file ? `Uploaded: ${file.name}` : '';
  }

  #changed(): void {
    this.#sync();
    this.#onChange();
  }

  #sync(): void {
    this.#undo.disabled = this.isEmpty();
    this.#clear.disabled = this.isEmpty();
  }

  #point(event: PointerEvent): Point {
    const rect = this.canvas.getBoundingClientRect();
    return [((event.clientX - rect.left) * SIDE) / rect.width, ((event.clientY - rect.top) * SIDE) / rect.height];
  }

  #listen(): void {
    const canvas = this.canvas;
    canvas.addEventListener('pointerdown', (event) => {
      if (event.pointerType === 'mouse' && event.button !== 0) return;
      if (this.#pointer !== null) return; // a second finger: ignore it
      event.preventDefault();
      if (this.#file) this.#setFile(null);
      this.#pointer = event.pointerId;
      canvas.setPointerCapture(event.pointerId);
      this.#current = [this.#point(event)];
      this.#strokes.push(this.#current);
      this.#redraw();
    });
    canvas.addEventListener('pointermove', (event) => {
      if (event.pointerId !== this.#pointer || !this.#current) return;
      event.preventDefault();
      // Coalesced events keep fast pen and finger strokes smooth.
      const events = typeof event.getCoalescedEvents === 'function' ? event.getCoalescedEvents() : [];
      for (const e of events.length > 0 ? events : [event]) this.#extend(this.#point(e));
    });
    const end = (event: PointerEvent): void => {
      if (event.pointerId !== this.#pointer) return;
      this.#pointer = null;
      this.#current = null;
      this.#changed();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** Adds a point and draws only the new segment (redrawing everything per move is slow on phones). */
  #extend(point: Point): void {
    const stroke = this.#current!;
    const last = stroke[stroke.length - 1]!;
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) < 1) return;
    stroke.push(point);
    const c = this.#context;
    c.beginPath();
    c.moveTo(last[0], last[1]);
    c.lineTo(point[0], point[1]);
    c.stroke();
  }

  #redraw(): void {
    const c = this.#context;
    c.fillStyle = PAPER;
    c.fillRect(0, 0, SIDE, SIDE);
    c.strokeStyle = INK;
    c.fillStyle = INK;
    c.lineWidth = STROKE;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    for (const stroke of this.#strokes) {
      const [first, ...rest] = stroke;
      if (!first) continue;
      if (rest.length === 0) {
        // a tap: a dot
        c.beginPath();
        c.arc(first[0], first[1], STROKE / 2, 0, 2 * Math.PI);
        c.fill();
        continue;
      }
      c.beginPath();
      c.moveTo(first[0], first[1]);
      for (const [x, y] of rest) c.lineTo(x, y);
      c.stroke();
    }
    c.fillStyle = INK;
  }
}
