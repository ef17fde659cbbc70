/**
 * What an ACME directory holds: `account.key`, and per certificate `NAME/cert.pem` (leaf then chain) and
 * `NAME/key.pem`. Files are 0600, directories 0700; writes go to a temporary file renamed into place, so a
 * reader never sees half a file.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class AcmeStore {
  constructor(readonly dir: string) {}

  ensure(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }

  readAccountKey(): string | undefined { return readOrUndefined(join(this.dir, 'account.key')); }
  writeAccountKey(pem: string): void { writeSecret(join(this.dir, 'account.key'), pem); }

  /** The stored certificate and key for a set of names, or undefined. */
  readCertificate(name: string): { certPem: string; keyPem: string } | undefined {
    const certPem = readOrUndefined(join(this.dir, name, 'cert.pem'));
    const keyPem = readOrUndefined(join(this.dir, name, 'key.pem'));
    return certPem && keyPem ? { certPem, keyPem } : undefined;
  }

  /** Key first, so a reader that sees the new certificate also finds its key. */
  writeCertificate(name: string, certPem: string, keyPem: string): void {
    writeSecret(join(this.dir, name, 'key.pem'), keyPem);
    writeSecret(join(this.dir, name, 'cert.pem'), certPem);
  }
}

/** The sub-directory name of a certificate: its first domain, safe as a file name. */
export function certificateName(domains: readonly string[]): string {
  return domains[0]!.toLowerCase().replace(/^\*\./, '_wildcard.').replace(/[^a-z0-9._-]/g, '_');
}

function readOrUndefined(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

function writeSecret(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
