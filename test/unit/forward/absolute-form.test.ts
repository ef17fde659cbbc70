import { expect } from 'chai';
import { hostAgrees, parseAbsoluteForm, splitAuthority } from '../../../src/forward/absolute-form.js';

describe('forward/absolute-form', () => {
  it('parses absolute-form targets into a normalised destination and an origin-form path', () => {
    const ok = (url: string) => { const r = parseAbsoluteForm(url); if (typeof r === 'string') throw new Error(r); return r; };
    expect(ok('http://Example.COM./a?b=1')).to.deep.include({ path: '/a?b=1' });
    expect(ok('http://Example.COM./a').target).to.deep.equal({ scheme: 'http', host: 'example.com', kind: 'name', port: 80, authority: 'example.com' });
    expect(ok('HTTP://2130706433:8080').target).to.include({ host: '127.0.0.1', port: 8080, authority: '127.0.0.1:8080' });
    expect(ok('http://h.test?q').path).to.equal('/?q');
    expect(ok('https://[::FFFF:a9fe:a9fe]:443/x').target).to.include({ scheme: 'https', host: '::ffff:a9fe:a9fe', authority: '[::ffff:a9fe:a9fe]' });
    expect(ok('http://[::1]:81/').target).to.include({ host: '::1', authority: '[::1]:81' });
    expect(ok('http://h.test/p#frag').path).to.equal('/p');
  });

  it('refuses origin-form, other schemes, userinfo and invalid hosts', () => {
    for (const bad of ['/path', 'ftp://h/', 'http://user@h/', 'http://h:99999/', 'http://a b/', 'http:///x', 'http://h:x/']) {
      expect(parseAbsoluteForm(bad), bad).to.be.a('string');
    }
  });

  it('checks that the Host header agrees with the target', () => {
    const t = (parseAbsoluteForm('http://h.test:8080/') as { target: Parameters<typeof hostAgrees>[1] }).target;
    expect(hostAgrees(['Host', 'h.test:8080'], t, true)).to.equal(undefined);
    expect(hostAgrees(['host', 'H.TEST.:8080'], t, true)).to.equal(undefined);
    expect(hostAgrees([], t, true)).to.equal(undefined);
    expect(hostAgrees([], t, false)).to.be.a('string');
    expect(hostAgrees(['Host', 'h.test'], t, true)).to.be.a('string');
    expect(hostAgrees(['Host', 'other.test:8080'], t, true)).to.be.a('string');
    expect(hostAgrees(['Host', 'h.test:8080', 'HOST', 'h.test:8080'], t, true)).to.equal('more than one Host header');
  });

  it('splits authorities', () => {
    expect(splitAuthority('h:1')).to.deep.equal({ host: 'h', port: 1 });
    expect(splitAuthority('[::1]')).to.deep.equal({ host: '[::1]' });
    expect(splitAuthority('[::1]x')).to.equal(undefined);
  });
});
