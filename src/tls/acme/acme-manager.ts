/**
 * Keeps one ACME certificate (RFC 8555) for a TLS listener: loads it from the ACME directory, orders a new
 * one when it is missing, no longer covers the configured names, or has passed two thirds of its lifetime
 * (Let's Encrypt's advice), and hands each new certificate to the listener. A failed order keeps the
 * current certificate, is logged with the CA's reason, and is retried with jittered exponential backoff.
 * Processes sharing the directory take turns through a lock file; the others pick the result up from disk.
 */
import acme from 'acme-client';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import type { AcmeConfig } from '../../config/types.js';
import { certNames } from '../cert-files.js';
import { AcmeStore, certificateName } from './acme-store.js';
import type { Http01Responder } from './http01.js';
import { tryLock } from './order-lock.js';

interface AcmeCertificate { readonly certPem: string; readonly keyPem: string; readonly x509: X509Certificate }

export interface AcmeManagerOptions {
  readonly config: AcmeConfig;
  /** Listener name for logs. */
  readonly listener: string;
  readonly log: Logger;
  readonly http01: Http01Responder;
  /** Called with every certificate to serve: the stored one at start, then each renewal. */
  readonly onCertificate: (cert: AcmeCertificate) => void;
  /** Relative `dir` and `directory_ca` resolve against this. Default `process.cwd()`. */
  readonly baseDir?: string;
  /** Seeded in tests. Default Math.random. */
  readonly random?: () => number;
}

const MINUTE = 60_000;
const MAX_TIMER_MS = 24 * 60 * MINUTE;
const FIRST_RETRY_MS = MINUTE;
const MAX_RETRY_MS = 60 * MINUTE;

/** acme-client talks through one shared axios instance, so every directory CA goes into one trust list. */
const extraDirectoryCas = new Set<string>();

/** When to renew: two thirds into the lifetime, minus up to 2% of it so a fleet does not renew in step. */
export function renewalTime(notBefore: number, notAfter: number, random: number): number {
  const lifetime = notAfter - notBefore;
  return notBefore + (lifetime * 2) / 3 - lifetime * 0.02 * random;
}

/** The n-th retry delay after failures: 1 min doubling to 1 h, ±20% jitter, never past a third of what is left. */
export function retryDelay(failures: number, remainingMs: number | undefined, random: number): number {
  const base = Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1), MAX_RETRY_MS);
  const capped = remainingMs === undefined ? base : Math.min(base, Math.max(1000, remainingMs / 3));
  return Math.round(capped * (0.8 + 0.4 * random));
}

export class AcmeManager {
  readonly #opts: AcmeManagerOptions;
  readonly #store: AcmeStore;
  readonly #name: string;
  readonly #random: () => number;
  #current?: AcmeCertificate;
  /** When to renew `#current` (0 = now), drawn once per certificate so every comparison and timer agree. */
  #renewAt = 0;
  #timer?: NodeJS.Timeout;
  #failures = 0;
  #stopped = false;
  #running?: Promise<void>;
  /** Orders this process placed that succeeded (for status and tests). */
  ordersIssued = 0;
  lastError?: string;

  constructor(opts: AcmeManagerOptions) {
    this.#opts = opts;
    this.#store = new AcmeStore(resolve(opts.baseDir ?? process.cwd(), opts.config.dir));
    this.#name = certificateName(opts.config.domains);
    this.#random = opts.random ?? Math.random;
  }

