import type { HeaderMap } from '../../../src/cache/headers.js';
import { isStorable } from '../../../src/cache/storability.js';
import { createStoredResponse, type StoredResponse } from '../../../src/cache/stored-response.js';

export const T0 = Date.UTC(2024, 0, 10, 12, 0, 0);

/** A stored response built the way the cache stage will: isStorable, then createStoredResponse. */
export function stored(resHeaders: HeaderMap, opts: { body?: string | Buffer[]; status?: number; reqHeaders?: HeaderMap;
  url?: string; requestTime?: number; responseTime?: number } = {}): StoredResponse {
  const status = opts.status ?? 200;
  const reqHeaders = opts.reqHeaders ?? {};
  const v = isStorable('GET', reqHeaders, status, resHeaders);
  const body = typeof opts.body === 'string' || opts.body === undefined ? [Buffer.from(opts.body ?? 'hello')] : opts.body;
  return createStoredResponse({
    key: `GET ${opts.url ?? 'http://h/a'}`, status, reqHeaders, resHeaders, body,
    requestTime: opts.requestTime ?? T0, responseTime: opts.responseTime ?? T0, strip: v.ok ? v.strip : [],
  });
}

/** Flat header list to a map of name -> values. */
export function listToMap(list: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < list.length; i += 2) (out[list[i]!] ??= []).push(list[i + 1]!);
  return out;
}
