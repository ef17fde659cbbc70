/** The `gatehouse` command line. Exit status: 0 clean stop, 1 invalid config or failure to start, 2 bad usage. */
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config/load.js';
import { didYouMean } from '../config/did-you-mean.js';
import { runProxy } from './run-command.js';
import { certificateWarnings, runtimeProblems } from '../checks/runtime-checks.js';
import { routingPluginWarnings } from '../checks/routing-plugin-check.js';

const USAGE = `Usage:
  gatehouse [--config FILE]            run the proxy (default config/default.yaml, or $GATEHOUSE_CONFIG)
  gatehouse check [--config FILE]      validate config, plugins and certificates; print every problem
  gatehouse certs ca [--out DIR] [--name CN] [--days N] [--force]
                                       write a development CA
  gatehouse certs issue HOST... [--ca DIR] [--out DIR] [--name NAME] [--days N] [--client]
                                       write a certificate for HOSTs signed by that CA
  gatehouse plugin test FILE [--request JSON_FILE | --cases DIR] [--hook onRequest|route|onResponse]
                             [--cpu-limit 50ms] [--timeout 500ms] [--memory-limit 32MB]
                                       run a plugin against a request, or every case in DIR
  gatehouse simulate [--config FILE] [--listener NAME] [--src IP] [--user USER] [--method M] [--header H]... URL
  gatehouse simulate [--config FILE] --cases DIR
                                       what the proxy would do with a request, offline; or check a table of cases
  gatehouse passwd FILE USER [--password-stdin]
                                       add USER to an htpasswd FILE or change their password (bcrypt)
  gatehouse --version | -v             print the version
  gatehouse --help | -h                this help ("gatehouse certs --help", "gatehouse plugin test --help": more)

Exit status: 0 ok or a clean stop, 1 invalid config or a failure, 2 bad usage.`;

const COMMANDS = ['check', 'certs', 'plugin', 'passwd', 'simulate', 'help'];

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** A usage error: the wrong word, and where to look. */
function usage(message: string): number {
  err(`gatehouse: ${message}\nRun "gatehouse --help" for usage.`);
  return 2;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Takes `--config FILE` out of args; the default when absent; a usage error message when FILE is missing. */
function configFlag(args: string[]): string | { error: string } {
  const i = args.indexOf('--config');
  if (i === -1) return process.env.GATEHOUSE_CONFIG || 'config/default.yaml';
  const value = args[i + 1];
  if (!value || value.startsWith('--')) return { error: '--config needs a FILE' };
  args.splice(i, 2);
  return value;
}

/** The usage error for words left over after the options were read. */
function leftover(args: string[], options: string[]): string {
  const word = args[0]!;
  if (!word.startsWith('-')) return `unexpected argument "${word}"`;
  return `unknown option "${word}"${didYouMean(word, options)}`;
}

async function check(args: string[]): Promise<number> {
  const file = configFlag(args);
  if (typeof file !== 'string') return usage(file.error);
  if (args.length) return usage(leftover(args, ['--config']));
  try {
    const config = loadConfig(file);
    const problems = await runtimeProblems(config);
    for (const warning of await routingPluginWarnings(config)) err(`warning: ${warning}`);
    if (problems.length) { problems.forEach(err); return 1; }
    for (const w of certificateWarnings(config)) err(`warning: ${w}`);
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
    case '--version': case '-v': out(version()); return 0;
    case 'check': return check(rest);
    case 'certs': return (await import('../tls/certs-command.js')).runCertsCommand(rest, out, err);
    case 'simulate': return (await import('./simulate-command.js')).runSimulateCommand(rest, process.env.GATEHOUSE_CONFIG || 'config/default.yaml', out, err);
    case 'passwd': return (await import('../forward/passwd-command.js')).runPasswdCommand(rest, out, err);
    case 'plugin': {
      if (rest[0] !== 'test') return usage(rest[0] === undefined ? 'plugin needs a subcommand: test' : `unknown plugin subcommand "${rest[0]}" (expected test)`);
      return (await import('../plugins/plugin-test-runner.js')).runPluginTest(rest.slice(1), out, err);
    }
    default: {
      if (command !== undefined && !command.startsWith('-')) {
        return usage(`unknown command "${command}"${didYouMean(command, COMMANDS)}`);
      }
      const args = argv.slice();
      const file = configFlag(args);
      if (typeof file !== 'string') return usage(file.error);
      if (args.length) return usage(leftover(args, ['--config', '--help', '--version']));
      return runProxy(file, err);
    }
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; if (code !== 0 || process.argv[2] !== undefined) setImmediate(() => process.exit(code)); else process.exit(code); },
  (e) => { err(`gatehouse: ${(e as Error).stack ?? e}`); process.exit(1); });
