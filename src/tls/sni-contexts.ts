import { createSecureContext, type SecureContext, type SecureVersion, type Server as TlsServer, type TlsOptions } from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import { certNames, loadCertKeyPair, readPemFile, TlsConfigError, type CertKeyPair, type LoadOptions, type TlsProblem } from './cert-files.js';
import { createCa, issueLeaf } from './dev-certs.js';

/** The reverse listener's `tls:` block. */
export interface ReverseTlsConfig {
  /** Certificate and key files; SNI picks by each certificate's names, the first is the default. */
  readonly certs?: readonly { readonly cert: string; readonly key: string }[];
  /** With ACME, the certificate comes from `setAcmeCertificate`; its domains name the placeholder served until then. */
  readonly acme?: { readonly domains: readonly string[] };
  /** PEM file of the CAs client certificates must chain to; empty = no client certificates. */
  readonly client_ca?: string;
  readonly client_cert?: 'optional' | 'require';
  /** `TLSv1.2` (default) or `TLSv1.3`. */
  readonly min_version?: string;
  /** `Strict-Transport-Security` value the reverse proxy adds; empty = none. */
  readonly hsts?: string;
}

export interface SniOptions extends LoadOptions {
  /** Prefix for problem keys. Default `tls`; the config layer passes e.g. `reverse[0].tls`. */
  readonly keyPrefix?: string;
}

/** What `SNICallback` receives. */
export type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

const MIN_VERSIONS: readonly SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

// Mozilla "intermediate" (forward-secret AEAD only). The TLS 1.3 suites are OpenSSL's defaults.
const CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

interface Entry {
  readonly pair: CertKeyPair; readonly names: readonly string[]; readonly context: SecureContext;
  /** `acme` (obtained), `placeholder` (self-signed, served until the ACME one arrives) or `file`. */
  readonly source: 'file' | 'acme' | 'placeholder';
}

/** A certificate obtained at run time (ACME). */
interface RuntimeCertificate { readonly certPem: string; readonly keyPem: string; readonly x509: X509Certificate }

/** The certificate an ACME listener serves, and where it came from. */
interface AcmeServed { readonly cert: RuntimeCertificate; readonly source: 'acme' | 'placeholder' }

interface State {
  readonly minVersion: SecureVersion;
  readonly clientCa: string | undefined;
  readonly hsts: string | undefined;
  readonly entries: readonly Entry[];
  readonly exact: ReadonlyMap<string, Entry>;
  /** `*.b.test` is stored under `b.test`. */
  readonly wildcard: ReadonlyMap<string, Entry>;
}

/** Every problem with a reverse `tls:` block: files, PEM, key match, expiry, settings. */
export function validateReverseTls(cfg: ReverseTlsConfig, opts: SniOptions = {}): TlsProblem[] {
  // no ACME certificate: minting a placeholder (two RSA keys) only to check the files would block every check and reload
  return build(cfg, opts, undefined).problems;
}

/**
 * The certificates of one TLS listener, one SecureContext each, built once.
 * `sniCallback` picks exact name, then one-label wildcard, then the first certificate.
 * `reload()` swaps in newly read files only when all of them are good.
 */
export class SniContexts {
  #cfg: ReverseTlsConfig;
  readonly #opts: SniOptions;
  #state: State;
  #acme?: RuntimeCertificate;
  /** Served by an ACME listener until its first certificate; made once, so reloads do not mint new ones. */
  #placeholderCert?: RuntimeCertificate;
  #ticketKeys?: () => Buffer;
  readonly #servers = new Set<TlsServer>();

