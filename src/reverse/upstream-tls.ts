/**
 * How this proxy talks TLS to `https://` upstreams of a pool: the certificate is verified by default,
 * against the system roots plus `tls.ca` (node's `ca` option replaces its defaults, so both go in), with
 * an optional SNI name and client certificate. `insecure_skip_verify` is the only way out, and loud.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import type { PoolConfig } from '../config/types.js';
import { TlsConfigError, type TlsProblem } from '../tls/cert-files.js';

/** The TLS options of a pool's connections, or the problems with its files. */
export function upstreamTlsProblems(tls: PoolConfig['tls'] | undefined, keyPrefix: string, baseDir = process.cwd()): { options: ConnectionOptions; problems: TlsProblem[] } {
  const problems: TlsProblem[] = [];
  const options: ConnectionOptions = {};
  if (!tls) return { options, problems };
  const read = (file: string, key: string, marker: string): string | undefined => {
    try {
      const text = readFileSync(resolve(baseDir, file), 'utf8');
      if (!text.includes(marker)) { problems.push({ key: `${keyPrefix}.${key}`, message: `${file} holds no PEM ${marker.includes('CERT') ? 'certificate' : 'key'}` }); return undefined; }
      return text;
    } catch (e) {
      problems.push({ key: `${keyPrefix}.${key}`, message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
      return undefined;
    }
  };
  if (tls.ca) {
    const ca = read(tls.ca, 'ca', '-----BEGIN CERTIFICATE-----');
    if (ca) options.ca = [...rootCertificates, ca];
  }
  if (tls.cert && tls.key) {
    options.cert = read(tls.cert, 'cert', '-----BEGIN CERTIFICATE-----');
    options.key = read(tls.key, 'key', 'PRIVATE KEY-----');
  }
  if (tls.servername) options.servername = tls.servername;
  options.rejectUnauthorized = !tls.insecure_skip_verify;
  return { options, problems };
}

/** Like upstreamTlsProblems, throwing `TlsConfigError` when a file is bad. */
export function upstreamTlsOptions(tls: PoolConfig['tls'] | undefined, keyPrefix: string): ConnectionOptions {
  const { options, problems } = upstreamTlsProblems(tls, keyPrefix);
  if (problems.length) throw new TlsConfigError(problems);
  return options;
}
