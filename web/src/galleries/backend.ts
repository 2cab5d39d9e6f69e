// Where the Teach page's gallery lives: in the service (server.ts) or in this browser (device.ts,
// recognition on this device). The page talks to either through this one interface.
import type { ClassSummary, ExampleSummary, Identification } from '../api.js';

export interface GalleryBackend {
  readonly where: 'server' | 'device';
  /** Whether the gallery exists yet (it is made on the first enrolment). */
  exists(gallery: string): Promise<boolean>;
  /** Its classes, sorted by label, each with a picture source (see pictures.ts) or null. */
  classes(gallery: string): Promise<ClassSummary[]>;
  /** A class's examples, oldest first. */
  examples(gallery: string, label: string): Promise<ExampleSummary[]>;
  /** Adds images as examples of a label, making the gallery when it does not exist. */
  enrol(gallery: string, label: string, images: readonly Blob[]): Promise<void>;
  removeClass(gallery: string, label: string): Promise<void>;
  /** Deletes the gallery and every example (nothing happens when there is none). */
  clear(gallery: string): Promise<void>;
  /** Ranks the gallery's classes for an image; `signal` cancels a request a newer one replaced. */
  identify(gallery: string, image: Blob, k: number, signal: AbortSignal): Promise<Identification>;
}
