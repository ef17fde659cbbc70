/**
 * The entry point of a plugin process (started by sandbox-client.ts with Node's IPC channel).
 * It loads one plugin into an isolate and answers batches of hook calls in order. Whatever the
 * plugin does to this process (a heap V8 cannot recover, a hang in native code), the proxy only
 * loses this process: its supervisor kills and restarts it.
 */
import { IsolateRunner, LoadFailure } from './isolate-runner.js';
import type { AnswerMessage, FromSandbox, ToSandbox } from './protocol.js';

/** Answers are sent before the batch ends once a call took this long, so the proxy hears progress. */
const SLOW_CALL_MS = 50;
/** Log lines kept for one message at most; more are counted as dropped. */
const MAX_LOG_LINES = 1000;
const HEAP_EVERY_MS = 1000;

let runner: IsolateRunner | null = null;
let answers: AnswerMessage[] = [];
let logs: [level: 'info' | 'warn' | 'error', text: string][] = [];
let dropped = 0;
let heapAt = 0;

const send = (m: FromSandbox): void => { process.send!(m); };

function flush(): void {
  if (answers.length === 0) return;
  const m: Extract<FromSandbox, { t: 'answers' }> = { t: 'answers', answers };
  if (logs.length) m.logs = logs;
  if (dropped) m.dropped = dropped;
  const now = Date.now();
  if (now - heapAt >= HEAP_EVERY_MS) { heapAt = now; m.heap = runner?.heapBytes() ?? 0; }
  answers = [];
  logs = [];
  dropped = 0;
  send(m);
}

const sink = {
  line(level: 'info' | 'warn' | 'error', text: string) {
    if (logs.length < MAX_LOG_LINES) logs.push([level, text]); else dropped++;
  },
  dropped(count: number) { dropped += count; },
};

function handle(m: ToSandbox): void {
  if (m.t === 'load') {
    runner = new IsolateRunner(m.code, m.file, m.settings, sink);
    try {
      runner.load();
      send({ t: 'loaded', hooks: [...runner.hooks] });
    } catch (err) {
      const f = err instanceof LoadFailure ? err : new LoadFailure(String(err));
      send({ t: 'load_failed', message: f.message, line: f.line, column: f.column });
    }
    return;
  }
  for (const [id, hook, ...views] of m.calls) {
    const t0 = Date.now();
    const r = runner === null ? { kind: 'crashed' as const, value: 'no plugin loaded' } : runner.call(hook, views.map((v) => JSON.stringify(v)));
    answers.push([id, r.kind, r.value]);
    if (Date.now() - t0 >= SLOW_CALL_MS) flush();
  }
  flush();
}

process.on('message', (m) => handle(m as ToSandbox));
// The proxy is gone: nobody will ask for anything again.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group and a service manager may signal every process of the
// service: the proxy drains on those signals and still needs its plugins, then ends them itself.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
send({ t: 'ready' });
