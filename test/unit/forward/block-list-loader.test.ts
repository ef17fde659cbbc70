import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBlockMatcher, describeBlockEntry, loadBlockList, parseBlockList, type BlockEntry } from '../../../src/forward/block-list-loader.js';
import { DomainTrie } from '../../../src/forward/domain-trie.js';

describe('forward/block-list-loader', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'gh-blocklist-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads domains, wildcards, comments, hosts-file and Adblock lines', () => {
    const trie = new DomainTrie<BlockEntry>();
    const text = [
      '# a comment', '', 'ads.example', '*.tracker.example  # trailing comment', '.whole.example', '0.0.0.0 hosts1.example hosts2.example',
      '127.0.0.1 localhost', '::1 ip6-localhost', '||adblock.example^', '! adblock comment', '[Adblock Plus 2.0]', 'UPPER.Example.',
      'not valid line', '||bad.example^$third-party', 'bad..name',
    ].join('\r\n');
    const r = parseBlockList(text, 'list.txt', trie);
    expect(r.added).to.equal(7);
    expect(r.invalid).to.equal(3);
    expect(r.warnings[0]).to.match(/^list\.txt:13: /);
    for (const h of ['ads.example', 'x.tracker.example', 'whole.example', 'a.whole.example', 'hosts1.example', 'hosts2.example', 'adblock.example', 'sub.adblock.example', 'upper.example']) {
      expect(trie.match(h), h).to.not.equal(undefined);
    }
    for (const h of ['tracker.example', 'localhost', 'www.ads.example']) expect(trie.match(h), h).to.equal(undefined);
    const m = trie.match('x.tracker.example')!;
    expect(m.value).to.deep.equal({ source: 'list.txt', line: 4 });
    expect(describeBlockEntry(m.pattern, m.value)).to.equal('block_lists:list.txt:4 (*.tracker.example)');
  });

  it('builds one matcher from block_domains and block_lists, reporting problems as key: message', async () => {
    const file = join(dir, 'small.txt');
    await writeFile(file, 'listed.example\nbroken line here\n');
    const m = await buildBlockMatcher({ blockDomains: ['*.cfg.example', 'bad domain'], blockLists: [file, join(dir, 'missing.txt')] });
    expect(m.errors).to.have.length(2);
    expect(m.errors[0]).to.match(/^forward\.block_domains\[1\]: /);
    expect(m.errors[1]).to.match(/^forward\.block_lists\[1\]: cannot read .*ENOENT/);
    expect(m.warnings).to.have.length(1);
    expect(m.trie.match('a.cfg.example')?.value).to.deep.equal({ source: 'block_domains[0]' });
    expect(m.trie.match('listed.example')?.value).to.deep.equal({ source: file, line: 1 });
  });

  it('loads a 200 000-entry list and matches names in it', async () => {
    const file = join(dir, 'big.txt');
    const tlds = ['com', 'net', 'org', 'io', 'de', 'co.uk'];
    const lines = ['# generated'];
    for (let i = 0; i < 200_000; i++) {
      const name = `host${i.toString(36)}.domain${((i * 7919) % 50_000).toString(36)}.${tlds[i % tlds.length]}`;
      lines.push(i % 3 === 0 ? `*.${name}` : i % 3 === 1 ? `0.0.0.0 ${name}` : name);
    }
    await writeFile(file, lines.join('\n'));
    const trie = new DomainTrie<BlockEntry>();
    const r = await loadBlockList(file, trie);
    expect(r.added).to.equal(200_000);
    expect(r.invalid).to.equal(0);
    const probes = 200_000;
    let hits = 0;
    for (let i = 0; i < probes; i++) {
      if (trie.match(`www.host${i.toString(36)}.domain${((i * 7919) % 50_000).toString(36)}.${tlds[i % tlds.length]}`)) hits++;
    }
    expect(hits).to.equal(Math.ceil(probes / 3)); // only the *.wildcard third matches a www. name
  });
});
