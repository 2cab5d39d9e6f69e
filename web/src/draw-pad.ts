// DrawPad: a square canvas to draw a symbol on with a mouse, pen or finger (pointer events), or
// uploaded images or a camera picture in its place; it hands the service a PNG of dark strokes on
// white, like Omniglot, or the files as they are.
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
  /** Whether several images may be uploaded at once (default false: one). */
  multiple?: boolean;
  /** Called when the drawing or the upload changes (at the end of each stroke, not during it). */
  onChange?: () => void;
}

/**
 * Whether this browser can take pictures: getUserMedia exists (only in secure contexts: https or
 * localhost) and a camera is attached. Asked once per page and again when devices change.
 */
let cameraCheck: Promise<boolean> | null = null;
function hasCamera(): Promise<boolean> {
  const media = typeof navigator === 'undefined' ? undefined : navigator.mediaDevices;
  if (!media || typeof media.getUserMedia !== 'function' || typeof media.enumerateDevices !== 'function')
    return Promise.resolve(false);
  if (cameraCheck === null) {
    cameraCheck = media.enumerateDevices().then(
      (devices) => devices.some((device) => device.kind === 'videoinput'),
      () => false,
    );
    media.addEventListener?.('devicechange', () => (cameraCheck = null), { once: true });
  }
  return cameraCheck;
}

