// Small parsers shared by the CLI commands.
import { TwinshotError } from '../errors.js';

/** "a.b=3" -> ['a.b', 3]; values are parsed as JSON when they can be (numbers, booleans, arrays). */
export function parseOverride(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0)
    throw new TwinshotError('ERR_CONFIG', `--set expects key=value (e.g. optimizer.lr=0.001); got '${text}'`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  try {
    return [key, JSON.parse(raw)];
  } catch {
    return [key, raw];
  }
}

export function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new TwinshotError('ERR_ARGUMENT', `${name} must be a positive integer; got '${value}'`);
    return n;
  };
}

export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(Number.isFinite(n) && n > 0))
      throw new TwinshotError('ERR_ARGUMENT', `${name} must be a number > 0; got '${value}'`);
    return n;
  };
}

export function nonNegativeInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new TwinshotError('ERR_ARGUMENT', `${name} must be a whole number >= 0; got '${value}'`);
    return n;
  };
}
