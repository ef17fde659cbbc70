/**
 * A small declarative validator for the config's lists and maps (listeners, routes, pools), which
 * convict cannot describe element by element. It applies defaults, coerces units and reports every
 * problem as `key.path: message`, never stopping at the first.
 */
import { isIP } from 'node:net';
import { parseDuration, parseSize } from './units.js';
import { closest } from './did-you-mean.js';

type ShapeNode =
  | { kind: 'string'; nonEmpty?: boolean; oneOf?: readonly string[] }
  | { kind: 'boolean' }
  | { kind: 'int'; min?: number; max?: number }
  | { kind: 'duration' }
  | { kind: 'size' }
  | { kind: 'listen' }
  | { kind: 'url'; protocols: readonly string[] }
  | { kind: 'cidr' }
  | { kind: 'any' }
  | { kind: 'array'; of: Shape }
  | { kind: 'map'; of: Shape }
  | { kind: 'object'; fields: Record<string, Field>; check?: (value: Record<string, unknown>) => string[] }
  | { kind: 'either'; options: readonly Shape[]; describe: string };

declare const valueType: unique symbol;
/**
 * A shape, carrying at type level the value `conform` returns for it, so the config's TypeScript types
 * are derived from the schema (`ValueOf`) instead of written a second time.
 */
export type Shape<T = unknown> = ShapeNode & { readonly [valueType]?: T };
/** The normalised value of a shape: durations and sizes are numbers (ms, bytes). */
export type ValueOf<S> = S extends Shape<infer T> ? T : never;

/** `present`: the value always has the key (a default, or required); `optional`: it may be absent. */
export interface Field<T = unknown, P extends 'present' | 'optional' = 'present' | 'optional'> {
  readonly doc: string; readonly shape: Shape<T>; readonly default?: unknown; readonly required?: boolean;
  readonly [valueType]?: P;
}
type Presence<F> = F extends Field<unknown, infer P> ? P : never;
type Flat<T> = { [K in keyof T]: T[K] } & {};
/** The value of an object shape with these fields. */
export type ObjectValue<F extends Record<string, Field>> = Flat<
  { -readonly [K in keyof F as Presence<F[K]> extends 'present' ? K : never]: ValueOf<F[K]['shape']> }
  & { -readonly [K in keyof F as Presence<F[K]> extends 'present' ? never : K]?: ValueOf<F[K]['shape']> }
>;

/** A field: without default nor required it may be absent from the value. */
export function field<T>(doc: string, shape: Shape<T>, dflt: undefined, required: true): Field<T, 'present'>;
export function field<T>(doc: string, shape: Shape<T>): Field<T, 'optional'>;
export function field<T>(doc: string, shape: Shape<T>, dflt: unknown): Field<T, 'present'>;
export function field(doc: string, shape: Shape, dflt?: unknown, required = false): Field {
  return { doc, shape, default: dflt, required };
}

export function str(): Shape<string>;
export function str<const O extends readonly string[]>(extra: { nonEmpty?: boolean; oneOf: O }): Shape<O[number]>;
export function str(extra: { nonEmpty?: boolean }): Shape<string>;
export function str(extra: { nonEmpty?: boolean; oneOf?: readonly string[] } = {}): Shape {
  return { kind: 'string', ...extra };
}
export const bool: Shape<boolean> = { kind: 'boolean' };
export const int = (min?: number, max?: number): Shape<number> => ({ kind: 'int', min, max });
export const duration: Shape<number> = { kind: 'duration' };
export const size: Shape<number> = { kind: 'size' };
export const listen: Shape<string> = { kind: 'listen' };
export const cidr: Shape<string> = { kind: 'cidr' };
export const any: Shape<unknown> = { kind: 'any' };
export const url = (...protocols: string[]): Shape<string> => ({ kind: 'url', protocols });
export const array = <T>(of: Shape<T>): Shape<T[]> => ({ kind: 'array', of });
export const map = <T>(of: Shape<T>): Shape<Record<string, T>> => ({ kind: 'map', of });
export const object = <F extends Record<string, Field>>(fields: F, check?: (v: Record<string, unknown>) => string[]): Shape<ObjectValue<F>> =>
  ({ kind: 'object', fields, check });
