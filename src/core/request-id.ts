import { randomUUID } from 'node:crypto';

// A client's id is kept only when it is short and plain, so it is safe in logs and headers.
const SANE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The client's X-Request-Id when sane, else a new UUID. */
export function requestIdFor(given: string | string[] | undefined): string {
  return typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
}
