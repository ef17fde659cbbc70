/**
 * The `parent` of a forward listener: another HTTP proxy that this one chains to (Squid's
 * `cache_peer … parent`). HTTP requests go to it in absolute-form, CONNECT tunnels are opened
 * through its own CONNECT; its credentials (from the URL's userinfo) ride in Proxy-Authorization.
 * `direct_domains` are reached without it.
 */
import type { Socket } from 'node:net';
import { ProxyError } from '../core/errors.js';
import { DomainTrie } from './domain-trie.js';
import { dial } from '../core/tunnel.js';

const MAX_HEAD = 16 * 1024;

export class ParentProxy {
  /** `http://host:port`, the undici origin. */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  /** `Basic …` when the URL carries credentials. */
  readonly authorization?: string;
  readonly #direct: DomainTrie<true>;

  /** Throws with `key: message` problems when the URL or a direct domain is invalid. */
  constructor(url: string, direct: readonly string[], key: string) {
    const problems: string[] = [];
    let u: URL | undefined;
    try { u = new URL(url); } catch { problems.push(`${key}.parent: not a URL: ${JSON.stringify(url)}`); }
    if (u && u.protocol !== 'http:') problems.push(`${key}.parent: only http:// parents are supported`);
    this.#direct = new DomainTrie<true>();
    direct.forEach((d, i) => {
      const err = this.#direct.add(d, true);
      if (err) problems.push(`${key}.direct_domains[${i}]: ${err}`);
    });
    if (problems.length || !u) throw new Error(problems.join('\n'));
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port) || 80;
    this.origin = `http://${u.host}`;
    if (u.username !== '') {
      const creds = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      this.authorization = `Basic ${Buffer.from(creds).toString('base64')}`;
    }
  }

  /** Whether requests to `host` (normalised) go through the parent. */
  handles(host: string): boolean {
    return this.#direct.match(host) === undefined;
  }

  /** Opens a tunnel to `authority` through the parent; resolves once it answered 2xx. */
  async connect(authority: string, timeoutMs: number): Promise<Socket> {
    const socket = await dial(this.host, this.port, timeoutMs);
    const auth = this.authorization ? `proxy-authorization: ${this.authorization}\r\n` : '';
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n${auth}\r\n`);
    return new Promise((resolve, reject) => {
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(Object.assign(new Error('parent proxy did not answer CONNECT'), { code: 'UND_ERR_HEADERS_TIMEOUT' })), timeoutMs);
      const fail = (err: Error) => { clearTimeout(timer); socket.off('data', onData); socket.destroy(); reject(err); };
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HEAD) fail(new ProxyError('upstream_protocol', 'parent proxy answer head too large'));
          return;
        }
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('end', onEnd);
        socket.pause();
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (status < 200 || status > 299) {
          socket.destroy();
          const kind = status === 0 ? 'upstream_protocol' : 'upstream_failed';
          return reject(new ProxyError(kind, status ? `parent proxy answered ${status} to CONNECT` : 'parent proxy sent no HTTP answer'));
        }
        // bytes the destination sent right after the parent's answer belong to the tunnel
        const rest = head.subarray(end + 4);
        if (rest.length) socket.unshift(rest);
        resolve(socket);
      };
      const onEnd = () => fail(Object.assign(new Error('parent proxy closed the connection'), { code: 'ECONNRESET' }));
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('end', onEnd);
    });
  }
}
