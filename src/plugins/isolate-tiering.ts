/**
 * Lets plugin code reach optimised (Maglev/TurboFan) machine code. V8 compiles hot functions on a
 * background thread and asks the isolate's thread to install the result through an interrupt. In
 * an isolate that is only ever entered through isolated-vm's synchronous calls, under load, that
 * install often never happened and the function stayed "optimising" forever, in the interpreter
 * (seen here: after 37 000 proxied requests every hook, shim and plugin function was still
 * interpreted, at ~3× the instructions of a call; test/e2e/plugins-tiering.test.ts).
 *
 * V8 decides whether an isolate compiles in the background when the isolate is created, from
 * the flag as it is then: turning it off once, before the first plugin isolate, makes plugin
 * isolates compile on the calling thread (a few ms, once per hot function) and leaves the
 * proxy's own isolate, created at start-up, compiling in the background as before.
 */
import { setFlagsFromString } from 'node:v8';

let done = false;

/** Call before creating an isolate. */
export function compileIsolatesInline(): void {
  if (done) return;
  done = true;
  setFlagsFromString('--no-concurrent-recompilation');
}
