import { expect } from 'chai';
import { isDenied, resolveAndCheck, SsrfGuard, validateAllowDestinations, type LookupAll, type SsrfVerdict } from '../../../src/forward/ssrf-guard.js';
import { normalizeHost, splitHostPort } from '../../../src/core/host.js';
import { classifyAddress, embeddedIPv4 } from '../../../src/forward/ssrf-ranges.js';

const PUBLIC_V4 = '93.184.215.14';
const PUBLIC_V6 = '2606:2800:21f:cb07:6820:80da:af6b:8b2c';

/** Resolver stub: answers from a table and counts calls. */
function stubLookup(table: Record<string, string[] | (() => string[])>) {
  const calls: string[] = [];
  const lookup: LookupAll = async (name) => {
    calls.push(name);
    const entry = table[name];
    if (!entry) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    const addrs = typeof entry === 'function' ? entry() : entry;
    return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { lookup, calls };
}

function expectDenied(v: SsrfVerdict, code = 'destination_ip_prohibited'): void {
  expect(isDenied(v), JSON.stringify(v)).to.equal(true);
  if (isDenied(v)) expect(v.code).to.equal(code);
}

describe('core/host', () => {
  const cases: [string, string, string][] = [
    ['2130706433', '127.0.0.1', 'ipv4'],
    ['0x7f.1', '127.0.0.1', 'ipv4'],
    ['0x7f000001', '127.0.0.1', 'ipv4'],
    ['0177.0.0.1', '127.0.0.1', 'ipv4'],
    ['127.1', '127.0.0.1', 'ipv4'],
    ['127.0.0.1.', '127.0.0.1', 'ipv4'],
    ['0', '0.0.0.0', 'ipv4'],
    ['[::ffff:a9fe:a9fe]', '::ffff:a9fe:a9fe', 'ipv6'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1', 'ipv6'],
    ['[0:0:0:0:0:0:0:1]', '::1', 'ipv6'],
    ['::1', '::1', 'ipv6'],
    ['Example.COM.', 'example.com', 'name'],
    ['bücher.de', 'xn--bcher-kva.de', 'name'],
  ];
  for (const [raw, host, kind] of cases) {
    it(`normalises ${raw} to ${host}`, () => expect(normalizeHost(raw)).to.deep.equal({ host, kind }));
  }
  for (const bad of ['', 'evil.com@127.0.0.1', 'a/b', 'a b', '999.1.1.1', '1.2.3.4.5', 'a..b', '[fe80::1%25eth0]', 'a%2eb', 'a*b.com', 'foo.123', '[1.2.3.4]', 'host:80']) {
    it(`rejects ${JSON.stringify(bad)}`, () => expect(normalizeHost(bad)).to.equal(undefined));
  }
  it('splits CONNECT authorities', () => {
    expect(splitHostPort('example.com:443')).to.deep.equal({ host: 'example.com', port: 443 });
    expect(splitHostPort('[::1]:8443')).to.deep.equal({ host: '[::1]', port: 8443 });
    for (const bad of ['example.com', 'example.com:0', 'example.com:65536', '::1:443', '[::1]443', 'a:b']) expect(splitHostPort(bad), bad).to.equal(undefined);
  });
});

describe('forward/ssrf-ranges', () => {
  it('classifies refused and public addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
      '255.255.255.255', '240.0.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '64:ff9b::10.0.0.1', '2002:c0a8:101::1']) {
      expect(classifyAddress(a), a).to.be.a('string');
    }
    for (const a of [PUBLIC_V4, '8.8.8.8', PUBLIC_V6, '::ffff:8.8.8.8', '64:ff9b::8.8.8.8']) expect(classifyAddress(a), a).to.equal(undefined);
    expect(classifyAddress('169.254.169.254')).to.match(/link-local/);
  });
  it('extracts embedded IPv4', () => {
    expect(embeddedIPv4('::ffff:a9fe:a9fe')).to.equal('169.254.169.254');
    expect(embeddedIPv4('0:0:0:0:0:ffff:7f00:1')).to.equal('127.0.0.1');
    expect(embeddedIPv4('2002:7f00:1::')).to.equal('127.0.0.1');
    expect(embeddedIPv4(PUBLIC_V6)).to.equal(undefined);
  });
});

