/**
 * `workers` > 1: the primary process. It never serves proxy traffic: it starts the demo origins and the admin
 * API, forks the workers (which share the listening sockets; node's round-robin hands out connections), and
 * turns signals into cluster-wide actions: SIGHUP validates and then reloads every worker, SIGTERM/SIGINT drain them.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/types.js';
import { createLogger, flushLogger } from '../observability/logger.js';
import { startDemoOrigins } from '../demo/demo-origins.js';
import { AdminServer } from '../admin/admin-server.js';
import type { AdminReply } from '../admin/admin-target.js';
import { loadCheckedConfig } from '../checks/load-checked-config.js';
import { logRoutingPluginWarnings } from '../checks/routing-plugin-check.js';
import { ClusterAdminTarget } from './cluster-target.js';
import { StartFailed, Supervisor } from './supervisor.js';
import { defaultViaName } from '../core/via.js';

const RELOAD_TIMEOUT_MS = 30_000;

/** Where SIGTERM/SIGINT come from (the command line's StopSignals, caught from the start). */
interface StopSource { onStop(stop: (signal: NodeJS.Signals) => void): void }

export async function runPrimary(
  configFile: string, loaded: GatehouseConfig, count: number, err: (line: string) => void, signals: StopSource,
): Promise<number> {
  // one Via name for every worker, so a loop through any of them is seen at once
  const config = loaded.via_name ? loaded : { ...loaded, via_name: defaultViaName(loaded.node_id) };
  const log = createLogger({ level: config.log.level, format: config.log.format, file: config.log.file, nodeId: config.node_id, shared: true });
  const supervisor = new Supervisor(count, config, log);
  const reload = (): Promise<AdminReply> => supervisor.exclusive(() => reloadWorkers(configFile, supervisor, log));
  const admin = config.admin.listen ? new AdminServer(config.admin, new ClusterAdminTarget(supervisor, reload)) : undefined;
  let demo: Server[] = [];
  await logRoutingPluginWarnings(config, log);
  try {
    demo = await startDemoOrigins(config.demo_origins);
    await admin?.start();
    await supervisor.start();
  } catch (e) {
    (e instanceof StartFailed ? e.problems : [(e as Error).message]).forEach((p) => err(p));
    await supervisor.stop('SIGTERM');
    await admin?.stop();
    demo.forEach((s) => s.close());
    await flushLogger(log);
    return 1;
  }

  return new Promise((resolve) => {
    let stopping = false;
    const stop = async (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, workers: supervisor.running.length }, 'shutting down: draining workers');
      await supervisor.stop(signal);
      await admin?.stop();
      for (const s of demo) { s.closeAllConnections(); s.close(); }
      log.info('stopped');
      await flushLogger(log);
      resolve(0);
    };
    signals.onStop((signal) => void stop(signal));
    process.on('SIGHUP', () => { log.info('SIGHUP: reloading'); void reload(); });
  });
}

/** Validates the config source here first (a bad one never reaches a worker), then has every worker apply it. */
async function reloadWorkers(configFile: string, supervisor: Supervisor, log: Logger): Promise<AdminReply> {
  const checked = await loadCheckedConfig(configFile, log);
  if ('problems' in checked) return [422, { reloaded: false, problems: checked.problems }];
  const next = checked.config;
  const old = supervisor.config;
  if (next.workers !== old.workers) log.warn({ from: old.workers, to: next.workers }, 'workers: a new count takes effect on restart');
  if (next.admin.listen !== old.admin.listen || next.demo_origins.join() !== old.demo_origins.join()) {
    log.warn('admin.listen and demo_origins: changes take effect on restart');
  }
  const results = await supervisor.broadcast({ op: 'reload', config: next }, RELOAD_TIMEOUT_MS);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    // All or nothing: workers that did apply it go back to the old config, so every worker serves the same one.
    const applied = results.filter((r) => r.ok).map((r) => r.worker);
    await Promise.all(applied.map((w) => supervisor.call(w, { op: 'reload', config: old }, RELOAD_TIMEOUT_MS)));
    const errors = failed.map((r) => (r.ok ? '' : r.error));
    log.error({ problems: errors }, 'reload refused by a worker');
    return [422, { reloaded: false, problems: [...new Set(errors)] }];
  }
  supervisor.adopt(next);
  log.info({ workers: results.length }, 'config reloaded');
  return [200, { reloaded: true }];
}
