/** One test, run the way the suite's client runs it (its test-engine/client/test.mjs): requests in order, then checks. */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixupHeader, noBodyStatus, skipResponseHeaders } from './fixup.js';
import type { ScriptedOrigin } from './origin.js';
import { assert, setupCheck, type RequestConfig, type Result, type TestDef } from './suite-types.js';

const PAUSE_MS = 3000;
const REQUEST_TIMEOUT_MS = 10_000;

interface Seen { status: number; headers: Headers; body: string }

export async function runTest(test: TestDef, base: string, origin: ScriptedOrigin): Promise<Result> {
  const uuid = randomUUID();
  // the client's copy is mutated by fix-ups, like the suite's; the origin keeps its own
  const requests: RequestConfig[] = JSON.parse(JSON.stringify(test.requests)).map((r: RequestConfig) => ({ ...r, id: test.id, name: test.name }));
  origin.putConfig(uuid, requests);
  const responses: Seen[] = [];
  try {
    for (let i = 0; i < requests.length; i++) {
      const req = requests[i]!;
      const res = await fetchOne(base, uuid, req, i, responses[i - 1]);
      responses.push(res);
      checkResponse(uuid, req, i, res);
      if ('pause_after' in req) await sleep(PAUSE_MS);
    }
    checkServerRequests(requests, responses, origin.state(uuid).map((s) => ({ ...s, response_headers: s.response_headers.map(([n, v]) => [n, v] as [string, unknown]) })));
    return true;
  } catch (err) {
    const e = err as Error;
    return [e.name || 'unknown', e.message];
  }
}