describe('forward/ssrf-guard', () => {
  const guard = new SsrfGuard({ lookup: stubLookup({}).lookup });

  for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '0x7f000001', '0177.0.0.1', '127.1', '127.0.0.1.', '0', '0.0.0.0', '[::1]', '::1', '[::]',
    '[::ffff:a9fe:a9fe]', '[::ffff:127.0.0.1]', '[0:0:0:0:0:ffff:7f00:1]', '169.254.169.254', '10.0.0.1', '172.31.255.255', '192.168.0.1',
    '100.64.0.1', '[fe80::1]', '[fc00::1]', '[fd00::1]', '[64:ff9b::7f00:1]', '224.0.0.1', '255.255.255.255']) {
    it(`refuses ${host}`, async () => expectDenied(await guard.resolveAndCheck(host, 80)));
  }

  it('answers 400 for an invalid host or port', async () => {
    expectDenied(await guard.resolveAndCheck('evil.com@127.0.0.1', 80), 'http_request_error');
    expectDenied(await guard.resolveAndCheck('example.com', 0), 'http_request_error');
  });

  it('allows a public literal and returns the address to dial', async () => {
    expect(await guard.resolveAndCheck(PUBLIC_V4, 443)).to.deep.include({ address: PUBLIC_V4, family: 4 });
    expect(await guard.resolveAndCheck(`[${PUBLIC_V6}]`, 443)).to.deep.include({ address: PUBLIC_V6, family: 6 });
    // IPv4-mapped public address is dialled as plain IPv4.
    expect(await guard.resolveAndCheck('[::ffff:8.8.8.8]', 443)).to.deep.include({ address: '8.8.8.8', family: 4 });
  });

  it('resolves names once and refuses when any address is private', async () => {
    const { lookup, calls } = stubLookup({ 'good.test': [PUBLIC_V4, PUBLIC_V6], 'mixed.test': [PUBLIC_V4, '127.0.0.1'], 'mapped.test': ['::ffff:169.254.169.254'] });
    const g = new SsrfGuard({ lookup });
    const ok = await g.resolveAndCheck('GOOD.test.', 443);
    expect(ok).to.deep.include({ address: PUBLIC_V4, family: 4, host: 'good.test' });
    expect(!isDenied(ok) && ok.addresses.map((a) => a.address)).to.deep.equal([PUBLIC_V4, PUBLIC_V6]);
    expectDenied(await g.resolveAndCheck('mixed.test', 443));
    const mapped = await g.resolveAndCheck('mapped.test', 443);
    expectDenied(mapped);
    expect(isDenied(mapped) && mapped.denied).to.match(/169\.254\.169\.254.*mapped\.test/);
    expect(calls).to.deep.equal(['good.test', 'mixed.test', 'mapped.test']);
  });

  it('DNS rebinding: the checked answer is the dialled address; a rebound answer is refused', async () => {
    let n = 0;
    const { lookup, calls } = stubLookup({ 'rebind.test': () => (n++ === 0 ? [PUBLIC_V4] : ['127.0.0.1']) });
    const g = new SsrfGuard({ lookup });
    const first = await g.resolveAndCheck('rebind.test', 80);
    // The caller connects to first.address; it never resolves the name again.
    expect(first).to.deep.include({ address: PUBLIC_V4 });
    expect(calls).to.have.length(1);
    const second = await g.resolveAndCheck('rebind.test', 80);
    expectDenied(second);
    expect(calls).to.have.length(2);
  });

  it('maps resolver failures and timeouts', async () => {
    const g = new SsrfGuard({ lookup: stubLookup({ 'empty.test': [], 'junk.test': ['not-an-ip'] }).lookup });
    expectDenied(await g.resolveAndCheck('missing.test', 80), 'dns_error');
    expectDenied(await g.resolveAndCheck('empty.test', 80), 'dns_error');
    expectDenied(await g.resolveAndCheck('junk.test', 80), 'dns_error');
    const slow = new SsrfGuard({ lookup: () => new Promise(() => {}), lookupTimeoutMs: 20 });
    expectDenied(await slow.resolveAndCheck('slow.test', 80), 'dns_timeout');
  });

  it('allow_private_destinations turns the range check off', async () => {
    const g = new SsrfGuard({ allowPrivateDestinations: true, lookup: stubLookup({ 'lo.test': ['127.0.0.1'] }).lookup });
    expect(await g.resolveAndCheck('0x7f.1', 8080)).to.deep.include({ address: '127.0.0.1' });
    expect(await g.resolveAndCheck('lo.test', 8080)).to.deep.include({ address: '127.0.0.1' });
  });

  it('allow_destinations exempts CIDRs, host:port and names, nothing more', async () => {
    const { lookup } = stubLookup({ 'intranet.corp': ['10.1.2.3'], 'app.corp.example': ['10.9.9.9'], 'other.corp': ['10.1.2.4'] });
    const g = new SsrfGuard({
      lookup,
      allowDestinations: ['127.0.0.1:9001', '192.168.10.0/24', '[::1]:8080', 'intranet.corp:8443', '*.corp.example', '10.0.0.0/8:443'],
    });
    expect(await g.resolveAndCheck('127.0.0.1', 9001)).to.deep.include({ address: '127.0.0.1' });
    expect(await g.resolveAndCheck('2130706433', 9001)).to.deep.include({ address: '127.0.0.1' });
    expectDenied(await g.resolveAndCheck('127.0.0.1', 9002));
    expect(await g.resolveAndCheck('192.168.10.77', 22)).to.deep.include({ address: '192.168.10.77' });
    expectDenied(await g.resolveAndCheck('192.168.11.1', 22));
    expect(await g.resolveAndCheck('[::1]', 8080)).to.deep.include({ address: '::1' });
    expectDenied(await g.resolveAndCheck('[::1]', 8081));
    expect(await g.resolveAndCheck('intranet.corp', 8443)).to.deep.include({ address: '10.1.2.3' });
    expectDenied(await g.resolveAndCheck('intranet.corp', 80));
    expect(await g.resolveAndCheck('app.corp.example', 80)).to.deep.include({ address: '10.9.9.9' });
    expect(await g.resolveAndCheck('other.corp', 443)).to.deep.include({ address: '10.1.2.4' });
    expectDenied(await g.resolveAndCheck('other.corp', 80));
    expectDenied(await g.resolveAndCheck('169.254.169.254', 80));
  });

  it('validates allow_destinations as key: message', () => {
    expect(validateAllowDestinations(['10.0.0.0/8', 'ok.example:80', '[fd00::]:443', 'fd00::/8'])).to.deep.equal([]);
    const errs = validateAllowDestinations(['10.0.0.0/33', 'host:99999', 'bad host', '[::1', '1.2.3.4/x']);
    expect(errs).to.have.length(5);
    expect(errs[0]).to.match(/^allow_destinations\[0\]: /);
    expect(() => new SsrfGuard({ allowDestinations: ['10.0.0.0/33'] })).to.throw(/allow_destinations\[0\]/);
  });

  it('offers a one-shot resolveAndCheck(host, port, opts)', async () => {
    expectDenied(await resolveAndCheck('0177.0.0.1', 80, {}));
    expect(await resolveAndCheck('127.0.0.1', 80, { allowDestinations: ['127.0.0.1'] })).to.deep.include({ address: '127.0.0.1', family: 4 });
  });
});
