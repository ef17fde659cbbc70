import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls';
import { LRUCache } from 'lru-cache';
import { loadCertKeyPair, TlsConfigError, type LoadOptions, type TlsProblem } from './cert-files.js';
import { CertIssuer, generateLeafKeyAsync, isValidHost, normalizeHost, type LeafKey } from './dev-certs.js';
import type { SniCallback } from './sni-contexts.js';

/** The forward listener's `intercept_tls` files. */
export interface InterceptCaConfig {
  /** CA certificate (PEM, RSA key), e.g. `certs/ca.pem`. */
  readonly ca: string;
  /** Its private key (PEM), e.g. `certs/ca.key`. */
  readonly ca_key: string;
}

export interface InterceptOptions extends LoadOptions {
  /** Prefix for problem keys. Default `intercept_tls`; the config layer passes e.g. `forward[0].intercept_tls`. */
  readonly keyPrefix?: string;
  /** Minted host contexts kept. Default 1000. */
  readonly maxHosts?: number;
  /** Validity of minted leaves in days. Default 365. */
  readonly days?: number;
  /** Default `TLSv1.2`. */
  readonly minVersion?: SecureVersion;
}

export interface InterceptStats {
  /** Certificates minted since start. */
  readonly minted: number;
  /** Lookups answered from the cache or an in-flight mint. */
  readonly hits: number;
  /** Contexts held now. */
  readonly cached: number;
}

// Re-mint well before the 365-day leaves expire in a long-running process.
const CONTEXT_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** Every problem with the `intercept_tls` files: readable, PEM, key match, expiry, a CA, RSA. */
export function validateInterceptCa(cfg: InterceptCaConfig, opts: InterceptOptions = {}): TlsProblem[] {
  return build(cfg, opts).problems;
}

/**
 * Mints a leaf certificate per intercepted host, signed by the configured CA (mitmproxy-style).
 * One leaf key pair serves every host, so a mint is just an X.509 signature (~1 ms);
 * contexts sit in an LRU, and concurrent requests for one host share one mint.
 */
export class InterceptCa {
  readonly #issuer: CertIssuer;
  readonly #caCertPem: string;
  readonly #opts: InterceptOptions;
  readonly #cache: LRUCache<string, SecureContext>;
  readonly #inFlight = new Map<string, Promise<SecureContext>>();
  #key: Promise<LeafKey> | undefined;
  #minted = 0;
  #hits = 0;

  /** Throws `TlsConfigError` listing every problem. */
  constructor(cfg: InterceptCaConfig, opts: InterceptOptions = {}) {
    const { issuer, caCertPem, problems } = build(cfg, opts);
    if (!issuer || caCertPem === undefined) throw new TlsConfigError(problems);
    this.#issuer = issuer;
    this.#caCertPem = caCertPem;
    this.#opts = opts;
    this.#cache = new LRUCache({ max: opts.maxHosts ?? 1000, ttl: CONTEXT_TTL_MS });
  }

  /** The CA certificate clients must trust (e.g. to offer it for download). */
  get caCertPem(): string {
    return this.#caCertPem;
  }

  get stats(): InterceptStats {
    return { minted: this.#minted, hits: this.#hits, cached: this.#cache.size };
  }

  /** A context whose certificate names `host` (DNS name or IP). Rejects a malformed host. */
  contextFor(host: string): Promise<SecureContext> {
    const name = normalizeHost(host);
    const cached = this.#cache.get(name);
    if (cached) {
      this.#hits++;
      return Promise.resolve(cached);
    }
    const pending = this.#inFlight.get(name);
    if (pending) {
      this.#hits++;
      return pending;
    }
    const minting = this.#mint(name).finally(() => this.#inFlight.delete(name));
    this.#inFlight.set(name, minting);
    return minting;
  }

  /** Mints for the name the client sends in SNI. */
  readonly sniCallback: SniCallback = (servername, cb) => {
    this.contextFor(servername).then((ctx) => cb(null, ctx), (err: Error) => cb(err));
  };

  /**
   * Options for `new tls.TLSSocket(clientSocket, { isServer: true, ...opts })` inside an
   * intercepted CONNECT to `connectHost`. The SNI name picks the certificate; clients that
   * send none (they dialled an IP) get one for `connectHost`, because OpenSSL calls
   * SNICallback only when SNI is present.
   */
  async serverOptionsFor(connectHost: string): Promise<{ secureContext: SecureContext; SNICallback: SniCallback; ALPNProtocols: string[] }> {
    return { secureContext: await this.contextFor(connectHost), SNICallback: this.sniCallback, ALPNProtocols: ['http/1.1'] };
  }

  async #mint(name: string): Promise<SecureContext> {
    if (!isValidHost(name)) throw new Error(`cannot mint a certificate for "${name}": not a host name or IP address`);
    // One key for every host, generated off the event loop on first use.
    this.#key ??= generateLeafKeyAsync();
    const key = await this.#key;
    const leaf = this.#issuer.issue([name], { key, ...(this.#opts.days ? { days: this.#opts.days } : {}) });
    const ctx = createSecureContext({ cert: leaf.certPem, key: leaf.keyPem, minVersion: this.#opts.minVersion ?? 'TLSv1.2' });
    this.#minted++;
    this.#cache.set(name, ctx);
    return ctx;
  }
}

function build(cfg: InterceptCaConfig, opts: InterceptOptions): { issuer?: CertIssuer; caCertPem?: string; problems: TlsProblem[] } {
  const prefix = opts.keyPrefix ?? 'intercept_tls';
  const src = { certPath: cfg.ca, keyPath: cfg.ca_key, certKey: `${prefix}.ca`, keyKey: `${prefix}.ca_key` };
  const { pair, problems } = loadCertKeyPair(src, opts);
  if (!pair) return { problems };
  if (!pair.x509.ca) return { problems: [{ key: src.certKey, message: `${cfg.ca} is not a CA certificate (basicConstraints CA:true missing)` }] };
  if (pair.key.asymmetricKeyType !== 'rsa') return { problems: [{ key: src.keyKey, message: `${cfg.ca_key} must be an RSA key (node-forge signs only RSA certificates)` }] };
  try {
    return { issuer: new CertIssuer(pair), caCertPem: pair.certPem, problems: [] };
  } catch (e) {
    return { problems: [{ key: src.certKey, message: `${cfg.ca} cannot sign: ${(e as Error).message}` }] };
  }
}
