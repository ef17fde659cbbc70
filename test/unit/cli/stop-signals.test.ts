import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** Runs `code` (TypeScript, through tsx) in a child and returns how it ended and what it printed. */
async function runChild(code: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const [exitCode, signal] = await once(child, 'exit');
  return { code: exitCode as number | null, signal: signal as string | null, out };
}

describe('cli/stop-signals', function () {
  this.timeout(40_000);

  it('a SIGTERM during start-up is kept and acted on once the stop handler is set: a clean stop, not a kill', async () => {
    const r = await runChild(`
      import { StopSignals } from './src/cli/stop-signals.ts';
      const signals = new StopSignals();
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {
        console.log('early:', signals.early);
        signals.onStop((s) => { console.log('stopping on', s); process.exit(0); });
      }, 100);
    `);
    expect(r).to.deep.equal({ code: 0, signal: null, out: 'early: SIGTERM\nstopping on SIGTERM\n' });
  });

  it('a signal after the handler is set calls it at once', async () => {
    const r = await runChild(`
      import { StopSignals } from './src/cli/stop-signals.ts';
      const signals = new StopSignals();
      signals.onStop((s) => { console.log('stopping on', s); process.exit(0); });
      process.kill(process.pid, 'SIGINT');
      setTimeout(() => process.exit(3), 15_000);
    `);
    expect(r).to.deep.equal({ code: 0, signal: null, out: 'stopping on SIGINT\n' });
  });
});
