import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCa, isValidHost, issueLeaf, normalizeHost, type PemPair } from './dev-certs.js';

const HELP = `Usage:
  gatehouse certs ca [--out DIR] [--name CN] [--days N] [--force]
  gatehouse certs issue HOST... [--ca DIR] [--out DIR] [--name NAME] [--days N] [--client]

Development certificates, made with node-forge. Not for production.

certs ca      writes DIR/ca.pem and DIR/ca.key (mode 0600). DIR defaults to certs/.
              Refuses to replace an existing CA (clients trust it) unless --force.
              --name sets the CA's common name (default "Gatehouse Development CA");
              --days its validity (default 3650).
certs issue   writes a leaf certificate for the HOSTs (DNS names, *.wildcards, IP
              addresses) signed by the CA in --ca DIR (default certs/), into --out DIR
              (default: the CA's DIR) as NAME.pem and NAME.key (mode 0600).
              NAME defaults to the first host, "*" spelled "_wildcard"
              (e.g. "*.example.com" -> _wildcard.example.com.pem); existing files are
              replaced. --days sets validity (default 365, at most 397).
              --client makes it usable as a TLS client certificate too (mTLS:
              tls.client_ca on a listener, pools.*.tls.cert towards upstreams).

Trust the CA: curl --cacert certs/ca.pem …, or NODE_EXTRA_CA_CERTS=certs/ca.pem.

Exit status: 0 ok, 1 failure (e.g. no CA found), 2 bad usage.
`;

class UsageError extends Error {}

/**
 * `gatehouse certs …`. `argv` is what follows `certs` (a leading `certs` is tolerated).
 * Returns the exit status; writes progress to `out` and one line per failure to `err`.
 */
export async function runCertsCommand(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const args = argv[0] === 'certs' ? argv.slice(1) : argv;
  const [sub, ...rest] = args;
  try {
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      (sub === undefined ? err : out)(HELP);
      return sub === undefined ? 2 : 0;
    }
    if (sub === 'ca') return await caCommand(rest, out);
    if (sub === 'issue') return await issueCommand(rest, out);
    throw new UsageError(`unknown subcommand "${sub}" (expected ca or issue)`);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`gatehouse certs: ${(e as Error).message}\nRun "gatehouse certs --help" for usage.\n`);
      return 2;
    }
    err(`gatehouse certs: ${(e as Error).message}\n`);
    return 1;
  }
}

async function caCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', default: 'certs' },
      name: { type: 'string' },
      days: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`certs ca takes no arguments, got "${positionals[0]}"`);
  const days = parseDays(values.days, 3650, 36500);
  const certPath = join(values.out, 'ca.pem');
  const keyPath = join(values.out, 'ca.key');
  if (!values.force && ((await exists(certPath)) || (await exists(keyPath)))) {
    throw new Error(`${certPath} already exists; use --force to replace it (clients trusting it will need the new one)`);
  }
  const ca = createCa({ ...(values.name ? { commonName: values.name } : {}), days });
  await writePair(values.out, certPath, keyPath, ca);
  out(`wrote ${certPath} and ${keyPath} (${describe(ca.certPem)})\n`);
  out(`trust it with: curl --cacert ${certPath} …  or  NODE_EXTRA_CA_CERTS=${certPath}\n`);
  return 0;
}

async function issueCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ca: { type: 'string', default: 'certs' },
      out: { type: 'string' },
      name: { type: 'string' },
      days: { type: 'string' },
      client: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('certs issue needs at least one HOST');
  const hosts = positionals.map(normalizeHost);
  for (const h of hosts) if (!isValidHost(h)) throw new UsageError(`not a host name or IP address: "${h}"`);
  const name = values.name ?? fileNameFor(hosts[0]!);
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new UsageError(`--name must be a plain file name, got "${name}"`);
  const days = parseDays(values.days, 365, 397);

  const caCertPath = join(values.ca, 'ca.pem');
  const caKeyPath = join(values.ca, 'ca.key');
  const ca = { certPem: await readCaFile(caCertPath), keyPem: await readCaFile(caKeyPath) };
  const leaf = issueLeaf(hosts, ca, { days, clientAuth: values.client });
  const dir = values.out ?? values.ca;
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  await writePair(dir, certPath, keyPath, leaf);
  out(`wrote ${certPath} and ${keyPath} for ${hosts.join(', ')} (${describe(leaf.certPem)})\n`);
  return 0;
}

/** `*.example.com` → `_wildcard.example.com`, `::1` → `__1` (mkcert's spelling). */
function fileNameFor(host: string): string {
  return host.replace(/^\*/, '_wildcard').replace(/[^A-Za-z0-9._-]/g, '_');
}

function parseDays(raw: string | undefined, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--days must be a whole number from 1 to ${max}, got "${raw}"`);
  return n;
}

async function readCaFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message;
    throw new Error(`cannot read CA file ${path}: ${why} (run "gatehouse certs ca" first, or pass --ca DIR)`);
  }
}

async function writePair(dir: string, certPath: string, keyPath: string, pair: PemPair): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(certPath, pair.certPem);
  await writeFile(keyPath, pair.keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600); // `mode` applies only when the file is created
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

function describe(certPem: string): string {
  const x = new X509Certificate(certPem);
  return `valid until ${new Date(x.validTo).toISOString().slice(0, 10)}, SHA-256 ${x.fingerprint256}`;
}
