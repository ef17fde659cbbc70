/**
 * Loopback addresses for tests.
 *
 * Ports a test picks before something listens on them (a config file for a child process, a port to
 * listen on again later) live on this test process's own loopback address. A port opened and closed on
 * 127.0.0.1 can be taken by anything in between, a second test suite beside this one included; an
 * address of 127.0.0.0/8 that only this process uses cannot. Connections to it still come from
 * 127.0.0.1, so the proxy sees the same client as in every other test.
 */
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';

/** 127.100-227.x.y, distinct for every process id (Linux pids stay below 2^22). */
export const OWN_HOST = `127.${100 + ((process.pid >> 15) & 127)}.${(process.pid >> 7) & 255}.${1 + (process.pid & 127)}`;

/** A port nothing listens on at OWN_HOST; only this process binds that address, so it stays free. */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, OWN_HOST);
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `OWN_HOST:port`, for a listen key. */
export const ownAddress = (port: number) => `${OWN_HOST}:${port}`;
/** `http://OWN_HOST:port`. */
export const ownUrl = (port: number, scheme = 'http') => `${scheme}://${OWN_HOST}:${port}`;

/**
 * A free port on 127.0.0.1 below the kernel's ephemeral range, for a service that must be reached at
 * 127.0.0.1 itself (Pebble validates at `localhost`): no listen(0) and no outgoing connection is ever
 * given one, so only another test's pick could take it, and picks are spread over thousands of ports.
 */
export async function freePortBelowEphemeral(): Promise<number> {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]) || 32768;
  for (let attempt = 0; ; attempt++) {
    const port = 10000 + Math.floor(Math.random() * (low - 10000));
    const s = createServer().listen(port, '127.0.0.1');
    try {
      await once(s, 'listening');
      await new Promise((r) => s.close(r));
      return port;
    } catch (e) {
      if (attempt >= 50) throw e;
    }
  }
}

/**
 * An upstream URL whose connections are refused: a loopback address no test listens on (tests bind
 * 127.0.0.1 and their OWN_HOST). Unlike a port that was opened and closed, nothing can take it over
 * meanwhile, not even a second test suite running beside this one. `n` gives distinct ones.
 */
export function refusedUrl(n = 0): string {
  return `http://127.0.0.2:${9 + n}`;
}
