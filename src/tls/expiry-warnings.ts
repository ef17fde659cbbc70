/**
 * `gatehouse check` warnings: certificates that expire soon (files, and ACME certificates on disk), and
 * ACME without a plain listener to answer its challenges.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { GatehouseConfig } from '../config/types.js';
import { certificateName } from './acme/acme-store.js';

const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** One `key: message` line per certificate expiring within 14 days (expired ones are errors elsewhere). */
export function certificateWarnings(config: GatehouseConfig, now = Date.now()): string[] {
  const warnings: string[] = [];
  const warn = (key: string, file: string) => {
    let x509: X509Certificate;
    try { x509 = new X509Certificate(readFileSync(file, 'utf8')); } catch { return; }
    const to = Date.parse(x509.validTo);
    const days = (to - now) / DAY_MS;
    if (days < 0 || days >= EXPIRY_WARNING_DAYS) return;
    warnings.push(`${key}: ${file} expires in ${days < 1 ? 'less than a day' : `${Math.floor(days)} days`} (${new Date(to).toISOString()})`);
  };
  const plain = config.reverse.some((l) => !l.tls);
  config.reverse.forEach((l, i) => {
    if (l.tls?.acme && !plain) warnings.push(`reverse[${i}].tls.acme: no plain reverse listener answers HTTP-01 challenges; add one on port 80`);
    l.tls?.certs.forEach((c, j) => warn(`reverse[${i}].tls.certs[${j}].cert`, resolve(c.cert)));
    const acme = l.tls?.acme;
    if (acme) warn(`reverse[${i}].tls.acme`, join(resolve(acme.dir), certificateName(acme.domains), 'cert.pem'));
  });
  return warnings;
}
