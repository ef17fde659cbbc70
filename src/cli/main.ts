/** The `gatehouse` command line. Exit status: 0 clean stop, 1 invalid config or failure to start, 2 bad usage. */
import { ConfigError, loadConfig } from '../config/load.js';
import { runProxy } from './run-command.js';
import { runtimeProblems } from './runtime-checks.js';

const USAGE = `usage:
  gatehouse [--config FILE]                 run the proxy (default config/default.yaml, or $GATEHOUSE_CONFIG)
  gatehouse check [--config FILE]           validate config, plugins and certificates
  gatehouse certs ca [--out DIR]            write a development CA
  gatehouse certs issue HOST... [--ca DIR] [--out DIR]
  gatehouse plugin test FILE [--request JSON_FILE] [--cases DIR]`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function configFlag(args: string[]): string | null {
  const i = args.indexOf('--config');
  if (i === -1) return process.env.GATEHOUSE_CONFIG || 'config/default.yaml';
  const value = args[i + 1];
  if (!value || value.startsWith('--')) return null;
  args.splice(i, 2);
  return value;
}

async function check(args: string[]): Promise<number> {
  const file = configFlag(args);
  if (file === null || args.length) { err(USAGE); return 2; }
  try {
    const config = loadConfig(file);
    const problems = await runtimeProblems(config);
    if (problems.length) { problems.forEach(err); return 1; }
    out(`${file}: ok`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) { e.problems.forEach(err); return 1; }
    throw e;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case '--help': case '-h': case 'help': out(USAGE); return 0;
    case 'check': return check(rest);
    case 'certs': return (await import('../tls/certs-command.js')).runCertsCommand(rest, out, err);
    case 'plugin': {
      if (rest[0] !== 'test') { err(USAGE); return 2; }
      return (await import('../plugins/plugin-test-runner.js')).runPluginTest(rest.slice(1), out);
    }
    default: {
      const args = argv.slice();
      const file = configFlag(args);
      if (file === null || args.length) { err(USAGE); return 2; }
      return runProxy(file, err);
    }
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; if (code !== 0 || process.argv[2] !== undefined) setImmediate(() => process.exit(code)); else process.exit(code); },
  (e) => { err(`gatehouse: ${(e as Error).stack ?? e}`); process.exit(1); });