  /** Throws `TlsConfigError` listing every problem. */
  constructor(cfg: ReverseTlsConfig, opts: SniOptions = {}) {
    const { state, problems } = build(cfg, opts, this.#acmeServed(cfg));
    if (!state) throw new TlsConfigError(problems);
    this.#cfg = cfg;
    this.#opts = opts;
    this.#state = state;
  }

  /** The context for a requested server name (any case, trailing dot allowed). */
  select(servername: string | undefined): SecureContext {
    return this.#entryFor(servername).context;
  }

  readonly sniCallback: SniCallback = (servername, cb) => cb(null, this.select(servername));

  /** Options for `https.createServer` / `tls.createServer`; the default cert serves clients without SNI. */
  serverOptions(): TlsOptions {
    const mtls = this.#state.clientCa !== undefined;
    return {
      ...this.#defaultOptions(), SNICallback: this.sniCallback, ALPNProtocols: ['http/1.1'],
      requestCert: mtls, rejectUnauthorized: mtls && (this.#cfg.client_cert ?? 'require') === 'require',
    };
  }

  /** Whether client certificates are asked for, and a bad one refused after the handshake (optional mode). */
  get clientCertMode(): 'off' | 'optional' | 'require' {
    return this.#state.clientCa === undefined ? 'off' : (this.#cfg.client_cert ?? 'require');
  }

  /** Serves an ACME certificate first (default for clients without SNI); connections already open keep theirs. */
  setAcmeCertificate(cert: RuntimeCertificate): TlsProblem[] {
    const previous = this.#acme;
    this.#acme = cert;
    const problems = this.reload();
    if (problems.length > 0) this.#acme = previous;
    return problems;
  }

  /** The paths of the certificate, key and client CA files (watched for changes). */
  files(): string[] {
    const base = this.#opts.baseDir ?? process.cwd();
    return [...(this.#cfg.certs ?? []).flatMap((c) => [c.cert, c.key]), ...(this.#cfg.client_ca ? [this.#cfg.client_ca] : [])].map((f) => resolve(base, f));
  }

  /** Where the current session-ticket keys come from, so a reload keeps them (see ticket-keys.ts). */
  useTicketKeys(current: () => Buffer): void { this.#ticketKeys = current; }

  /** Lets `reload()` replace the default (no-SNI) certificate of this server too. */
  attach(server: TlsServer): void {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
  }

  /** `Strict-Transport-Security` value, or undefined when off. */
  get hsts(): string | undefined {
    return this.#state.hsts;
  }

  /** Each certificate's names and expiry, for `/status` and logs. */
  describe(now = Date.now()): { names: readonly string[]; source: string; validTo: string; expires_in_s: number; fingerprint256: string }[] {
    return this.#state.entries.filter((e) => e.source !== 'placeholder').map((e) => {
      const to = Date.parse(e.pair.x509.validTo);
      return { names: e.names, source: e.source, validTo: new Date(to).toISOString(), expires_in_s: Math.round((to - now) / 1000), fingerprint256: e.pair.x509.fingerprint256 };
    });
  }

  /**
   * Re-reads the files (of `cfg` when given, else the current config). Returns the problems;
   * when there are any, the old certificates keep serving.
   */
  reload(cfg: ReverseTlsConfig = this.#cfg): TlsProblem[] {
    const { state, problems } = build(cfg, this.#opts, this.#acmeServed(cfg));
    if (!state) return problems;
    this.#cfg = cfg;
    this.#state = state;
    // setSecureContext would give the server fresh random ticket keys: carry the shared ones over
    for (const s of this.#servers) s.setSecureContext({ ...this.#defaultOptions(), ticketKeys: this.#ticketKeys?.() });
    return [];
  }

  /** The ACME certificate when there is one, else the self-signed placeholder (made on first need). */
  #acmeServed(cfg: ReverseTlsConfig): AcmeServed | undefined {
    if (!cfg.acme) return undefined;
    if (this.#acme) return { cert: this.#acme, source: 'acme' };
    this.#placeholderCert ??= placeholderFor(cfg.acme.domains);
    return { cert: this.#placeholderCert, source: 'placeholder' };
  }

  #entryFor(servername: string | undefined): Entry {
    const { exact, wildcard, entries } = this.#state;
    if (servername) {
      const name = servername.toLowerCase().replace(/\.$/, '');
      const hit = exact.get(name);
      if (hit) return hit;
      const dot = name.indexOf('.');
      const wild = dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined;
      if (wild) return wild;
    }
    return entries[0]!;
  }

  #defaultOptions(): TlsOptions {
    const { pair } = this.#state.entries[0]!;
    return { cert: pair.certPem, key: pair.keyPem, ...contextOptions(this.#state.minVersion, this.#state.clientCa) };
  }
}

function contextOptions(minVersion: SecureVersion, clientCa: string | undefined) {
  // Every suite on the list is strong, so let clients pick (ChaCha20 on phones without AES-NI),
  // as Mozilla's intermediate profile does. `ca` here is what client certificates are checked against.
  return { minVersion, ciphers: CIPHERS, honorCipherOrder: false, ...(clientCa ? { ca: clientCa } : {}) };
}

/** A one-day self-signed certificate for the ACME names, served until the CA's arrives (as Traefik does). */
function placeholderFor(domains: readonly string[]): RuntimeCertificate {
  const pair = issueLeaf(domains, createCa({ commonName: 'Gatehouse placeholder (ACME pending)', days: 1 }), { days: 1 });
  return { ...pair, x509: new X509Certificate(pair.certPem) };
}

/** `acme` undefined (validation only) checks an ACME listener's settings without building its certificate. */
function build(cfg: ReverseTlsConfig, opts: SniOptions, acme: AcmeServed | undefined): { state?: State; problems: TlsProblem[] } {
  const prefix = opts.keyPrefix ?? 'tls';
  const problems: TlsProblem[] = [];
  const minVersion = (cfg.min_version ?? 'TLSv1.2') as SecureVersion;
  if (!MIN_VERSIONS.includes(minVersion)) problems.push({ key: `${prefix}.min_version`, message: `must be TLSv1.2 or TLSv1.3, got "${cfg.min_version}"` });
  const hsts = cfg.hsts?.trim() || undefined;
  if (hsts && !/(^|;)\s*max-age=\d+\s*(;|$)/i.test(hsts)) problems.push({ key: `${prefix}.hsts`, message: `must contain max-age=SECONDS, got "${hsts}"` });
  if ((!cfg.certs || cfg.certs.length === 0) && !cfg.acme) problems.push({ key: `${prefix}.certs`, message: 'at least one certificate is required' });
  const clientCa = cfg.client_ca ? readPemFile(cfg.client_ca, `${prefix}.client_ca`, problems, { baseDir: opts.baseDir }) : undefined;
  const okVersion = MIN_VERSIONS.includes(minVersion) ? minVersion : 'TLSv1.2';

  const entries: Entry[] = [];
  if (cfg.acme) {
    try {
      if (!acme) {
        // still let OpenSSL check the settings the certificate will be served with (the client CA)
        createSecureContext(contextOptions(okVersion, clientCa));
      } else {
        const { cert, source } = acme;
        const context = createSecureContext({ cert: cert.certPem, key: cert.keyPem, ...contextOptions(okVersion, clientCa) });
        const pair: CertKeyPair = { certPem: cert.certPem, keyPem: cert.keyPem, x509: cert.x509, key: createPrivateKey(cert.keyPem) };
        entries.push({ pair, names: certNames(cert.x509), context, source });
      }
    } catch (e) {
      problems.push({ key: `${prefix}.acme`, message: `the ACME certificate is not usable: ${(e as Error).message}` });
    }
  }
  (cfg.certs ?? []).forEach((c, i) => {
    const at = `${prefix}.certs[${i}]`;
    const loaded = loadCertKeyPair({ certPath: c.cert, keyPath: c.key, certKey: `${at}.cert`, keyKey: `${at}.key` }, opts);
    problems.push(...loaded.problems);
    if (!loaded.pair) return;
    try {
      const context = createSecureContext({ cert: loaded.pair.certPem, key: loaded.pair.keyPem, ...contextOptions(okVersion, clientCa) });
      entries.push({ pair: loaded.pair, names: certNames(loaded.pair.x509), context, source: 'file' });
    } catch (e) {
      // e.g. OpenSSL refusing a 1024-bit key ("ee key too small")
      problems.push({ key: `${at}.cert`, message: `${c.cert} is not usable: ${(e as Error).message}` });
    }
  });
  if (problems.length > 0) return { problems };

  const exact = new Map<string, Entry>();
  const wildcard = new Map<string, Entry>();
  for (const e of entries) {
    for (const n of e.names) {
      // the first certificate listed for a name wins, so order in the config decides overlaps
      const [map, key] = n.startsWith('*.') ? [wildcard, n.slice(2)] : [exact, n];
      if (!map.has(key)) map.set(key, e);
    }
  }
  return { state: { minVersion, clientCa, hsts, entries, exact, wildcard }, problems };
}
