/** CPU seconds (user + system) a process has used, from /proc/PID/stat (Linux; 10 ms ticks). */
import { readFileSync } from 'node:fs';

export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}
