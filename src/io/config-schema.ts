// JSON configuration checked against a schema (TypeBox), with defaults filled in, so a wrong key or
// value fails before any compute with its path and what was expected. Shared by model and training configs.
import { type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TwinshotError } from '../errors.js';

/** Fills defaults and validates; throws one ERR_CONFIG listing every problem (up to 8) with its path. */
export function validate<T extends TSchema>(schema: T, raw: unknown, origin: string): Static<T> {
  const value = Value.Default(schema, Value.Clone(raw));
  if (Value.Check(schema, value)) return value as Static<T>;
  const problems = explain(schema, value, '')
    .slice(0, 8)
    .map((p) => `  ${p}`);
  throw new TwinshotError(
    'ERR_CONFIG',
    `${origin} is invalid:\n${problems.join('\n')}\nFix these keys (see configs/*.json for examples).`,
  );
}

/** Error lines with paths; a union tagged by `kind` is explained through the variant its kind names. */
function explain(schema: TSchema, value: unknown, prefix: string): string[] {
  const lines: string[] = [];
  for (const error of Value.Errors(schema, value)) {
    const path = prefix + error.path;
    if (lines.some((l) => l.startsWith(`${path || '/'}:`))) continue;
    const variants = (error.schema as { anyOf?: TSchema[] }).anyOf;
    const kind = (error.value as { kind?: unknown } | undefined)?.kind;
    if (variants !== undefined && kind !== undefined) {
      const kinds = variants.map(
        (v) => (v as { properties?: { kind?: { const?: unknown; anyOf?: { const: unknown }[] } } }).properties?.kind,
      );
      const index = kinds.findIndex((k) => k?.const === kind || k?.anyOf?.some((o) => o.const === kind));
      if (index < 0) {
        const names = kinds.flatMap((k) => (k?.const !== undefined ? [k.const] : (k?.anyOf ?? []).map((o) => o.const)));
        lines.push(
          `${path}/kind: must be one of ${names.map((n) => JSON.stringify(n)).join(', ')} (got ${JSON.stringify(kind)})`,
        );
      } else {
        lines.push(...explain(variants[index]!, Value.Default(variants[index]!, Value.Clone(error.value)), path));
      }
      continue;
    }
    // An optional section (an object or null): explain through the object.
    const objects = variants?.filter((v) => (v as { type?: string }).type !== 'null') ?? [];
    if (variants !== undefined && objects.length === 1 && error.value !== null && typeof error.value === 'object') {
      lines.push(...explain(objects[0]!, Value.Default(objects[0]!, Value.Clone(error.value)), path));
      continue;
    }
    const got =
      error.value !== undefined && typeof error.value !== 'object' ? ` (got ${JSON.stringify(error.value)})` : '';
    lines.push(`${path || '/'}: ${error.message}${got}`);
  }
  return lines;
}
