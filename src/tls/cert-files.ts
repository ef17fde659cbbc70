import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** One configuration problem, printed by `gatehouse check` as `key: message`. */
export interface TlsProblem { readonly key: string; readonly message: string }

/** Thrown when TLS material can't be loaded; `problems` holds every reason. */
export class TlsConfigError extends Error {
  readonly code = 'PRX_TLS_CONFIG';
  constructor(readonly problems: readonly TlsProblem[]) {
    super(problems.map((p) => `${p.key}: ${p.message}`).join('\n'));
    this.name = 'TlsConfigError';
  }
}

/** A certificate file and its key file, read, parsed and checked against each other. */
export interface CertKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
  readonly x509: X509Certificate;
  readonly key: KeyObject;
}

export interface PairSource {
  readonly certPath: string;
  readonly keyPath: string;
  /** Config keys the problems are reported under, e.g. `reverse[0].tls.certs[0].cert`. */
  readonly certKey: string;
  readonly keyKey: string;
}

export interface LoadOptions {
  /** Relative paths resolve against this. Default `process.cwd()`. */
  readonly baseDir?: string;
  /** Clock for the expiry check. Default now. */
  readonly now?: Date;
}

const PEM_MARKERS = { certificate: '-----BEGIN CERTIFICATE-----', key: 'PRIVATE KEY-----' } as const;

/**
 * Reads a PEM file (CA bundle, certificate or key) by its config key. Returns its text, or records
 * `cannot read FILE: CODE` or `FILE holds no PEM certificate|key` under `key` and returns undefined.
 */
export function readPemFile(file: string, key: string, problems: TlsProblem[], opts: { baseDir?: string; kind?: keyof typeof PEM_MARKERS } = {}): string | undefined {
  const kind = opts.kind ?? 'certificate';
  try {
    const text = readFileSync(resolve(opts.baseDir ?? process.cwd(), file), 'utf8');
    if (text.includes(PEM_MARKERS[kind])) return text;
    problems.push({ key, message: `${file} holds no PEM ${kind}` });
  } catch (e) {
    problems.push({ key, message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
  }
  return undefined;
}

/** Reads and checks one pair; returns the pair, or the problems that prevent using it. */
export function loadCertKeyPair(src: PairSource, opts: LoadOptions = {}): { pair?: CertKeyPair; problems: TlsProblem[] } {
  const problems: TlsProblem[] = [];
  const base = opts.baseDir ?? process.cwd();
  const certPem = readText(resolve(base, src.certPath), src.certPath, src.certKey, problems);
  const keyPem = readText(resolve(base, src.keyPath), src.keyPath, src.keyKey, problems);

  let x509: X509Certificate | undefined;
  if (certPem !== undefined) {
    try {
      if (!certPem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM block');
      x509 = new X509Certificate(certPem);
    } catch {
      problems.push({ key: src.certKey, message: `${src.certPath} is not a PEM certificate` });
    }
  }
  let key: KeyObject | undefined;
  if (keyPem !== undefined) {
    try {
      key = createPrivateKey(keyPem);
    } catch (e) {
      const encrypted = (e as { code?: string }).code === 'ERR_MISSING_PASSPHRASE';
      problems.push({ key: src.keyKey, message: encrypted ? `${src.keyPath} is encrypted; passphrases are not supported` : `${src.keyPath} is not a PEM private key` });
    }
  }
  if (x509) {
    const now = (opts.now ?? new Date()).getTime();
    const to = new Date(x509.validTo);
    const from = new Date(x509.validFrom);
    if (to.getTime() < now) problems.push({ key: src.certKey, message: `${src.certPath} expired on ${to.toISOString()}` });
    else if (from.getTime() > now) problems.push({ key: src.certKey, message: `${src.certPath} is not valid until ${from.toISOString()}` });
  }
  if (x509 && key && !x509.checkPrivateKey(key)) {
    problems.push({ key: src.keyKey, message: `${src.keyPath} does not match the certificate in ${src.certPath}` });
  }
  if (problems.length > 0 || !x509 || !key || certPem === undefined || keyPem === undefined) return { problems };
  return { pair: { certPem, keyPem, x509, key }, problems };
}

function readText(path: string, shown: string, key: string, problems: TlsProblem[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    problems.push({ key, message: `cannot read ${shown}: ${why}` });
    return undefined;
  }
}

/**
 * The DNS names a certificate serves, lower-case: its SAN dNSNames, or its subject CN when it
 * has none (the pre-RFC 6125 fallback that old self-made certificates still rely on).
 */
export function certNames(x509: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of splitOutsideQuotes(x509.subjectAltName ?? '')) {
    const m = /^DNS:(.*)$/.exec(entry);
    // Node JSON-quotes values that contain separators or escapes
    if (m) names.push(unquote(m[1]!).toLowerCase());
  }
  if (names.length > 0) return names;
  const cn = /^CN=(.*)$/m.exec(x509.subject ?? '');
  return cn ? [unquote(cn[1]!).toLowerCase()] : [];
}

function splitOutsideQuotes(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && quoted) { cur += c + (s[++i] ?? ''); continue; }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) { out.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function unquote(v: string): string {
  if (!v.startsWith('"')) return v;
  try { return JSON.parse(v) as string; } catch { return v; }
}
