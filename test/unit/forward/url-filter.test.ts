import { expect } from 'chai';
import { compileUrlFilter, type UrlFilter } from '../../../src/forward/url-filter.js';
import { normalisePath } from '../../../src/core/path.js';

function filter(cfg: unknown): UrlFilter {
  const r = compileUrlFilter(cfg);
  if (!r.filter) throw new Error(r.errors.join('\n'));
  return r.filter;
}

describe('forward/url-filter', () => {
  const f = filter([
    '/ads/*',
    { name: 'executables', glob: '*.exe' },
    { glob: '*.tracker.test/pixel?' },
    { name: 'no-login', urlpath_regex: '^/login\\b', flags: 'i' },
    { name: 'plain-http-admin', url_regex: '^http://[^/]+:8080/admin' },
  ]);

  it('matches path globs (whole path, * spans /, case-insensitive, query ignored)', () => {
    expect(f.match({ host: 'a.test', path: '/ads/banner.png' })).to.deep.equal({ rule: 'url_patterns[0]' });
    expect(f.match({ host: 'a.test', path: '/ads/x/y?z=1' })).to.deep.equal({ rule: 'url_patterns[0]' });
    expect(f.match({ host: 'a.test', path: '/ADS/x' })).to.deep.equal({ rule: 'url_patterns[0]' });
    expect(f.match({ host: 'a.test', path: '/ads' })).to.equal(undefined);
    expect(f.match({ host: 'a.test', path: '/x/ads/y' })).to.equal(undefined);
    expect(f.match({ host: 'a.test', path: '/dl/setup.EXE' })).to.deep.equal({ rule: 'executables' });
    expect(f.match({ host: 'a.test', path: '/dl/setup.exe.txt' })).to.equal(undefined);
  });

  it('normalises paths so encodings and dot segments do not evade a pattern', () => {
    for (const path of ['/%61ds/x', '/x/../ads/x', '/./ads/x', '/%2e%2e/ads/x', '\\ads\\x']) {
      expect(f.match({ host: 'a.test', path }), path).to.deep.equal({ rule: 'url_patterns[0]' });
    }
    expect(normalisePath('/a/%2Fb/%7e%41', { mergeSlashes: true, escapedSlashes: 'keep' })).to.equal('/a/%2Fb/~A');
  });

  it('matches host/path globs and regexes over path+query or the full URL', () => {
    expect(f.match({ host: 'x.tracker.test', path: '/pixel1' })).to.deep.equal({ rule: 'url_patterns[2]' });
    expect(f.match({ host: 'tracker.test', path: '/pixel1' })).to.equal(undefined);
    expect(f.match({ host: 'a.test', path: '/LOGIN?next=/' })).to.deep.equal({ rule: 'no-login' });
    expect(f.match({ host: 'a.test', path: '/loginx' })).to.equal(undefined);
    expect(f.match({ host: 'a.test', port: 8080, path: '/admin/x' })).to.deep.equal({ rule: 'plain-http-admin' });
    expect(f.match({ host: 'a.test', port: 80, path: '/admin/x' })).to.equal(undefined);
    expect(f.match({ host: 'a.test', path: '/fine' })).to.equal(undefined);
  });

  it('reports compile problems as key: message', () => {
    const r = compileUrlFilter(['', { url_regex: '(' }, { glob: '/a', url_regex: 'b' }, { urlpath_regex: 'x', flags: 'g' }, { glob: '/a', flags: 'i' }, 5, { glob: '/a', extra: 1 }], 'forward[0].url_patterns');
    expect(r.errors).to.have.length(7);
    expect(r.errors![1]).to.match(/^forward\[0\]\.url_patterns\[1\]\.url_regex: invalid regular expression/);
    expect(compileUrlFilter(undefined).filter?.size).to.equal(0);
  });
});
