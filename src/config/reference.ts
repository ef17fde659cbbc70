/**
 * The configuration reference (docs/configuration.md) as Markdown, generated from the schema's own
 * `doc` and `default` values, so the reference cannot drift from what the loader accepts.
 * `npm run docs` writes it; a test fails when the file is stale.
 */
import { listSections, topSchema } from './schema.js';
import type { Field, Shape } from './shape.js';

/** Defaults that depend on the machine, described instead of shown. */
const MACHINE_DEFAULTS: Record<string, string> = { node_id: 'the host name' };

type ConvictNode = { doc?: string; format?: unknown; default?: unknown; [key: string]: unknown };

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown) => (v === undefined ? '' : `\`${JSON.stringify(v)}\``);

function convictType(format: unknown): string {
  if (format === String) return 'string';
  if (format === Boolean) return 'boolean';
  if (Array.isArray(format)) return `one of ${format.map((v) => `\`${String(v)}\``).join(', ')}`;
  switch (format) {
    case 'nat': return 'integer ≥ 0';
    case 'duration': return 'duration';
    case 'size': return 'size';
    case 'listen': return 'host:port';
    case 'cidr-list': return 'list of CIDRs';
    case 'listen-list': return 'list of host:port';
    default: return String(format);
  }
}

function shapeType(s: Shape): string {
  switch (s.kind) {
    case 'string': return s.oneOf ? `one of ${s.oneOf.map((v) => `\`${v}\``).join(', ')}` : s.nonEmpty ? 'non-empty string' : 'string';
    case 'boolean': return 'boolean';
    case 'int': return s.min !== undefined && s.max !== undefined ? `integer ${s.min}–${s.max}` : s.min !== undefined ? `integer ≥ ${s.min}` : 'integer';
    case 'duration': return 'duration';
    case 'size': return 'size';
    case 'listen': return 'host:port';
    case 'url': return `URL (${s.protocols.join(' ')})`;
    case 'cidr': return 'CIDR';
    case 'any': return 'any';
    case 'array': return `list of ${s.of.kind === 'object' ? 'objects' : shapeType(s.of)}`;
    case 'map': return `map of name → ${s.of.kind === 'object' ? 'object' : shapeType(s.of)}`;
    case 'object': return 'object';
    case 'either': return s.describe;
  }
}

function topRows(node: Record<string, ConvictNode>, prefix: string, out: string[]): void {
  for (const [key, value] of Object.entries(node)) {
    const path = prefix + key;
    if (value && typeof value === 'object' && 'doc' in value && 'default' in value) {
      const dflt = MACHINE_DEFAULTS[path] ?? code(value.default);
      const env = `GATEHOUSE_${path.replace(/\./g, '_').toUpperCase()}`;
      out.push(`| \`${path}\` | ${cell(convictType(value.format))} | ${cell(dflt)} | \`${env}\` | ${cell(String(value.doc))} |`);
    } else {
      topRows(value as Record<string, ConvictNode>, `${path}.`, out);
    }
  }
}

function fieldRows(fields: Record<string, Field>, prefix: string, out: string[]): void {
  for (const [key, field] of Object.entries(fields)) {
    const path = prefix + key;
    const required = field.required ? ' **Required.**' : '';
    out.push(`| \`${path}\` | ${cell(shapeType(field.shape))} | ${cell(code(field.default))} | ${cell(field.doc + required)} |`);
    const s = field.shape;
    if (s.kind === 'object') fieldRows(s.fields, `${path}.`, out);
    else if (s.kind === 'array' && s.of.kind === 'object') fieldRows(s.of.fields, `${path}[].`, out);
    else if (s.kind === 'map' && s.of.kind === 'object') fieldRows(s.of.fields, `${path}.NAME.`, out);
    else if (s.kind === 'either') for (const o of s.options) if (o.kind === 'object') fieldRows(o.fields, `${path}.`, out);
  }
}

export function configurationReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `npm run docs`; do not edit by hand. Durations are',
    'written `250ms`, `5s`, `2m`, `1h`; sizes `512KB`, `256MB` (KB = 1024 bytes). Unknown keys are errors.',
    '',
    '## Top-level keys',
    '',
    'Each can also be set from the environment, under the name in the third column.',
    '',
    '| key | type | default | environment | meaning |',
    '| --- | --- | --- | --- | --- |',
  ];
  topRows(topSchema as unknown as Record<string, ConvictNode>, '', lines);
  for (const [name, field] of Object.entries(listSections)) {
    const s = field.shape;
    const element = s.kind === 'array' || s.kind === 'map' ? s.of : s;
    const title = s.kind === 'array' ? `${name}[]` : s.kind === 'map' ? `${name}.NAME` : name;
    lines.push('', `## \`${title}\``, '', `${field.doc} From the environment: \`GATEHOUSE_${name.toUpperCase()}\`, the whole ${s.kind === 'map' ? 'map' : 'list'} as JSON.`, '');
    lines.push('| key | type | default | meaning |', '| --- | --- | --- | --- |');
    if (element.kind === 'object') fieldRows(element.fields, '', lines);
  }
  return `${lines.join('\n')}\n`;
}
