/**
 * Via (RFC 9110 §7.6.3): the name this instance adds, and loop detection on it. A request whose Via
 * already names this instance has been here before: 508, as Squid does with its unique host name. So
 * the name must be unique per instance; the default is node_id plus a random suffix chosen at start
 * (two instances on one host, chained, never look like a loop).
 */
import { randomBytes } from 'node:crypto';
import { ProxyError } from './errors.js';
import type { Stage } from './pipeline.js';

/** The default Via name: node_id and 6 random hex digits, fixed for the life of the process's gateway. */
export function defaultViaName(nodeId: string): string {
  return `${nodeId}-${randomBytes(3).toString('hex')}`;
}

/** Whether a Via value (or several fields) names `name` as a received-by (case-insensitive). */
function viaNames(via: string | string[] | undefined, name: string): boolean {
  if (via === undefined) return false;
  const text = (Array.isArray(via) ? via.join(',') : via).toLowerCase();
  const wanted = name.toLowerCase();
  if (!text.includes(wanted)) return false; // the usual case: one substring test
  for (const entry of text.split(',')) {
    // `protocol received-by [comment]`
    const receivedBy = entry.trim().split(/[ \t]+/)[1];
    if (receivedBy === wanted) return true;
  }
  return false;
}

/** 508 for a request that already passed through this instance. */
export function loopStage(name: string): Stage {
  return {
    name: 'loop',
    handle(ctx, next) {
      if (viaNames(ctx.req.headers.via, name)) throw new ProxyError('loop_detected', `the request already passed through ${name}`);
      return next();
    },
  };
}
