/** tracing.otlp_endpoint: each request becomes a span, exported over OTLP/HTTP to a receiver the test runs. */
import { expect } from 'chai';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startOrigin, startProxy, simpleReverse } from '../helpers/loopback.js';

interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes: { key: string; value: Record<string, unknown> }[] }
interface OtlpBody { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] }

describe('e2e: OTLP span export', () => {
  it('exports a SERVER span per sampled request; its id is the parent id the origin sees; unsampled requests are not exported', async () => {
    const bodies: OtlpBody[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces' && String(req.headers['content-type']).startsWith('application/json')) bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    }).listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const origin = await startOrigin('ok');
    const proxy = await startProxy({
      ...simpleReverse([origin.url]),
      tracing: { otlp_endpoint: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`, service_name: 'edge' },
    });
    try {
      const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
      await (await fetch(`${proxy.url()}/a?x=1`, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })).text();
      const sentA = origin.seen.at(-1)!.headers as IncomingHttpHeaders;
      await (await fetch(`${proxy.url()}/b`)).text();
      const sentB = origin.seen.at(-1)!.headers as IncomingHttpHeaders;
      await (await fetch(`${proxy.url()}/c`, { headers: { traceparent: '00-11111111111111111111111111111111-00f067aa0ba902b7-00' } })).text();
      expect(origin.seen.at(-1)!.headers.traceparent).to.match(/^00-1{32}-[0-9a-f]{16}-00$/);
      await proxy.close(); // flushes the batch

      const spans = bodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
      expect(spans.map((s) => s.traceId).sort()).to.deep.equal([trace, (sentB['x-request-id'] as string).replaceAll('-', '')].sort());
      const a = spans.find((s) => s.traceId === trace)!;
      expect(a).to.include({ name: 'GET', kind: 2, parentSpanId: '00f067aa0ba902b7' });
      expect(sentA.traceparent).to.equal(`00-${trace}-${a.spanId}-01`);
      const attrs = Object.fromEntries(a.attributes.map((x) => [x.key, Object.values(x.value)[0]]));
      expect(attrs).to.include({ 'url.path': '/a?x=1', 'http.route': 'route0', 'gatehouse.request_id': sentA['x-request-id'] });
      expect(Number(attrs['http.response.status_code'])).to.equal(200);
      const b = spans.find((s) => s !== a)!;
      expect(b.parentSpanId ?? '').to.equal('');
      expect(sentB.traceparent).to.equal(`00-${b.traceId}-${b.spanId}-01`);
      const resource = Object.fromEntries(bodies[0]!.resourceSpans[0]!.resource.attributes.map((x) => [x.key, x.value.stringValue]));
      expect(resource).to.include({ 'service.name': 'edge', 'service.instance.id': 'gh-test' });
    } finally {
      await proxy.close();
      await origin.close();
      receiver.close();
    }
  });
});
