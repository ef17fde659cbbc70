/**
 * A buffered, asynchronous writer of log lines to a file descriptor (stdout or a file), used as pino's
 * destination. Lines are appended to a string and written with one fs.write per ~64 KB or every 50 ms,
 * so a log line costs well under a microsecond on the request path (pino's sonic-boom costs ~5 µs
 * here, growing with its buffer). Bounded: past `maxBuffered` bytes, lines are dropped and counted.
 */
import { closeSync, fsyncSync, openSync, write, writeSync } from 'node:fs';

export interface LineWriterOptions {
  /** Write once this many characters are buffered. */
  flushAt?: number;
  /** Write at least this often while lines are waiting. */
  flushMs?: number;
  /** Drop lines beyond this many buffered characters (a stuck disk must not exhaust memory). */
  maxBuffered?: number;
  /** Several processes share the destination: write whole lines in chunks of at most this many bytes (PIPE_BUF). */
  atomicChunk?: number;
}

export class LineWriter {
  readonly #fd: number;
  readonly #ownsFd: boolean;
  readonly #flushAt: number;
  readonly #flushMs: number;
  readonly #maxBuffered: number;
  readonly #atomicChunk?: number;
  #buffer = '';
  #writing = false;
  #timer?: NodeJS.Timeout;
  #waiters: (() => void)[] = [];
  /** Lines dropped because the buffer was full. */
  dropped = 0;

  constructor(dest: string | number, opts: LineWriterOptions = {}) {
    this.#ownsFd = typeof dest === 'string';
    this.#fd = typeof dest === 'string' ? openSync(dest, 'a') : dest;
    this.#flushAt = opts.flushAt ?? 64 * 1024;
    this.#flushMs = opts.flushMs ?? 50;
    this.#maxBuffered = opts.maxBuffered ?? 16 * 1024 * 1024;
    this.#atomicChunk = opts.atomicChunk;
  }

  write(line: string): boolean {
    if (this.#buffer.length + line.length > this.#maxBuffered) { this.dropped++; return false; }
    this.#buffer += line;
    if (this.#buffer.length >= this.#flushAt) this.#startWrite();
    else this.#timer ??= setTimeout(() => { this.#timer = undefined; this.#startWrite(); }, this.#flushMs).unref();
    return true;
  }

  /** Calls back once everything written so far has reached the descriptor (pino calls this from logger.flush). */
  flush(cb?: (err?: Error) => void): void {
    if (!this.#buffer && !this.#writing) { cb?.(); return; }
    if (cb) this.#waiters.push(() => cb());
    this.#startWrite();
  }

  /** Writes everything synchronously (at exit). */
  flushSync(): void {
    // At exit an in-flight async write may still land after this one: the last lines may reorder, none are lost.
    const data = Buffer.from(this.#buffer);
    this.#buffer = '';
    for (let off = 0; off < data.length;) {
      try { off += writeSync(this.#fd, data, off); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') break; }
    }
  }

  end(): void {
    this.flushSync();
    if (this.#ownsFd) { try { fsyncSync(this.#fd); closeSync(this.#fd); } catch { /* already closed */ } }
  }

  #startWrite(): void {
    if (this.#writing || !this.#buffer) return;
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    let text = this.#buffer;
    if (this.#atomicChunk && Buffer.byteLength(text) > this.#atomicChunk) {
      // the longest run of whole lines within the byte limit; a single over-long line goes alone
      let cut = text.lastIndexOf('\n', this.#atomicChunk - 1);
      while (cut > 0 && Buffer.byteLength(text.slice(0, cut + 1)) > this.#atomicChunk) cut = text.lastIndexOf('\n', cut - 1);
      text = cut === -1 ? text.slice(0, text.indexOf('\n') + 1 || text.length) : text.slice(0, cut + 1);
    }
    this.#buffer = this.#buffer.slice(text.length);
    this.#writing = true;
    this.#writeAll(Buffer.from(text), 0);
  }

  #writeAll(data: Buffer, offset: number): void {
    write(this.#fd, data, offset, data.length - offset, null, (err, n) => {
      if (err && err.code === 'EAGAIN') { setTimeout(() => this.#writeAll(data, offset), 10).unref(); return; }
      if (!err && offset + n < data.length) { this.#writeAll(data, offset + n); return; }
      this.#writing = false;
      if (this.#buffer) this.#startWrite();
      else for (const w of this.#waiters.splice(0)) w();
    });
  }
}
