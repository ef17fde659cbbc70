/**
 * The one retry loop for requests sent upstream, used by the reverse proxy stage (another upstream of
 * the pool) and the forward stage (another address of the destination). A failed attempt goes to
 * another target only when the upstream cannot have acted on it: nothing of the response reached the
 * client, the request body is still unread, and the connection never existed (refused, connect
 * timeout, unreachable), or, where the caller allows it, an idempotent request met a reset before any
 * response byte (nginx `proxy_next_upstream error timeout`, Envoy `connect-failure,reset`). The error
 * thrown is the last attempt's, so the answer (502/504, Proxy-Status) names what really went wrong.
 */
import { ProxyError } from './errors.js';
import type { RequestContext } from './context.js';
import { bodyUnread, clientFailure, neverReachedUpstream, type UpstreamRequestError } from './upstream-request.js';

/** A reset before any response byte: the request may or may not have been acted on, so idempotent ones only. */
const RESET = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface RetryPlan<T> {
  /** Sends the request to one target; a failure may be an `UpstreamRequestError` or any error before sending. */
  send(target: T, attempt: number): Promise<void>;
  /** Told about each failure that is the upstream's (not the client's): passive health, traces. */
  failed?(target: T, cause: unknown, code: string): void;
  /** The target for the next attempt after `attempt` failed on `target`, or undefined when there is none. */
  next(target: T, attempt: number): T | undefined;
  /** Told before the next attempt is sent (`attempt` counts from 1). */
  retrying?(from: T, to: T, why: string, attempt: number): void;
  /** Whether an idempotent request reset before any response byte may go to another target. */
  retryResets: boolean;
}

export async function sendWithRetries<T>(ctx: RequestContext, body: NodeJS.ReadableStream | null, first: T, plan: RetryPlan<T>): Promise<void> {
  const resetsRetryable = plan.retryResets && IDEMPOTENT.has(ctx.req.method!);
  let target = first;
  for (let attempt = 0; ; attempt++) {
    try {
      await plan.send(target, attempt);
      return;
    } catch (e) {
      const fe = e as UpstreamRequestError;
      const cause = fe.cause ?? e;
      // a full queue is not the upstream's failure
      if (cause instanceof ProxyError && cause.kind === 'upstream_busy') throw cause;
      // the client's mistakes and departures (and its slowness: body or send timeout) are never the upstream's failures
      const clientError = clientFailure(ctx, cause);
      if (clientError) throw clientError;
      const code = (cause as { code?: string }).code ?? '';
      plan.failed?.(target, cause, code);
      // a body stream nobody has read from yet can still be handed to another target
      const retryable = !fe.responded && bodyUnread(body) && (neverReachedUpstream(code) || (resetsRetryable && RESET.has(code)));
      const next = retryable ? plan.next(target, attempt) : undefined;
      if (next === undefined) throw cause;
      plan.retrying?.(target, next, code || (cause as Error).message, attempt + 1);
      target = next;
    }
  }
}