export const either = <S extends readonly Shape[]>(describe: string, ...options: S): Shape<ValueOf<S[number]>> =>
  ({ kind: 'either', options, describe });

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses `host:port`, `[v6]:port` or `:port`. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new Error(`must be host:port, got ${JSON.stringify(value)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function isCidr(value: string): boolean {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

/** Validates and normalises `value` against `shape`; problems are pushed as `path: message`. */
export function conform(value: unknown, shape: Shape, path: string, problems: string[]): unknown {
  const fail = (message: string) => { problems.push(`${path}: ${message}`); return undefined; };
  switch (shape.kind) {
    case 'any': return value;
    case 'string':
      if (typeof value !== 'string') return fail(`must be a string, got ${JSON.stringify(value)}`);
      if (shape.nonEmpty && value === '') return fail('must not be empty');
      if (shape.oneOf && !shape.oneOf.includes(value)) return fail(`must be one of ${shape.oneOf.join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') return fail(`must be true or false, got ${JSON.stringify(value)}`);
      return value;
    case 'int': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return fail(`must be an integer, got ${JSON.stringify(value)}`);
      if (shape.min !== undefined && n < shape.min) return fail(`must be >= ${shape.min}, got ${n}`);
      if (shape.max !== undefined && n > shape.max) return fail(`must be <= ${shape.max}, got ${n}`);
      return n;
    }
    case 'duration':
      try { return parseDuration(value); } catch (e) { return fail((e as Error).message); }
    case 'size':
      try { return parseSize(value); } catch (e) { return fail((e as Error).message); }
    case 'listen':
      if (typeof value !== 'string') return fail('must be host:port');
      try { parseListen(value); return value; } catch (e) { return fail((e as Error).message); }
    case 'cidr':
      if (typeof value !== 'string' || !isCidr(value)) return fail(`must be an IP address or CIDR, got ${JSON.stringify(value)}`);
      return value;
    case 'url': {
      if (typeof value !== 'string') return fail('must be a URL');
      let u: URL;
      try { u = new URL(value); } catch { return fail(`must be a URL, got ${JSON.stringify(value)}`); }
      if (!shape.protocols.includes(u.protocol)) return fail(`must use ${shape.protocols.join(' or ')}, got ${u.protocol}`);
      return value;
    }
    case 'array': {
      if (!Array.isArray(value)) return fail('must be a list');
      return value.map((item, i) => conform(item, shape.of, `${path}[${i}]`, problems));
    }
    case 'map': {
      if (!isPlainObject(value)) return fail('must be a map of names to entries');
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = conform(v, shape.of, `${path}.${k}`, problems);
      return out;
    }
    case 'object': {
      if (!isPlainObject(value)) return fail('must be an object');
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (key in shape.fields) continue;
        const guess = closest(key, Object.keys(shape.fields));
        problems.push(`${path}.${key}: unknown key (${guess ? `did you mean "${guess}"?` : `allowed: ${Object.keys(shape.fields).join(', ')}`})`);
      }
      for (const [key, field] of Object.entries(shape.fields)) {
        const given = value[key];
        if (given === undefined || given === null) {
          if (field.required) problems.push(`${path}.${key}: is required`);
          else if (field.default !== undefined) out[key] = conform(structuredClone(field.default), field.shape, `${path}.${key}`, problems);
          continue;
        }
        out[key] = conform(given, field.shape, `${path}.${key}`, problems);
      }
      if (shape.check) for (const p of shape.check(out)) problems.push(`${path}${p.startsWith('.') ? '' : ': '}${p}`);
      return out;
    }
    case 'either': {
      for (const option of shape.options) {
        const attempt: string[] = [];
        const result = conform(value, option, path, attempt);
        if (attempt.length === 0) return result;
      }
      return fail(`must be ${shape.describe}`);
    }
  }
}
