/** Raw TCP clients for attack tests: slow readers, slow writers and idle sockets, from any 127.0.0.x address. */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { waitFor as waitUntil } from './load.js';

/** Opens a socket to 127.0.0.1:port, optionally from another loopback address (127.0.0.2, …). */
export async function openSocket(port: number, localAddress?: string): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

/** Resolves with true when the socket closes within `ms`, false otherwise. */
export function closesWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => { clearTimeout(timer); resolve(true); });
  });
}

/** Everything a socket receives until it closes or `ms` pass (then it is destroyed). */
export async function readAll(socket: Socket, ms: number): Promise<string> {
  let out = '';
  socket.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  await closesWithin(socket, ms);
  socket.destroy();
  return out;
}

/** A GET request head for raw sockets. */
export function getRequest(path: string, host = 'test.local', extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
}

/** Polls `check` every 20 ms until it is true, or throws after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  if (!(await waitUntil(check, ms))) throw new Error(`timed out waiting for ${what}`);
}

/** A GET through the proxy that must be answered within `ms`: resolves with status and body, or rejects. */
export async function getWithin(url: string, ms: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(ms) });
  return { status: r.status, body: await r.text(), headers: r.headers };
}
