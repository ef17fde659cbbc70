/**
 * What of an upstream response's framing the proxy can relay faithfully (RFC 9112 §6). Chunked applied
 * twice, or not last, and Transfer-Encoding with Content-Length are refused (502 with the connection
 * closed, as nginx). Other transfer codings (`gzip, chunked`, or `gzip` read to the close) are relayed
 * as they are, re-chunked for the client, so coded bytes never pass as plain ones.
 */
import { ProxyError } from './errors.js';

/** The transfer codings to send on, before the client's own `chunked`; or a 502 error. */
export function relayedTransferCodings(headers: Record<string, string | string[] | undefined>): string[] | ProxyError {
  const te = headers['transfer-encoding'];
  if (te === undefined) return [];
  const refuse = (why: string) => new ProxyError('upstream_protocol', why);
  if (headers['content-length'] !== undefined) return refuse('the upstream sent Transfer-Encoding with Content-Length');
  const codings = (Array.isArray(te) ? te.join(',') : te).split(',').map((c) => c.split(';')[0]!.trim().toLowerCase()).filter((c) => c !== '');
  const chunked = codings.filter((c) => c === 'chunked').length;
  if (chunked > 1) return refuse('the upstream applied chunked more than once');
  if (chunked === 1 && codings.at(-1) !== 'chunked') return refuse('the upstream applied a coding after chunked');
  return codings.filter((c) => c !== 'chunked');
}
