/**
 * Child process for call-watchdog.test.ts: loads a plugin, makes watched calls, then leaves the way
 * argv[3] says — `close` (close the plugin, let the event loop empty), `exit` (process.exit while
 * the watchdog runs), `throw` (an uncaught exception while it runs), `forget` (never close).
 */
import { Plugin } from '../../../src/plugins/plugin.js';
import { watchdogState } from '../../../src/plugins/call-watchdog.js';
import { requestViewFrom } from '../../../src/plugins/request-view.js';

const [file, how] = process.argv.slice(2);
const plugin = Plugin.load({ name: 'child', file: file!, watchdogIntervalMs: 0 });
plugin.onRequest(requestViewFrom({}));
await new Promise((r) => setTimeout(r, 50));
plugin.onRequest(requestViewFrom({}));
process.stdout.write(`generation ${watchdogState().generation}\n`);
if (how === 'close') plugin.close();
else if (how === 'exit') process.exit(0);
else if (how === 'throw') throw new Error('uncaught on purpose');
