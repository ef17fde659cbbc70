/** Picks the route (first match): its pool and strip_prefix. `respond` routes are answered later, by respondStage. */
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import { normaliseHost } from '../core/host.js';
import type { CompiledRoute, RouteTable } from './route-table.js';

export function routeStage(table: () => RouteTable): Stage {
  return {
    name: 'route',
    handle(ctx, next) {
      const route: CompiledRoute | undefined = table().match(normaliseHost(ctx.req.headers.host), ctx.path, ctx.req.headers);
      if (!route) throw new ProxyError('no_route', 'no route matches this request');
      ctx.route = route;
      ctx.trace?.step('route', { route: route.name, pool: route.respond ? undefined : route.pool, respond: route.respond?.status });
      if (ctx.upgrade && !route.upgrades.has(ctx.upgrade.protocol)) {
        throw new ProxyError('denied', `upgrade to ${ctx.upgrade.protocol} is not allowed on this route`);
      }
      if (route.respond) return next();
      ctx.slots.pool = route.pool;
      if (route.stripPrefix) {
        const rest = ctx.path.slice(route.pathPrefix.length);
        ctx.path = rest.startsWith('/') ? rest : `/${rest}`;
      }
      return next();
    },
  };
}
