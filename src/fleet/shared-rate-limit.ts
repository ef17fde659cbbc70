/**
 * Fleet-wide token buckets: one per key in Redis, taken from by a Lua script so a check-and-take is one
 * atomic round trip. The clock is Redis's (TIME), so instances with skewed clocks agree on refills.
 */
import type { SharedState } from './shared-state.js';

// KEYS[1] bucket; ARGV[1] rate per second; ARGV[2] burst. Returns 1 when a token was taken, else 0.
const TAKE_TOKEN = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local taken = 0
if tokens >= 1 then tokens = tokens - 1; taken = 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return taken
`;

export class SharedRateLimiter {
  #sha?: string;

  constructor(private readonly shared: SharedState) {}

  /** true: a token was taken; false: the bucket is empty; undefined: Redis did not answer in time (decide locally). */
  async take(key: string, rate: number, burst = rate): Promise<boolean | undefined> {
    const k = `${this.shared.prefix}rl:${key}`;
    const args = [String(rate), String(burst)];
    const reply = await this.shared.run('rate_limit', async (c) => {
      if (this.#sha) {
        try {
          return await c.evalSha(this.#sha, { keys: [k], arguments: args });
        } catch (e) {
          // scripts are gone after a Redis restart: load it again below
          if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
        }
      }
      this.#sha = await c.scriptLoad(TAKE_TOKEN);
      return c.evalSha(this.#sha, { keys: [k], arguments: args });
    });
    return reply === undefined ? undefined : reply === 1;
  }
}
