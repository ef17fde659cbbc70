import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { encrypt as shaCrypt } from 'unixcrypt';
import { basicChallenge, parseBasicAuth } from '../../../src/forward/basic-auth.js';
import { HtgroupFile, parseHtgroup } from '../../../src/forward/htgroup.js';
import { HtpasswdFile, parseHtpasswd } from '../../../src/forward/htpasswd.js';

const aprMd5 = createRequire(import.meta.url)('apache-md5') as (password: string, salt?: string) => string;

function memoryLog() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('forward/htpasswd', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'gh-htpasswd-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('parses user:hash lines, comments, CRLF, extra fields, duplicates', () => {
    const r = parseHtpasswd('# c\r\nalice:{SHA}x=\r\n\r\nbob:$apr1$a$b:extra field\nalice:other\nnocolon\n:nohash\n', 'f');
    expect([...r.users]).to.deep.equal([['alice', '{SHA}x='], ['bob', '$apr1$a$b']]);
    expect(r.warnings).to.have.length(3);
    expect(r.warnings[0]).to.match(/^f:5: duplicate user/);
  });

  it('verifies users of every format in one file', async () => {
    const file = join(dir, 'users');
    await writeFile(file, [
      `bcrypt:${bcrypt.hashSync('pw-bcrypt', 4).replace(/^\$2b\$/, '$2y$')}`,
      `apr1:${aprMd5('pw-apr1')}`,
      `sha1:{SHA}${createHash('sha1').update('pw-sha1').digest('base64')}`,
      `sha256:${shaCrypt('pw-sha256', '$5$salt1234')}`,
      `sha512:${shaCrypt('pw-sha512', '$6$salt1234')}`,
      'apache:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/',
      'des:rqXexS6ZhobKA',
      'plain:secret',
    ].join('\n'));
    const { lines, log } = memoryLog();
    const users = await HtpasswdFile.open(file, { log, watch: false, desCrypt: null });
    try {
      expect(users.size).to.equal(8);
      for (const u of ['bcrypt', 'apr1', 'sha1', 'sha256', 'sha512']) {
        expect(await users.verify(u, `pw-${u}`), u).to.deep.equal({ ok: true, cached: false });
        expect(await users.verify(u, 'nope'), u).to.deep.equal({ ok: false, reason: 'bad_password' });
      }
      expect(await users.verify('apache', 'myPassword')).to.deep.include({ ok: true });
      expect(await users.verify('ghost', 'x')).to.deep.equal({ ok: false, reason: 'unknown_user' });
      expect(await users.verify('des', 'myPassword')).to.deep.equal({ ok: false, reason: 'unsupported_hash' });
      expect(await users.verify('plain', 'secret')).to.deep.equal({ ok: false, reason: 'unsupported_hash' });
      const warned = lines.filter((l) => l.level === 'warn').map((l) => (l.obj as { user?: string }).user);
      expect(warned).to.include.members(['plain', 'des']);
      expect(JSON.stringify(lines)).to.not.include('myPassword');
    } finally {
      users.close();
    }
  });

  it('caches successful checks for the TTL only, never failures', async () => {
    const file = join(dir, 'users');
    await writeFile(file, `carol:${bcrypt.hashSync('s3cret', 6)}\n`);
    let now = 1_000;
    const users = await HtpasswdFile.open(file, { watch: false, cacheTtlMs: 60_000, now: () => now });
    try {
      expect(await users.verify('carol', 's3cret')).to.deep.equal({ ok: true, cached: false });
      expect(await users.verify('carol', 's3cret')).to.deep.equal({ ok: true, cached: true }); // no bcrypt on the cached path
      expect(await users.verify('carol', 'S3cret')).to.deep.equal({ ok: false, reason: 'bad_password' });
      now += 61_000;
      expect(await users.verify('carol', 's3cret')).to.deep.equal({ ok: true, cached: false });
    } finally {
      users.close();
    }
  });

  it('answers concurrent identical checks (they share one computation)', async () => {
    const file = join(dir, 'users');
    await writeFile(file, `dave:${bcrypt.hashSync('pw', 6)}\n`);
    const users = await HtpasswdFile.open(file, { watch: false });
    try {
      const results = await Promise.all(Array.from({ length: 5 }, () => users.verify('dave', 'pw')));
      expect(results.every((r) => r.ok)).to.equal(true);
    } finally {
      users.close();
    }
  });

  it('re-reads the file on change (explicit reload and fs.watch), dropping cached logins', async () => {
    const file = join(dir, 'users');
    await writeFile(file, `erin:${aprMd5('old')}\n`);
    const users = await HtpasswdFile.open(file, { watch: true });
    try {
      expect((await users.verify('erin', 'old')).ok).to.equal(true);
      await writeFile(file, `erin:${aprMd5('new-password')}\nfrank:{SHA}${createHash('sha1').update('f').digest('base64')}\n`);
      await until(async () => (await users.verify('erin', 'new-password')).ok);
      expect((await users.verify('erin', 'old')).ok).to.equal(false);
      expect((await users.verify('frank', 'f')).ok).to.equal(true);
      // htpasswd-style atomic replace (write temp, rename over).
      await writeFile(join(dir, 'users.tmp'), `gina:${aprMd5('g')}\n`);
      await rename(join(dir, 'users.tmp'), file);
      await until(() => users.has('gina'));
      expect(users.has('erin')).to.equal(false);
      expect(await users.reload()).to.equal(false); // unchanged since
    } finally {
      users.close();
    }
  });

  it('keeps serving the old users when the file vanishes', async () => {
    const file = join(dir, 'users');
    await writeFile(file, `hank:${aprMd5('h')}\n`);
    const { lines, log } = memoryLog();
    const users = await HtpasswdFile.open(file, { watch: false, log });
    try {
      await rm(file);
      expect(await users.reload()).to.equal(false);
      expect((await users.verify('hank', 'h')).ok).to.equal(true);
      expect(lines.some((l) => l.level === 'error')).to.equal(true);
    } finally {
      users.close();
    }
  });

  it('rejects a missing file at open', async () => {
    let err: unknown;
    await HtpasswdFile.open(join(dir, 'none')).catch((e: unknown) => (err = e));
    expect((err as NodeJS.ErrnoException).code).to.equal('ENOENT');
  });
});