  get directory(): string { return this.#store.dir; }
  get current(): AcmeCertificate | undefined { return this.#current; }

  /** Serves the stored certificate at once when there is a good one, then keeps it renewed. */
  start(): void {
    this.#stopped = false;
    this.#store.ensure();
    this.#adoptStored();
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Runs one check now (order when due); resolves when it is done. */
  check(force = false): Promise<void> {
    this.#running ??= this.#check(force).finally(() => { this.#running = undefined; });
    return this.#running;
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => { void this.check(); }, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    this.#timer.unref();
  }

  async #check(force: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#adoptStored();
    if (!force && this.#renewAt > Date.now()) { this.#failures = 0; this.#schedule(this.#renewAt - Date.now()); return; }
    const release = tryLock(this.#store.dir);
    if (!release) {
      // another process is ordering: look again shortly and take its certificate from disk
      this.#schedule(2000 + 3000 * this.#random());
      return;
    }
    try {
      this.#adoptStored();
      if (!force && this.#renewAt > Date.now()) { this.#schedule(this.#renewAt - Date.now()); return; }
      await this.#order();
      this.#failures = 0;
      this.lastError = undefined;
      this.#schedule(this.#renewAt - Date.now());
    } catch (e) {
      this.#failures++;
      this.lastError = describeAcmeError(e);
      const remaining = this.#current ? Date.parse(this.#current.x509.validTo) - Date.now() : undefined;
      const delay = retryDelay(this.#failures, remaining, this.#random());
      this.#opts.log.warn({
        listener: this.#opts.listener, domains: this.#opts.config.domains, reason: this.lastError, failures: this.#failures,
        retry_in_s: Math.round(delay / 1000), serving: this.#current ? { valid_to: new Date(this.#current.x509.validTo).toISOString() } : 'none',
      }, 'acme order failed; keeping the current certificate');
      this.#schedule(delay);
    } finally {
      release();
    }
  }

  async #order(): Promise<void> {
    const cfg = this.#opts.config;
    this.#trustDirectoryCa();
    let accountKey = this.#store.readAccountKey();
    if (!accountKey) {
      accountKey = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
      this.#store.writeAccountKey(accountKey);
    }
    const client = new acme.Client({
      directoryUrl: cfg.directory, accountKey,
      externalAccountBinding: cfg.eab ? { kid: cfg.eab.kid, hmacKey: cfg.eab.hmac_key } : undefined,
    });
    const [key, csr] = await acme.crypto.createCsr({ altNames: cfg.domains }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const dir = this.#store.dir;
    const http01 = this.#opts.http01;
    this.#opts.log.info({ listener: this.#opts.listener, domains: cfg.domains, directory: cfg.directory }, 'acme: ordering a certificate');
    const certPem = await client.auto({
      csr, email: cfg.email || undefined, termsOfServiceAgreed: true, challengePriority: ['http-01'],
      // the CA's own check is the one that counts; a self-check through NAT or a CDN fails for no reason
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => { http01.add(dir, challenge.token, keyAuthorization); },
      challengeRemoveFn: async (_authz, challenge) => { http01.remove(dir, challenge.token); },
    });
    const cert = parse(certPem, key.toString());
    if (!cert) throw new Error('the CA returned a certificate that does not parse or does not match its key');
    this.#store.writeCertificate(this.#name, cert.certPem, cert.keyPem);
    this.ordersIssued++;
    this.#opts.log.info({
      listener: this.#opts.listener, domains: cfg.domains, valid_to: new Date(cert.x509.validTo).toISOString(), serial: cert.x509.serialNumber,
    }, 'acme: certificate issued');
    this.#use(cert);
  }

  /** Takes the stored certificate when it is good and newer than the one in hand (another process renewed). */
  #adoptStored(): void {
    const stored = this.#store.readCertificate(this.#name);
    if (!stored) return;
    if (this.#current && stored.certPem === this.#current.certPem) return;
    const cert = parse(stored.certPem, stored.keyPem);
    if (!cert || Date.parse(cert.x509.validTo) <= Date.now()) return;
    if (this.#current && Date.parse(cert.x509.validTo) <= Date.parse(this.#current.x509.validTo)) return;
    this.#use(cert);
  }

  #use(cert: AcmeCertificate): void {
    this.#current = cert;
    // a certificate that misses a configured name is replaced at once
    this.#renewAt = this.#covers(cert.x509) ? renewalTime(Date.parse(cert.x509.validFrom), Date.parse(cert.x509.validTo), this.#random()) : 0;
    this.#opts.onCertificate(cert);
  }

  #covers(x509: X509Certificate): boolean {
    const names = new Set(certNames(x509));
    return this.#opts.config.domains.every((d) => names.has(d.toLowerCase()));
  }

  #trustDirectoryCa(): void {
    const file = this.#opts.config.directory_ca;
    if (!file) return;
    const pem = readFileSync(resolve(this.#opts.baseDir ?? process.cwd(), file), 'utf8');
    if (extraDirectoryCas.has(pem)) return;
    extraDirectoryCas.add(pem);
    acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, ...extraDirectoryCas], keepAlive: false });
  }
}

/** A certificate chain and key that parse and belong together, or undefined. */
function parse(certPem: string, keyPem: string): AcmeCertificate | undefined {
  try {
    const x509 = new X509Certificate(certPem);
    if (!x509.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    return { certPem, keyPem, x509 };
  } catch {
    return undefined;
  }
}

/** The CA's problem document (RFC 7807) when there is one, else the error message. */
function describeAcmeError(e: unknown): string {
  const err = e as { message?: string; code?: string };
  return [err.code, err.message].filter(Boolean).join(': ') || String(e);
}
