/** Load generation for e2e balancing tests: many requests through one keep-alive agent, counted by answer. */
import { Agent, request } from 'undici';

export interface Shot { status: number; body: string; headers: Record<string, string | string[] | undefined>; error?: string }

/** A keep-alive client with enough connections for the concurrency used here. */
export function loadAgent(connections = 64): Agent {
  return new Agent({ connections, keepAliveTimeout: 10_000, pipelining: 1 });
}

/** One request; transport errors come back as status 0 with `error`, never thrown. */
export async function shoot(agent: Agent, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Shot> {
  try {
    const r = await request(url, { dispatcher: agent, method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body });
    return { status: r.statusCode, body: await r.body.text(), headers: r.headers };
  } catch (e) {
    return { status: 0, body: '', headers: {}, error: (e as { code?: string }).code ?? (e as Error).message };
  }
}

/** Runs `total` calls of `one(i)` with at most `concurrency` at once; results in call order. */
export async function runLoad<T>(total: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      results[i] = await one(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return results;
}

/** How many times each value occurs. */
export function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Longest run of `value` in a row. */
export function longestRun(values: readonly string[], value: string): number {
  let best = 0;
  let run = 0;
  for (const v of values) { run = v === value ? run + 1 : 0; best = Math.max(best, run); }
  return best;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `ms` pass; returns whether it did. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, every = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(every);
  }
  return check();
}
