/**
 * `gatehouse [--config FILE]`: validates, starts, and handles SIGHUP (reload) and SIGTERM/SIGINT (drain).
 * With `workers` other than 1 it runs as a cluster primary or worker instead (src/cluster/).
 */
import type { Server } from 'node:http';
import { ConfigError, loadConfig } from '../config/load.js';
import { createLogger, flushLogger } from '../observability/logger.js';
import { Gateway } from '../gateway.js';
import { startDemoOrigins } from '../demo/demo-origins.js';
import { runtimeProblems } from '../checks/runtime-checks.js';
import { logRoutingPluginWarnings } from '../checks/routing-plugin-check.js';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { runWorker } from '../cluster/worker.js';
import { runPrimary } from '../cluster/primary.js';
import { StopSignals } from './stop-signals.js';
import { reloadFromFile } from './reload-from-file.js';

export async function runProxy(configFile: string, err: (line: string) => void): Promise<number> {
  // A cluster worker gets its validated config from the primary (src/cluster/).
  if (cluster.isWorker) return runWorker();
  const signals = new StopSignals();
  let config;
  try {
    config = loadConfig(configFile);
  } catch (e) {
    if (e instanceof ConfigError) { e.problems.forEach((p) => err(p)); return 1; }
    throw e;
  }
  const workers = config.workers === 0 ? availableParallelism() : config.workers;
  // one process loads its plugins in gateway.start(), before it listens; a primary checks them for its workers
  const problems = await runtimeProblems(config, { plugins: workers > 1 });
  if (problems.length) { problems.forEach((p) => err(p)); return 1; }
  if (workers > 1) return runPrimary(configFile, config, workers, err, signals);

  const log = createLogger({ level: config.log.level, format: config.log.format, file: config.log.file, nodeId: config.node_id });
  let demo: Server[] = [];
  const reload = (): Promise<string[]> => reloadFromFile(configFile, gateway, log);
  await logRoutingPluginWarnings(config, log);
  const gateway = new Gateway(config, log, reload);
  try {
    demo = await startDemoOrigins(config.demo_origins);
    await gateway.start();
  } catch (e) {
    err((e as Error).message);
    demo.forEach((s) => s.close());
    await flushLogger(log);
    return 1;
  }

  return new Promise((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      await gateway.stop();
      for (const s of demo) { s.closeAllConnections(); s.close(); }
      await flushLogger(log);
      resolve(0);
    };
    signals.onStop((signal) => void stop(signal));
    process.on('SIGHUP', () => { log.info('SIGHUP: reloading'); void reload(); });
  });
}
