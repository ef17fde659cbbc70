/**
 * The request pipeline: an ordered list of stages, each doing one job. A stage works on the request
 * before `await next()` and on the response after it; a stage that answers the request does not call next.
 * A stage with nothing to do after next() may be a plain function that `return next()`s: it saves a
 * promise per request, and compose turns its synchronous throws into rejections.
 */
import type { RequestContext } from './context.js';

export interface Stage {
  readonly name: string;
  handle(ctx: RequestContext, next: () => Promise<void>): Promise<void>;
}

export type Pipeline = (ctx: RequestContext) => Promise<void>;

const done = () => Promise.resolve();

/** Composes stages in order (modelled on hono's compose). */
export function compose(stages: readonly Stage[]): Pipeline {
  return (ctx) => {
    let last = -1;
    const run = (i: number): Promise<void> => {
      if (i <= last) return Promise.reject(new Error(`${stages[i - 1]?.name}: next() called twice`));
      last = i;
      const stage = stages[i];
      if (!stage) return done();
      try {
        return stage.handle(ctx, i + 1 < stages.length ? () => run(i + 1) : done);
      } catch (e) {
        return Promise.reject(e);
      }
    };
    return run(0);
  };
}
