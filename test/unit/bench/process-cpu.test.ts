import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { cpuSecondsBetween, readCpu, type CpuReading } from '../../../bench/process-cpu.js';

describe('bench: process CPU readings', () => {
  it('reads a busy process in nanoseconds, agreeing with the kernel ticks', async () => {
    // a child that spins until it is killed, so both readings see it alive however slow the machine is
    const child = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const a = readCpu(child.pid!);
      await new Promise((r) => setTimeout(r, 800));
      const b = readCpu(child.pid!);
      expect(a.threads, 'per-thread run times').to.not.equal(null);
      const precise = cpuSecondsBetween(a, b);
      expect(precise).to.be.greaterThan(0.05);
      expect(precise).to.be.lessThan(1.5);
      // ticks are 10 ms: the two clocks agree within a few of them
      expect(Math.abs(precise - (b.ticks - a.ticks))).to.be.lessThan(0.035);
      // the per-thread readings themselves are finer than a tick (the difference falls back to ticks
      // when a thread of the child started or ended between the readings)
      expect([...b.threads!.values()].some((s) => Math.round(s * 1e9) % 1e7 !== 0), 'finer than a tick').to.equal(true);
    } finally {
      child.kill();
      await once(child, 'exit');
    }
  });

  it('falls back to the ticks when a thread ended between the readings', () => {
    const a: CpuReading = { ticks: 1.0, threads: new Map([['1', 0.5], ['2', 0.3]]) };
    const ended: CpuReading = { ticks: 1.5, threads: new Map([['1', 0.6]]) };
    const replaced: CpuReading = { ticks: 1.5, threads: new Map([['1', 0.6], ['3', 0.01]]) };
    expect(cpuSecondsBetween(a, ended)).to.equal(0.5);
    expect(cpuSecondsBetween(a, replaced)).to.equal(0.5);
    const same: CpuReading = { ticks: 1.5, threads: new Map([['1', 0.75], ['2', 0.35]]) };
    expect(cpuSecondsBetween(a, same)).to.be.closeTo(0.3, 1e-9);
  });
});