describe('forward/htgroup', () => {
  it('parses group: members lines, groups spanning lines', () => {
    const g = parseHtgroup('# groups\nstaff: alice bob\nadmins:alice\nstaff: carol\nbad line\n', 'g');
    expect([...g.byUser.get('alice')!]).to.deep.equal(['staff', 'admins']);
    expect([...g.byUser.get('carol')!]).to.deep.equal(['staff']);
    expect(g.warnings).to.deep.equal(['g:5: expected "group: user1 user2"']);
  });

  it('answers groups of a user and follows reloads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-htgroup-'));
    const file = join(dir, 'groups');
    try {
      await writeFile(file, 'staff: alice\n');
      const groups = await HtgroupFile.open(file, { watch: false });
      expect([...groups.groupsOf('alice')]).to.deep.equal(['staff']);
      expect(groups.groupsOf('nobody').size).to.equal(0);
      await writeFile(file, 'staff: alice bob\nops: bob\n');
      expect(await groups.reload()).to.equal(true);
      expect([...groups.groupsOf('bob')]).to.deep.equal(['staff', 'ops']);
      groups.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('forward/basic-auth', () => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  it('parses Basic credentials robustly', () => {
    expect(parseBasicAuth(`Basic ${b64('alice:pa:ss')}`)).to.deep.equal({ user: 'alice', password: 'pa:ss' });
    expect(parseBasicAuth(`  bAsIc \t${b64('bob:')}  `)).to.deep.equal({ user: 'bob', password: '' });
    expect(parseBasicAuth(`Basic ${b64('jürgen:päss')}`)).to.deep.equal({ user: 'jürgen', password: 'päss' });
    expect(parseBasicAuth(`Basic ${Buffer.from('m\xfcller:x', 'latin1').toString('base64')}`)).to.deep.equal({ user: 'müller', password: 'x' });
    expect(parseBasicAuth(`Basic ${b64('carol:x').replace(/=+$/, '')}`)).to.deep.equal({ user: 'carol', password: 'x' });
  });
  it('treats anything ambiguous as no credentials', () => {
    for (const bad of [undefined, '', 'Basic', 'Bearer abc', `Basic ${b64('nocolon')}`, `Basic ${b64(':nouser')}`, 'Basic !!!', `Basic ${b64('a:b')} extra`,
      `Basic ${b64('a\nb:c')}`, `Basic ${b64('a:b\r\n')}`, `Basic ${'A'.repeat(5000)}`]) {
      expect(parseBasicAuth(bad), String(bad)).to.equal(undefined);
    }
    expect(parseBasicAuth([`Basic ${b64('a:b')}`, `Basic ${b64('c:d')}`])).to.equal(undefined);
  });
  it('builds a safely quoted challenge', () => {
    expect(basicChallenge('gatehouse')).to.equal('Basic realm="gatehouse", charset="UTF-8"');
    expect(basicChallenge('a"b\\c\r\nd')).to.equal('Basic realm="a\\"b\\\\cd", charset="UTF-8"');
  });
});
