/**
 * CPU time a process has used, read from /proc (Linux). /proc/PID/stat counts in 10 ms ticks: over
 * a 2 s slice at 3000 req/s one tick is 1.7 µs per request, as much as the differences the bench
 * looks for. Each thread's /proc/PID/task/TID/sched has its run time in nanoseconds, so a reading
 * sums those; a thread that ended between two readings takes its time with it, and then the
 * difference falls back to the ticks (which count ended threads too).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface CpuReading {
  /** user + system seconds, in ticks' resolution (counts ended threads) */
  ticks: number;
  /** run seconds per live thread, ns resolution; null where the kernel does not expose them */
  threads: Map<string, number> | null;
}

function tickSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function threadSeconds(pid: number): Map<string, number> | null {
  try {
    const out = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const m = /se\.sum_exec_runtime\s*:\s*([\d.]+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8'));
      if (!m) return null;
      out.set(tid, Number(m[1]) / 1000); // milliseconds → seconds
    }
    return out;
  } catch {
    return null; // no sched file (kernel without CONFIG_SCHED_DEBUG), or a thread ended mid-read
  }
}

/** The process and its descendants (plugins run in child processes of the proxy). */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(name));
      parents.set(ppid, list);
    } catch { /* ended while listed */ }
  }
  const out: number[] = [];
  const walk = (p: number) => { out.push(p); for (const c of parents.get(p) ?? []) walk(c); };
  walk(pid);
  return out;
}

/** The CPU of `pid` and every process below it (`tree: false`: of `pid` alone). */
export function readCpu(pid: number, opts: { tree?: boolean } = {}): CpuReading {
  let threads: Map<string, number> | null = new Map();
  let ticks = 0;
  for (const p of opts.tree === false ? [pid] : processTree(pid)) {
    try {
      ticks += tickSeconds(p);
      const t = threadSeconds(p);
      if (t === null || threads === null) threads = null;
      else for (const [tid, sec] of t) threads.set(tid, sec);
    } catch { /* ended while read */ }
  }
  return { threads, ticks };
}

/** CPU seconds used between two readings of the same process tree. */
export function cpuSecondsBetween(a: CpuReading, b: CpuReading): number {
  if (a.threads && b.threads && a.threads.size === b.threads.size) {
    let sum = 0;
    for (const [tid, s] of b.threads) {
      const before = a.threads.get(tid);
      if (before === undefined) return b.ticks - a.ticks; // a thread ended and another started
      sum += s - before;
    }
    return sum;
  }
  return b.ticks - a.ticks;
}
