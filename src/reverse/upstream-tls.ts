/**
 * How this proxy talks TLS to `https://` upstreams of a pool: the certificate is verified by default,
 * against the system roots plus `tls.ca` (node's `ca` option replaces its defaults, so both go in), with
 * an optional SNI name and client certificate. `insecure_skip_verify` is the only way out, and loud.
 */
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import type { PoolConfig } from '../config/types.js';
import { readPemFile, TlsConfigError, type TlsProblem } from '../tls/cert-files.js';

/** The TLS options of a pool's connections, or the problems with its files. */
export function upstreamTlsProblems(tls: PoolConfig['tls'] | undefined, keyPrefix: string, baseDir = process.cwd()): { options: ConnectionOptions; problems: TlsProblem[] } {
  const problems: TlsProblem[] = [];
  const options: ConnectionOptions = {};
  if (!tls) return { options, problems };
  if (tls.ca) {
    const ca = readPemFile(tls.ca, `${keyPrefix}.ca`, problems, { baseDir });
    if (ca) options.ca = [...rootCertificates, ca];
  }
  if (tls.cert && tls.key) {
    options.cert = readPemFile(tls.cert, `${keyPrefix}.cert`, problems, { baseDir });
    options.key = readPemFile(tls.key, `${keyPrefix}.key`, problems, { baseDir, kind: 'key' });
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
