/** W3C Trace Context through the proxy: what the origin receives and what the access line says. */
import { expect } from 'chai';
import type { IncomingHttpHeaders } from 'node:http';
import { ProxyAgent, request } from 'undici';
import { logLine, startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from '../helpers/loopback.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

describe('e2e: W3C trace context', () => {
  let origin: Origin;
  let proxy: TestProxy | undefined;
  const seen = () => origin.seen.at(-1)!.headers as IncomingHttpHeaders;
  /** The access line of the request the origin saw last (written just after the response: waited for). */
  const lastAccessLine = () => logLine(proxy!.logs, (l) => l.msg === 'access' && l.reqId === seen()['x-request-id']);
  before(async () => { origin = await startOrigin('ok'); });
  afterEach(async () => { await proxy?.close(); proxy = undefined; });
  after(async () => { await origin.close(); });

  const get = async (headers: Record<string, string> = {}, url = proxy!.url()) => {
    const r = await fetch(url, { headers });
    await r.text();
    return r;
  };

  it('reverse: a request without traceparent starts a trace whose id is the request id, logged in the access line', async () => {
    proxy = await startProxy(simpleReverse([origin.url]));
    await get({ tracestate: 'vendor=orphan' });
    const h = seen();
    const [, traceId, parentId, flags] = TRACEPARENT.exec(h.traceparent as string)!;
    expect(traceId).to.equal((h['x-request-id'] as string).replaceAll('-', ''));
    expect(parentId).to.not.match(/^0+$/);
    expect(flags).to.equal('01');
    expect(h.tracestate, 'a tracestate without a valid traceparent is dropped').to.equal(undefined);
    expect(await lastAccessLine()).to.include({ trace_id: traceId, reqId: h['x-request-id'] });
  });

  it('reverse: a valid traceparent keeps its trace id and flags, gets this hop as parent; tracestate travels untouched', async () => {
    proxy = await startProxy(simpleReverse([origin.url]));
    await get({ traceparent: `00-${TRACE}-${PARENT}-00`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' });
    const [, traceId, parentId, flags] = TRACEPARENT.exec(seen().traceparent as string)!;
    expect(traceId).to.equal(TRACE);
    expect(parentId).to.not.equal(PARENT);
    expect(flags).to.equal('00');
    expect(seen().tracestate).to.equal('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(await lastAccessLine()).to.include({ trace_id: TRACE });
    // a later version may append fields: the known ones are used, the rest is not passed on
    await get({ traceparent: `01-${TRACE}-${PARENT}-01-whatever` });
    expect(TRACEPARENT.exec(seen().traceparent as string)!.slice(1, 4).filter((_, i) => i !== 1)).to.deep.equal([TRACE, '01']);
  });

  it('reverse: invalid traceparents start a new trace; a request id that is not a UUID gets a random trace id', async () => {
    proxy = await startProxy(simpleReverse([origin.url]));
    for (const bad of [`00-${TRACE.toUpperCase()}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01-extra`, `00-${TRACE}-${PARENT}`]) {
      await get({ traceparent: bad, tracestate: 'a=b' });
      const traceId = TRACEPARENT.exec(seen().traceparent as string)![1];
      expect(traceId, bad).to.not.equal(TRACE);
      expect(seen().tracestate, bad).to.equal(undefined);
    }
    await get({ 'x-request-id': 'order-42' });
    expect(seen()['x-request-id']).to.equal('order-42');
    expect(TRACEPARENT.exec(seen().traceparent as string)![1]).to.match(/^[0-9a-f]{32}$/);
  });

  it('trace_context: false on a reverse listener leaves the headers alone', async () => {
    const cfg = simpleReverse([origin.url]);
    proxy = await startProxy({ ...cfg, reverse: [{ ...cfg.reverse[0], trace_context: false }] });
    await get();
    expect(seen().traceparent).to.equal(undefined);
    await get({ traceparent: `00-${TRACE}-${PARENT}-01` });
    expect(seen().traceparent).to.equal(`00-${TRACE}-${PARENT}-01`);
    expect(await lastAccessLine()).to.not.have.property('trace_id');
  });

  it('forward listeners: off by default (nothing added), on with trace_context: true', async () => {
    for (const on of [false, true]) {
      proxy = await startProxy({ forward: [{ allow_destinations: [`127.0.0.1:${origin.port}`], cache: false, ...(on ? { trace_context: true } : {}) }] });
      const agent = new ProxyAgent({ uri: proxy.forwardUrl() });
      try {
        await (await request(`${origin.url}/x`, { dispatcher: agent })).body.text();
        if (on) expect(seen().traceparent).to.match(TRACEPARENT);
        else expect(seen().traceparent).to.equal(undefined);
      } finally { await agent.close(); await proxy.close(); proxy = undefined; }
    }
  });
});
