/**
 * TLS session-ticket keys shared by every worker: each key is derived from one secret and the current
 * 12-hour window (HKDF-SHA256), so workers given the same secret hold the same key without talking,
 * and all rotate at the same moment. A ticket from one worker then resumes on any other; after a
 * rotation, older tickets no longer decrypt and those clients do one full handshake.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';

export const TICKET_PERIOD_MS = 12 * 60 * 60 * 1000;

/** The 48 bytes node wants (key name, HMAC key, AES key) for the window holding `now`. */
export function ticketKeysAt(secret: Buffer, now: number, periodMs = TICKET_PERIOD_MS): Buffer {
  const window = Math.floor(now / periodMs);
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `gatehouse tls session tickets ${window}`, 48));
}

export class TicketKeys {
  readonly #secret: Buffer;
  readonly #periodMs: number;
  readonly #servers = new Set<TlsServer>();
  #timer?: NodeJS.Timeout;

  /** `secret`: shared by the processes that must resume each other's sessions; default random (this process only). */
  constructor(secret: Buffer = randomBytes(32), periodMs = TICKET_PERIOD_MS) {
    this.#secret = secret;
    this.#periodMs = periodMs;
  }

  /** The keys of the current window. */
  current(): Buffer {
    return ticketKeysAt(this.#secret, Date.now(), this.#periodMs);
  }

  /** Gives a TLS server the current keys, and the next ones at each rotation. */
  attach(server: TlsServer): void {
    server.setTicketKeys(ticketKeysAt(this.#secret, Date.now(), this.#periodMs));
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
    this.#schedule();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#servers.clear();
  }

  #schedule(): void {
    if (this.#timer) return;
    const now = Date.now();
    const next = (Math.floor(now / this.#periodMs) + 1) * this.#periodMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const keys = ticketKeysAt(this.#secret, Date.now(), this.#periodMs);
      for (const s of this.#servers) s.setTicketKeys(keys);
      if (this.#servers.size > 0) this.#schedule();
    }, next - now + 50);
    this.#timer.unref();
  }
}
