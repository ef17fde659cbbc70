import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { normalizeHost as canonicalHost } from '../core/host.js';

/** A certificate and its private key, both PEM (the key is PKCS#8). */
export interface PemPair { readonly certPem: string; readonly keyPem: string }

export interface CaOptions {
  /** Subject CN. Default `Gatehouse Development CA`. */
  commonName?: string;
  /** Validity in days. Default 3650. */
  days?: number;
}

/** A leaf key pair kept in both forms: node:crypto signs, forge encodes the public half. */
export interface LeafKey {
  readonly keyPem: string;
  readonly privateKey: KeyObject;
  readonly publicKey: forge.pki.PublicKey;
}

export interface LeafOptions {
  /** Validity in days from now; capped so the whole span stays within 397 days. Default 365. */
  days?: number;
  /** Reuse this key instead of generating one (mitmproxy-style minting). */
  key?: LeafKey;
  /** Clock, for tests. Default `new Date()`. */
  now?: Date;
  /** Also usable as a TLS client certificate (mTLS). Default false. */
  clientAuth?: boolean;
}

const MAX_LEAF_DAYS = 397; // CA/Browser Forum and Apple's limit for TLS server certificates
const BACKDATE_MS = 60 * 60 * 1000; // tolerate an hour of client clock skew
const DAY_MS = 24 * 60 * 60 * 1000;
const RSA_BITS = 2048;

const generateKeyPairAsync = promisify(generateKeyPair);

/** One RSA key pair via node:crypto (forge's JS keygen takes seconds). */
export function generateLeafKey(): LeafKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS });
  return toLeafKey(privateKey);
}

/** Same as `generateLeafKey`, off the event loop. */
export async function generateLeafKeyAsync(): Promise<LeafKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: RSA_BITS });
  return toLeafKey(privateKey);
}

function toLeafKey(privateKey: KeyObject): LeafKey {
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    privateKey,
    publicKey: forge.pki.publicKeyFromPem(spki),
  };
}

/** A self-signed development CA that may only sign leaves (pathLen 0). */
export function createCa(opts: CaOptions = {}): PemPair {
  const key = generateLeafKey();
  const now = Date.now();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + (opts.days ?? 3650) * DAY_MS);
  const subject = [
    { name: 'commonName', value: opts.commonName ?? 'Gatehouse Development CA' },
    { name: 'organizationName', value: 'Gatehouse development' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const ski = forge.pki.getPublicKeyFingerprint(key.publicKey, { type: 'RSAPublicKey' }).getBytes();
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ski },
  ]);
  signCert(cert, key.privateKey);
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem };
}

/** Signs leaves for one CA; parse the CA once and reuse this for many leaves. */
export class CertIssuer {
  readonly #caCert: forge.pki.Certificate;
  readonly #caKey: KeyObject;
  readonly #caKeyId: string;

  constructor(ca: PemPair) {
    const x509 = new X509Certificate(ca.certPem);
    if (!x509.ca) throw new Error('CA certificate lacks basicConstraints CA:true');
    this.#caKey = createPrivateKey(ca.keyPem);
    if (!x509.checkPrivateKey(this.#caKey)) throw new Error('CA key does not match the CA certificate');
    if (this.#caKey.asymmetricKeyType !== 'rsa') throw new Error('CA key must be RSA (node-forge encodes only RSA certificates)');
    this.#caCert = forge.pki.certificateFromPem(ca.certPem);
    // Chain by the CA's own SKI when it has one, so AKI matches byte for byte.
    const ext = this.#caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
    this.#caKeyId = ext?.subjectKeyIdentifier
      ? forge.util.hexToBytes(ext.subjectKeyIdentifier)
      : forge.pki.getPublicKeyFingerprint(this.#caCert.publicKey, { type: 'RSAPublicKey' }).getBytes();
  }

  /** A serverAuth (and with `clientAuth`, client) leaf for `hosts` (DNS names, `*.wildcards`, IPv4/IPv6); CN is the first host. */
  issue(hosts: readonly string[], opts: LeafOptions = {}): PemPair {
    const names = hosts.map(normalizeHost);
    if (names.length === 0) throw new Error('at least one host is required');
    for (const n of names) if (!isValidHost(n)) throw new Error(`not a host name or IP address: ${n}`);
    const key = opts.key ?? generateLeafKey();
    const now = (opts.now ?? new Date()).getTime();
    const notBefore = now - BACKDATE_MS;
    const notAfter = Math.min(now + (opts.days ?? 365) * DAY_MS, notBefore + MAX_LEAF_DAYS * DAY_MS);

    const cert = forge.pki.createCertificate();
    cert.publicKey = key.publicKey;
    cert.serialNumber = randomSerial();
    cert.validity.notBefore = new Date(notBefore);
    cert.validity.notAfter = new Date(notAfter);
    // CN must fit in 64 chars (X.520 ub-common-name); SAN carries the real names anyway.
    cert.setSubject([{ name: 'commonName', value: names[0]!.slice(0, 64) }, { name: 'organizationName', value: 'Gatehouse development' }]);
    cert.setIssuer(this.#caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, ...(opts.clientAuth ? { clientAuth: true } : {}) },
      { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.#caKeyId },
    ]);
    signCert(cert, this.#caKey);
    return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem };
  }
}

/** Issues one leaf signed by `ca`. */
export function issueLeaf(hosts: readonly string[], ca: PemPair, opts?: LeafOptions): PemPair {
  return new CertIssuer(ca).issue(hosts, opts);
}

/**
 * A certificate name: the canonical host of core/host.ts (lower-case, IDNA, IPv6 without brackets, no
 * trailing dot), with an optional leading `*.` label. Something that is no host comes back trimmed and
 * lower-cased, for the error message (isValidHost says no).
 */
export function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase();
  const wildcard = h.startsWith('*.');
  const n = canonicalHost(wildcard ? h.slice(2) : h);
  return n ? `${wildcard ? '*.' : ''}${n.host}` : h;
}

/** A DNS name (optionally one leading `*.` label) or an IP address, in the form normalizeHost gives. */
export function isValidHost(host: string): boolean {
  const bare = host.startsWith('*.') ? host.slice(2) : host;
  return canonicalHost(bare)?.host === bare;
}

/** 16 random bytes, positive and minimally encoded as a DER INTEGER. */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) || 0x01;
  return b.toString('hex');
}

// forge signs RSA in pure JS (~30 ms per signature); node:crypto does it natively.
// cert.sign() builds the TBSCertificate and sets the SHA-256 OIDs, then asks the key to sign;
// this "key" signs that TBSCertificate's DER with node:crypto instead.
function signCert(cert: forge.pki.Certificate, key: KeyObject): void {
  const signer = {
    sign: () => {
      const tbs = forge.asn1.toDer((cert as unknown as { tbsCertificate: forge.asn1.Asn1 }).tbsCertificate).getBytes();
      return sign('sha256', Buffer.from(tbs, 'binary'), key).toString('binary');
    },
  };
  cert.sign(signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
}