export class DrawPad {
  readonly element: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly #context: CanvasRenderingContext2D;
  readonly #preview: HTMLImageElement;
  readonly #fileName: HTMLSpanElement;
  readonly #count: HTMLSpanElement;
  readonly #fileInput: HTMLInputElement;
  readonly #undo: HTMLButtonElement;
  readonly #clear: HTMLButtonElement;
  readonly #camera: HTMLButtonElement;
  readonly #shoot: HTMLButtonElement;
  readonly #video: HTMLVideoElement;
  readonly #onChange: () => void;
  #strokes: Point[][] = [];
  #current: Point[] | null = null;
  #pointer: number | null = null;
  #files: File[] = [];
  #previewUrl: string | null = null;
  #stream: MediaStream | null = null;

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
    this.#count = h('span', { class: 'pad-count', hidden: true });
    this.#video = h('video', { class: 'pad-video', muted: true, playsinline: true, hidden: true });
    this.#fileName = h('span', { class: 'pad-file', id: `${options.id}-status`, 'aria-live': 'polite' });
    this.#fileInput = h('input', {
      type: 'file',
      accept: 'image/*',
      multiple: options.multiple === true,
      class: 'visually-hidden',
      tabindex: -1,
      'aria-hidden': 'true',
      id: `${options.id}-file`,
      onchange: () => {
        const files = Array.from(this.#fileInput.files ?? []);
        if (files.length > 0) this.useFiles(files);
        this.#fileInput.value = '';
      },
    });
    this.#undo = h('button', { type: 'button', class: 'small', onclick: () => this.undo() }, 'Undo');
    this.#clear = h('button', { type: 'button', class: 'small', onclick: () => this.clear() }, 'Clear');
    const upload = h(
      'button',
      { type: 'button', class: 'small', id: `${options.id}-upload`, onclick: () => this.#fileInput.click() },
      options.multiple ? 'Upload images…' : 'Upload image…',
    );
    // Shown only where a camera exists; while the camera is open it turns into "Cancel".
    this.#camera = h(
      'button',
      { type: 'button', class: 'small', id: `${options.id}-camera`, hidden: true, onclick: () => this.#toggleCamera() },
      'Camera…',
    );
    this.#shoot = h(
      'button',
      {
        type: 'button',
        class: 'small primary',
        id: `${options.id}-shoot`,
        hidden: true,
        onclick: () => this.#shootCamera(),
      },
      'Take picture',
    );
    this.element = h(
      'div',
      { class: 'pad', id: options.id },
      h('div', { class: 'pad-surface' }, this.canvas, this.#preview, this.#video, this.#count),
      h('div', { class: 'pad-tools' }, this.#undo, this.#clear, upload, this.#camera, this.#shoot, this.#fileInput),
      this.#fileName,
    );
    void hasCamera().then((available) => (this.#camera.hidden = !available));
    this.#listen();
    this.#redraw();
    this.#sync();
  }

  /** True when there is neither a stroke nor an uploaded file. */
  isEmpty(): boolean {
    return this.#files.length === 0 && this.#strokes.length === 0;
  }

  /** How many images the pad holds: the uploaded files, or 1 for a drawing, or 0. */
  get count(): number {
    return this.#files.length > 0 ? this.#files.length : this.#strokes.length > 0 ? 1 : 0;
  }

  /** The image to send: the (first) uploaded file as it is, or the drawing as a PNG. */
  async toBlob(): Promise<Blob> {
    const [file] = this.#files;
    if (file) return file;
    return new Promise((resolve, reject) =>
      this.canvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error('the canvas could not be encoded'))),
        'image/png',
      ),
    );
  }

  /** Every image to send: the uploaded files, or the drawing. */
  async toBlobs(): Promise<Blob[]> {
    return this.#files.length > 0 ? [...this.#files] : [await this.toBlob()];
  }

  /** Removes every stroke and the upload. */
  clear(): void {
    this.#strokes = [];
    this.#current = null;
    this.#setFiles([]);
    this.#redraw();
    this.#changed();
  }

  undo(): void {
    if (this.#files.length > 0) this.#setFiles([]);
    else this.#strokes.pop();
    this.#redraw();
    this.#changed();
  }

  /** Shows an uploaded file in place of the drawing; it is sent unchanged. */
  useFile(file: File): void {
    this.useFiles([file]);
  }

  /** Uploaded files in place of the drawing (the first is shown); they are sent unchanged. */
  useFiles(files: readonly File[]): void {
    this.stopCamera();
    this.#strokes = [];
    this.#redraw();
    this.#setFiles(files);
    this.#changed();
  }

  /** Closes the camera if it is open (a view that is hidden must not keep filming). */
  stopCamera(): void {
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    this.#stream = null;
    this.#video.srcObject = null;
    this.#video.hidden = true;
    this.#shoot.hidden = true;
    this.#camera.textContent = 'Camera…';
  }

  async #toggleCamera(): Promise<void> {
    if (this.#stream) {
      this.stopCamera();
      this.#fileName.textContent = '';
      return;
    }
    this.#fileName.textContent = 'Opening the camera…';
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 640 } },
        audio: false,
      });
      this.#stream = stream;
      this.#video.srcObject = stream;
      this.#video.hidden = false;
      await this.#video.play();
      this.#shoot.hidden = false;
      this.#camera.textContent = 'Cancel';
      this.#fileName.textContent = 'Hold the symbol in the square, then take the picture.';
      this.#shoot.focus();
    } catch (error) {
      this.stopCamera();
      const reason = (error as Error).name === 'NotAllowedError' ? 'permission was refused' : (error as Error).message;
      this.#fileName.textContent = `The camera could not be opened (${reason}). Draw, or upload an image instead.`;
    }
  }

  /** Takes the middle square of the camera's frame as the pad's image (a PNG, like an upload). */
  async #shootCamera(): Promise<void> {
    const video = this.#video;
    const side = Math.min(video.videoWidth, video.videoHeight);
    if (!this.#stream || side === 0) return;
    const frame = h('canvas', { width: SIDE, height: SIDE });
    frame
      .getContext('2d')!
      .drawImage(video, (video.videoWidth - side) / 2, (video.videoHeight - side) / 2, side, side, 0, 0, SIDE, SIDE);
    const blob = await new Promise<Blob | null>((resolve) => frame.toBlob(resolve, 'image/png'));
    if (!blob) return;
    this.useFiles([new File([blob], 'camera.png', { type: 'image/png' })]);
  }

  #setFiles(files: readonly File[]): void {
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    this.#files = [...files];
    const [first] = files;
    this.#previewUrl = first ? URL.createObjectURL(first) : null;
    this.#preview.hidden = !first;
    if (this.#previewUrl) this.#preview.src = this.#previewUrl;
    else this.#preview.removeAttribute('src');
    this.#count.hidden = files.length < 2;
    this.#count.textContent = `${files.length} images`;
    this.#fileName.textContent =
      files.length === 0
        ? ''
        : files.length === 1
          ? `Uploaded: ${first!.name}`
          : `${files.length} images: ${files.map((f) => f.name).join(', ')}`;
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
      if (this.#files.length > 0) this.#setFiles([]);
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
