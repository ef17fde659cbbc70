import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import type { RequestContext } from '../../../src/core/context.js';
import { ProxyError } from '../../../src/core/errors.js';
import { sendWithRetries, type RetryPlan } from '../../../src/core/upstream-retry.js';
import { UpstreamRequestError } from '../../../src/core/upstream-request.js';

const ctxFor = (method: string) => ({ req: { method, errored: null, readableAborted: false } }) as unknown as RequestContext;
const coded = (code: string) => Object.assign(new Error(code), { code });

/** Runs the loop over targets 0..n-1 where `outcome(i)` is what attempt i does; returns the targets tried and the error. */
async function run(method: string, outcomes: (() => Promise<void>)[], opts: Partial<RetryPlan<number>> & { body?: NodeJS.ReadableStream | null } = {}) {
  const sent: number[] = [];
  const failed: number[] = [];
  const error = await sendWithRetries(ctxFor(method), opts.body ?? null, 0, {
    retryResets: opts.retryResets ?? true,
    send: (i) => { sent.push(i); return outcomes[i]!(); },
    failed: (i) => failed.push(i),
    next: (i) => (i + 1 < outcomes.length ? i + 1 : undefined),
  }).then(() => undefined, (e: unknown) => e as Error);
  return { sent, failed, error };
}

describe('core/upstream-retry', () => {
  it('a refused or timed-out connect goes to the next target for any method; the last error is thrown', async () => {
    const r = await run('POST', [() => Promise.reject(coded('ECONNREFUSED')), () => Promise.reject(coded('UND_ERR_CONNECT_TIMEOUT'))]);
    expect(r.sent).to.deep.equal([0, 1]);
    expect(r.failed).to.deep.equal([0, 1]);
    expect((r.error as NodeJS.ErrnoException).code).to.equal('UND_ERR_CONNECT_TIMEOUT');
    const ok = await run('POST', [() => Promise.reject(new UpstreamRequestError(coded('ECONNREFUSED'), false)), () => Promise.resolve()]);
    expect([ok.sent, ok.error]).to.deep.equal([[0, 1], undefined]);
  });

  it('a reset is retried for idempotent methods only, and only where the caller allows resets', async () => {
    const reset = () => Promise.reject(new UpstreamRequestError(coded('ECONNRESET'), false));
    expect((await run('GET', [reset, () => Promise.resolve()])).sent).to.deep.equal([0, 1]);
    expect((await run('POST', [reset, () => Promise.resolve()])).sent).to.deep.equal([0]);
    expect((await run('GET', [reset, () => Promise.resolve()], { retryResets: false })).sent).to.deep.equal([0]);
  });

  it('never retries once a response byte reached the client, or once the body was read', async () => {
    const responded = await run('GET', [() => Promise.reject(new UpstreamRequestError(coded('ECONNREFUSED'), true)), () => Promise.resolve()]);
    expect(responded.sent).to.deep.equal([0]);
    const body = new PassThrough();
    body.end('x');
    body.read();
    const read = await run('PUT', [() => Promise.reject(coded('ECONNREFUSED')), () => Promise.resolve()], { body });
    expect(read.sent).to.deep.equal([0]);
  });

  it('a full queue and the client\'s own errors are thrown as they are, never counted against the upstream', async () => {
    const busy = await run('GET', [() => Promise.reject(new ProxyError('upstream_busy')), () => Promise.resolve()]);
    expect([busy.sent, busy.failed, (busy.error as ProxyError).kind]).to.deep.equal([[0], [], 'upstream_busy']);
    const tooBig = await run('GET', [() => Promise.reject(new UpstreamRequestError(new ProxyError('body_too_large'), false)), () => Promise.resolve()]);
    expect([tooBig.sent, tooBig.failed, (tooBig.error as ProxyError).kind]).to.deep.equal([[0], [], 'body_too_large']);
  });
});
