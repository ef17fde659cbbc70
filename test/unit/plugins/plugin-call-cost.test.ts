import { expect } from 'chai';
import { Plugin } from '../../../src/plugins/plugin.js';
import { requestViewFrom } from '../../../src/plugins/request-view.js';

// Measures, does not assert timing: prints µs per onRequest call (wall and process CPU).
describe('plugins: per-call cost (printed, not asserted)', () => {
  it('measures an onRequest pass-through and a header-setting hook', () => {
    const req = requestViewFrom({ url: 'http://www.example.com/some/path?x=1', headers: {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', accept: 'text/html,application/xhtml+xml',
      'accept-encoding': 'gzip, br', 'accept-language': 'en-US,en;q=0.9', cookie: 'a=b; c=d' } });
    for (const file of ['plugins/examples/block-by-pattern.js', 'plugins/examples/security-headers.js']) {
      const p = Plugin.load({ name: file, file, config: { paths: ['^/admin'] }, watchdogIntervalMs: 0 });
      try {
        for (let i = 0; i < 20_000; i++) p.onRequest(req);
        const n = 50_000;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < n; i++) p.onRequest(req);
        const wall = ((performance.now() - t0) * 1000) / n;
        const cpu = process.cpuUsage(c0);
        console.log(`      ${file}: ${wall.toFixed(1)} µs/call wall, ${((cpu.user + cpu.system) / n).toFixed(1)} µs/call CPU`);
        expect(p.stats().errors, JSON.stringify(p.stats().lastError)).to.be.at.most(1);
      } finally {
        p.close();
      }
    }
  });
});
