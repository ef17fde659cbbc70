/**
 * `Proxy-Authorization: Basic …` parsing (RFC 7617) and the `Proxy-Authenticate` challenge.
 * Parsing is strict where ambiguity could be abused: a repeated header, a non-base64 token,
 * control characters or an empty user all count as no credentials (the proxy answers 407).
 */

export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

const MAX_HEADER = 4096;
const BASIC = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i;
const CONTROL = /[\u0000-\u001f\u007f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Credentials from a Proxy-Authorization (or Authorization) header value, or undefined. */
export function parseBasicAuth(header: string | readonly string[] | undefined): BasicCredentials | undefined {
  if (typeof header !== 'string' || header.length > MAX_HEADER) return undefined;
  const m = BASIC.exec(header.trim());
  if (!m) return undefined;
  const bytes = Buffer.from(m[1]!, 'base64');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = bytes.toString('latin1'); // pre-RFC 7617 clients send ISO-8859-1
  }
  const colon = text.indexOf(':');
  if (colon <= 0 || CONTROL.test(text)) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** `Proxy-Authenticate` value for a realm, quoted safely. */
export function basicChallenge(realm: string): string {
    const clean = realm.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\]/g, '\\$&');
  return `Basic realm="${clean}", charset="UTF-8"`;
}
