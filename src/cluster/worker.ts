/**
 * A cluster worker: takes its (already validated) config from the primary, runs a Gateway without the admin
 * listener (the primary serves it), answers the primary's calls, and drains on SIGTERM/SIGINT.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/types.js';
import { createLogger, flushLogger } from '../observability/logger.js';
import { Gateway } from '../gateway.js';
import { GatewayAdminTarget } from '../admin/gateway-target.js';
import { isGatehouseMessage, type FromWorker, type ToWorker, type WorkerCall } from './ipc.js';

const send = (m: FromWorker) => { if (process.connected) process.send!(m); };

/** The primary owns the admin listener; a worker binding it too would fail with EADDRINUSE. */
const withoutAdmin = (config: GatehouseConfig): GatehouseConfig => ({ ...config, admin: { ...config.admin, listen: '' } });

export async function runWorker(): Promise<number> {
  const id = cluster.worker!.id;
  let requestStop!: (signal: string) => void;
  const stopRequested = new Promise<string>((resolve) => { requestStop = resolve; });
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  process.on('SIGINT', () => requestStop('SIGINT'));
  // Reloads come from the primary; a terminal's hangup reaching the whole process group must not kill workers.
  process.on('SIGHUP', () => undefined);
  // The primary is gone (killed): nobody supervises us any more, so drain and leave.
  process.on('disconnect', () => requestStop('disconnect'));

  const start = await Promise.race([startMessage(), stopRequested.then(() => null)]);
  if (!start) return 0;
  const { config, replay, ticketSecret } = start;
  const log = createLogger({ level: config.log.level, format: config.log.format, file: config.log.file, nodeId: config.node_id, worker: id });
  let gateway: Gateway;
  try {
    gateway = new Gateway(withoutAdmin(config), log, undefined, { ticketSecret: Buffer.from(ticketSecret, 'hex') });
    const admin = new GatewayAdminTarget(gateway);
    // Runtime pool changes made before this worker existed (it may be a replacement).
    for (const change of replay) await (admin[change.method] as (...a: unknown[]) => Promise<unknown>)(...change.args);
    await gateway.start();
  } catch (e) {
    send({ gh: 'failed', problems: [(e as Error).message] });
    await flushLogger(log);
    return 1;
  }
  process.on('message', (m) => {
    if (isGatehouseMessage<ToWorker>(m) && m.gh === 'call') void answer(gateway, log, m.id, m.call);
  });
  send({ gh: 'ready' });

  const signal = await stopRequested;
  log.info({ signal }, 'shutting down');
  await gateway.stop();
  await flushLogger(log);
  return 0;
}

/** Says hello (so the primary knows we listen) and waits for the config. */
function startMessage(): Promise<Extract<ToWorker, { gh: 'start' }>> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown) => {
      if (!isGatehouseMessage<ToWorker>(m) || m.gh !== 'start') return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    send({ gh: 'hello' });
  });
}

async function answer(gateway: Gateway, log: Logger, id: number, call: WorkerCall): Promise<void> {
  try {
    send({ gh: 'reply', id, ok: true, value: await perform(gateway, call) });
  } catch (e) {
    if (call.op === 'reload') log.error({ problems: [(e as Error).message] }, 'reload refused');
    send({ gh: 'reply', id, ok: false, error: (e as Error).message });
  }
}

async function perform(gateway: Gateway, call: WorkerCall): Promise<unknown> {
  switch (call.op) {
    case 'status': return gateway.status();
    case 'metrics': return gateway.metrics.registry.getMetricsAsJSON();
    case 'reload': await gateway.reload(withoutAdmin(call.config)); return true;
    case 'admin': {
      const target = new GatewayAdminTarget(gateway);
      return (target[call.change.method] as (...a: unknown[]) => Promise<unknown>)(...call.change.args);
    }
  }
}
