/**
 * send_timeout (as nginx): how long a client may go without taking any byte while a response waits for
 * it. Armed when a write to the client reports backpressure; each check looks whether the socket's
 * buffer shrank since the last one (the client took bytes), so a slow but moving download never trips it.
 */
import type { ServerResponse } from 'node:http';

export class SendTimer {
  #timer?: NodeJS.Timeout;
  #pending = -1;

  constructor(private readonly res: ServerResponse, private readonly ms: number, private readonly onStall: () => void) {}

  /** Backpressure began: start watching (no-op when already watching or turned off). */
  arm(): void {
    if (this.ms <= 0 || this.#timer) return;
    this.#pending = this.#buffered();
    this.#timer = setTimeout(this.#check, this.ms);
  }

  /** The client drained the buffer (or the response ended). */
  disarm(): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
  }

  /** Bytes waiting for the client; -1 while a pipelined response still waits for the socket. */
  #buffered(): number {
    // a ServerResponse's writableLength includes its socket's buffer
    return this.res.socket ? this.res.writableLength : -1;
  }

  readonly #check = (): void => {
    const now = this.#buffered();
    // still queued behind an earlier response (which has its own timer), or the client took bytes
    if (now < 0 || this.#pending < 0 || now < this.#pending) {
      this.#pending = now;
      this.#timer = setTimeout(this.#check, this.ms);
      return;
    }
    this.#timer = undefined;
    this.onStall();
  };
}

/** For a response already written whole: destroys the connection when the client takes none of it for `ms`. */
export function closeIfStalled(res: ServerResponse, ms: number): void {
  if (ms <= 0 || res.writableFinished || res.destroyed) return;
  const timer = new SendTimer(res, ms, () => res.destroy());
  const done = (): void => timer.disarm();
  res.once('finish', done);
  res.once('close', done);
  timer.arm();
}
