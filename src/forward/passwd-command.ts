/**
 * `gatehouse passwd FILE USER [--password-stdin]`: adds USER to an htpasswd file, or changes their
 * password, with a bcrypt hash (what `htpasswd -B` writes), so no Apache tools are needed. The password
 * is read from the terminal without echo (asked twice), or as the first line of stdin.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import bcrypt from 'bcryptjs';

/** bcrypt's cost: 2^10 rounds, ~50–100 ms here; successful checks are cached by the proxy (htpasswd.ts). */
const BCRYPT_COST = 10;

const PASSWD_USAGE = 'Usage: gatehouse passwd FILE USER [--password-stdin]';

class UsageError extends Error {}

/** Asks each question on the terminal and reads the answers without showing what is typed. */
async function promptHidden(questions: string[]): Promise<string[]> {
  const muted = new Writable({ write: (_c, _e, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  const answers: string[] = [];
  try {
    for (const question of questions) {
      process.stderr.write(question);
      answers.push(await new Promise<string>((resolve, reject) => {
        const cancel = () => reject(new Error('cancelled'));
        rl.once('SIGINT', cancel);
        rl.once('close', cancel);
        rl.once('line', (line) => { rl.off('SIGINT', cancel); rl.off('close', cancel); resolve(line); });
      }));
      process.stderr.write('\n');
    }
    return answers;
  } finally {
    rl.close();
  }
}

async function firstLineOfStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += chunk;
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0]!;
}

async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) return firstLineOfStdin();
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask for the password on; pipe it in with --password-stdin');
  const [first, again] = await promptHidden(['New password: ', 'Re-type new password: ']);
  if (first !== again) throw new Error('the passwords do not match');
  return first!;
}

/** The file's lines with USER's entry set to `hash` (replaced in place, or appended). */
function withUser(text: string, user: string, hash: string): { text: string; added: boolean } {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const at = lines.findIndex((l) => l.slice(0, l.indexOf(':')) === user && l.includes(':'));
  if (at === -1) lines.push(`${user}:${hash}`);
  else lines[at] = `${user}:${hash}`;
  return { text: `${lines.join('\n')}\n`, added: at === -1 };
}

export async function runPasswdCommand(argv: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const fromStdin = argv.includes('--password-stdin');
  const args = argv.filter((a) => a !== '--password-stdin');
  try {
    const unknown = args.find((a) => a.startsWith('-'));
    if (unknown) throw new UsageError(`unknown option ${unknown}`);
    if (args.length !== 2) throw new UsageError('needs FILE and USER');
    const [file, user] = args as [string, string];
    if (user === '' || /[:\s]/.test(user)) throw new UsageError(`USER must not be empty or contain ":" or spaces, got ${JSON.stringify(user)}`);
    const password = await readPassword(fromStdin);
    if (password === '') throw new Error('empty password refused');
    const hash = await bcrypt.hash(password, BCRYPT_COST);
    const exists = existsSync(file);
    const { text, added } = withUser(exists ? readFileSync(file, 'utf8') : '', user, hash);
    // Written beside and renamed over, so the proxy (which watches the file) never reads half of it.
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, text, { mode: exists ? statSync(file).mode & 0o777 : 0o600 });
    renameSync(temp, file);
    out(`${added ? 'added' : 'updated'} ${user} in ${file} (bcrypt)`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) { err(`gatehouse passwd: ${e.message}\n${PASSWD_USAGE}`); return 2; }
    err(`gatehouse passwd: ${(e as Error).message}`);
    return 1;
  }
}
