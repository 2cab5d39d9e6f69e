// Argument checks shared by the engine and nn: any JavaScript value may arrive at a public
// function, so these say what was expected and what came, and never throw anything but an
// ArgumentError (a Symbol or BigInt in a template string would throw a TypeError of its own).
import { ArgumentError } from '../errors.js';

/** A short, always printable description of any value, for error messages. */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value.toString()}n`;
    case 'symbol':
    case 'function':
      return typeof value === 'symbol' ? value.toString() : 'a function';
    default:
      break;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const items = value
      .slice(0, 6)
      .map((item) => (typeof item === 'object' && item !== null ? typeName(item) : show(item)));
    return `[${items.join(', ')}${value.length > 6 ? ', ...' : ''}]`;
  }
  return typeName(value as object);
}

function typeName(value: object): string {
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object';
}

/** An options argument: undefined becomes {}, anything but a plain object is refused. */
export function optionsArg<T extends object>(value: T | undefined, op: string, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ArgumentError(`${op}(): ${name} must be an object; got ${show(value)}`);
  }
  return value;
}

/** A callback argument (tidy, noGrad, autocast...). */
export function functionArg<T extends (...args: never[]) => unknown>(value: T, op: string, name = 'fn'): T {
  if (typeof value !== 'function') throw new ArgumentError(`${op}(): ${name} must be a function; got ${show(value)}`);
  return value;
}

/** A dim or list of dims as the addon takes them (null: every dim). */
export function dimsArg(value: number | readonly number[] | undefined | null, op: string): number[] | null {
  if (value === undefined || value === null) return null;
  const dims = typeof value === 'number' ? [value] : Array.isArray(value) ? [...(value as unknown[])] : undefined;
  if (dims === undefined || !dims.every((d) => Number.isInteger(d))) {
    throw new ArgumentError(`${op}(): dim must be an integer or an array of integers; got ${show(value)}`);
  }
  return dims as number[];
}

/** An integer argument, optionally bounded below. */
export function integerArg(value: number, op: string, name: string, min = -Infinity): number {
  if (!Number.isSafeInteger(value) || value < min) {
    const range = min === -Infinity ? 'an integer' : `an integer >= ${min}`;
    throw new ArgumentError(`${op}(): ${name} must be ${range}; got ${show(value)}`);
  }
  return value;
}

/** A list of numbers (sizes, pads) handed on to the addon, which checks each element. */
export function numberListArg(value: readonly number[], op: string, name: string): number[] {
  if (!Array.isArray(value))
    throw new ArgumentError(`${op}(): ${name} must be an array of numbers; got ${show(value)}`);
  return [...(value as number[])];
}
