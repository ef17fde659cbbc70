/**
 * Response heads written by hand on a raw connection, where no ServerResponse exists or node:http has
 * no call for it: CONNECT's `200 Connection Established`, an upgrade's 101, interim (1xx) responses,
 * and errors found before node:http made a request. One place builds them, always HTTP/1.1.
 */

/** `HTTP/1.1 <status> <reason>`, the fields of a flat `[name, value, …]` list, and the empty line. */
export function rawHead(status: number, reason: string, headers: readonly string[] = []): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** A whole response with a body and `connection: close` (a raw connection is closed after it). */
export function rawResponse(status: number, reason: string, headers: readonly string[], body: string): string {
  return rawHead(status, reason, [...headers, 'content-length', String(Buffer.byteLength(body)), 'connection', 'close']) + body;
}