async function fetchOne(base: string, uuid: string, req: RequestConfig, idx: number, prev?: Seen): Promise<Seen> {
  // the suite's non-browser client always sends these two (to keep fetch's own cache out of the way)
  const headers: [string, string][] = [['Pragma', 'foo'], ['Cache-Control', 'nothing-to-see-here'], ...(req.request_headers ?? [])];
  if (req.magic_ims && prev) {
    const prevHeaders = Object.fromEntries(prev.headers);
    for (let i = 0; i < headers.length; i++) {
      if (headers[i]![0].toLowerCase() === 'if-modified-since') headers[i] = fixupHeader(headers[i]!, prevHeaders, req);
    }
  }
  if (req.name) headers.push(['Test-Name', req.name.replace(/[^\x20-\x7e]/g, '?')]);
  headers.push(['Test-ID', req.id], ['Req-Num', String(idx + 1)]);
  const url = `${base}/test/${uuid}${req.filename ? `/${req.filename}` : ''}${req.query_arg ? `?${req.query_arg}` : ''}`;
  const h = new Headers();
  for (const [n, v] of headers) h.append(n, v);
  const init: RequestInit = { method: req.request_method ?? 'GET', headers: h, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (req.request_body !== undefined) init.body = req.request_body;
  if (req.redirect) init.redirect = req.redirect as 'manual' | 'follow' | 'error';
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function checkResponse(uuid: string, req: RequestConfig, idx: number, res: Seen): void {
  const reqNum = idx + 1;
  const resNum = parseInt(res.headers.get('Server-Request-Count') ?? '');
  const numbers = res.headers.get('Request-Numbers');
  if (numbers !== null) {
    const list = numbers.split(' ').map((x) => parseInt(x));
    assert(true, list.length === new Set(list).size, 'retry');
  }
  if (req.expected_type !== undefined) {
    const typeSetup = setupCheck(req, 'expected_type');
    if (req.expected_type === 'cached' && !(res.status === 304 && isNaN(resNum))) {
      assert(typeSetup, resNum < reqNum, `Response ${reqNum} does not come from cache`);
    }
    if (req.expected_type === 'not_cached') assert(typeSetup, resNum === reqNum, `Response ${reqNum} comes from cache`);
  }
  if ('expected_status' in req) {
    if (req.expected_status !== null) {
      assert(setupCheck(req, 'expected_status'), res.status === req.expected_status, `Response ${reqNum} status is ${res.status}, not ${req.expected_status}`);
    }
  } else if (req.response_status !== undefined) {
    assert(true, res.status === req.response_status[0], `Response ${reqNum} status is ${res.status}, not ${req.response_status[0]}`);
  } else if (res.status === 999) {
    assert(setupCheck(req, 'expected_type'), false, `Request ${reqNum} should have been conditional, but it was not.`);
  } else {
    assert(true, res.status === 200, `Response ${reqNum} status is ${res.status}, not 200`);
  }
  const present = setupCheck(req, 'expected_response_headers');
  for (const header of req.expected_response_headers ?? []) {
    if (typeof header === 'string') {
      assert(present, res.headers.has(header), `Response ${reqNum} ${header} header not present.`);
    } else if (header.length > 2) {
      const name = String(header[0]);
      assert(present, res.headers.has(name), `Response ${reqNum} ${name} header not present.`);
      const value = res.headers.get(name);
      if (header[1] === '=') {
        const expected = res.headers.get(String(header[2]));
        assert(present, value === expected, `Response ${reqNum} header ${name} is ${value}, should match ${String(header[2])} (${expected})`);
      } else if (header[1] === '>') {
        assert(present, parseInt(value ?? '') > Number(header[2]), `Response ${reqNum} header ${name} is ${value}, should be bigger than ${String(header[2])}`);
      } else throw new Error(`Unknown expected-header operator '${String(header[1])}'`);
    } else {
      const expected = fixupHeader(header, Object.fromEntries(res.headers), req)[1];
      const got = res.headers.get(String(header[0]));
      assert(present, got === expected, `Response ${reqNum} header ${String(header[0])} is "${got}", not "${String(expected)}"`);
    }
  }
  const missingSetup = setupCheck(req, 'expected_response_headers_missing');
  for (const header of req.expected_response_headers_missing ?? []) {
    // the suite only checks the bare-name form: its [name, value] form reads a property Headers never has
    if (typeof header === 'string') {
      assert(missingSetup, !res.headers.has(header), `Response ${reqNum} includes unexpected header ${header}: "${res.headers.get(header)}"`);
    }
  }
  if (req.check_body === false) return;
  if ('expected_response_text' in req) {
    if (req.expected_response_text !== null) {
      assert(setupCheck(req, 'expected_response_text'), res.body === req.expected_response_text, `Response body is "${res.body}", not "${req.expected_response_text}"`);
    }
  } else if (req.response_body !== undefined && req.response_body !== null) {
    assert(true, res.body === req.response_body, `Response body is "${res.body}", not "${req.response_body}"`);
  } else if (!noBodyStatus.has(res.status) && req.request_method !== 'HEAD') {
    assert(true, res.body === uuid, `Response body is "${res.body}", not "${uuid}"`);
  }
}

interface Record_ { request_num: number; request_method: string; request_headers: Record<string, unknown>; response_headers: [string, unknown][] }

function checkServerRequests(requests: RequestConfig[], responses: Seen[], state: Record_[]): void {
  let testIdx = 0;
  for (let i = 0; i < requests.length; i++) {
    const req = requests[i]!;
    const res = responses[i]!;
    const seen = state[testIdx];
    const reqNum = i + 1;
    const typeSetup = setupCheck(req, 'expected_type');
    const validators: string[] = [];
    if (req.expected_type === 'cached') continue; // the origin never saw it
    if (req.expected_type === 'not_cached') assert(typeSetup, seen?.request_num === reqNum, `Response ${reqNum} comes from cache (${seen?.request_num} on server)`);
    if (req.expected_type === 'etag_validated') validators.push('if-none-match');
    if (req.expected_type === 'lm_validated') validators.push('if-modified-since');
    testIdx++;
    for (const v of validators) {
      assert(typeSetup, seen !== undefined, `request ${reqNum} wasn't sent to server`);
      assert(typeSetup, Object.hasOwn(seen!.request_headers, v), `request ${reqNum} doesn't have ${v} header`);
    }
    const reqSetup = setupCheck(req, 'expected_request_headers');
    for (const header of req.expected_request_headers ?? []) {
      if (typeof header === 'string') {
        assert(reqSetup, seen !== undefined && Object.hasOwn(seen.request_headers, header.toLowerCase()), `Request ${reqNum} ${header} header not present.`);
      } else {
        const got = seen?.request_headers[String(header[0]).toLowerCase()];
        assert(reqSetup, got === header[1], `Request ${reqNum} header ${String(header[0])} is "${String(got)}", not "${String(header[1])}"`);
      }
    }
    const missSetup = setupCheck(req, 'expected_request_headers_missing');
    for (const header of req.expected_request_headers_missing ?? []) {
      if (typeof header === 'string') {
        assert(missSetup, seen === undefined || !Object.hasOwn(seen.request_headers, header.toLowerCase()), `Request ${reqNum} ${header} header present.`);
      } else {
        const got = seen?.request_headers[String(header[0]).toLowerCase()];
        assert(missSetup, got !== header[1], `Request ${reqNum} header ${String(header[0])} is "${String(got)}"`);
      }
    }
    for (const [name, sent] of seen?.response_headers ?? []) {
      if (skipResponseHeaders.has(name.toLowerCase())) continue;
      const want = Array.isArray(sent) ? sent.join(', ') : String(sent);
      const got = res.headers.get(name);
      assert(true, got === want, `Response ${reqNum} header ${name} is "${got}", not "${want}"`);
    }
    if (req.expected_method !== undefined) {
      assert(setupCheck(req, 'expected_method'), seen?.request_method === req.expected_method, `Request ${reqNum} had method ${seen?.request_method}, not ${req.expected_method}`);
    }
  }
}
