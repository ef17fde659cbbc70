/**
 * The validated, normalised configuration (durations in ms, sizes in bytes), as TypeScript types derived
 * from the schema (schema.ts): a key added to the schema appears here, a key removed is a compile error
 * wherever it is read. Only what the loader's `finish` step fills in is written by hand below.
 */
import type { ObjectValue, ValueOf } from './shape.js';
import type { forwardShape, http2Shape, listSections, poolShape, reverseShape, tcpShape, topSchema } from './schema.js';

/** The value convict gives a leaf of this format, after units are converted. */
type ConvictValue<F> =
  F extends StringConstructor ? string
    : F extends BooleanConstructor ? boolean
      : F extends readonly (infer U)[] ? U
        : F extends 'duration' | 'size' | 'nat' ? number
          : F extends 'cidr-list' | 'listen-list' ? string[]
            : F extends 'listen' | 'redis-url' | 'otlp-url' ? string
              : never;

/** The value of a convict schema node: a leaf (`format` and `default`) or an object of nodes. */
type ConvictConfig<S> = {
  -readonly [K in keyof S]: S[K] extends { readonly format: infer F; readonly default: unknown } ? ConvictValue<F> : ConvictConfig<S[K]>;
};

type Top = ConvictConfig<typeof topSchema>;
type Lists = ObjectValue<typeof listSections>;

export type Limits = Top['limits'];
export type Http2Options = ValueOf<typeof http2Shape>;
export type TcpListener = ValueOf<typeof tcpShape>;
export type PoolConfig = ValueOf<typeof poolShape>;

type ForwardShape = ValueOf<typeof forwardShape>;
/** `limits` is the top-level limits with this listener's overrides merged in. */
export type ForwardListener = Omit<ForwardShape, 'limits'> & { limits: Limits };
export type AclMatch = NonNullable<ForwardShape['acl'][number]['allow']>;
/** A plugin entry: a file name, or a file with options and an error policy. */
export type PluginEntry = ForwardShape['plugins'][number];

type ReverseShape = ValueOf<typeof reverseShape>;
type RouteShape = ReverseShape['routes'][number];
/** `name` defaults to `route<index>`. */
export type Route = Omit<RouteShape, 'name'> & { name: string };
export type ReverseTls = NonNullable<ReverseShape['tls']>;
export type AcmeConfig = NonNullable<ReverseTls['acme']>;
/** `limits` merged as on forward listeners; `http2: true` is expanded to the default options, so `false` means HTTP/1.1 only. */
export type ReverseListener = Omit<ReverseShape, 'limits' | 'routes' | 'http2'> & {
  limits: Limits;
  routes: Route[];
  http2: Http2Options | false;
};

export type GatehouseConfig = Top & Omit<Lists, 'forward' | 'reverse'> & {
  forward: ForwardListener[];
  reverse: ReverseListener[];
};

/**
 * Compile-time check that a listener's `limits` overrides (schema.ts, a list of its own because the
 * listener form has other bounds) name exactly the top-level limits, with the same value types.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type LimitsOverride = ForwardShape['limits'];
type Assert<T extends true> = T;
export type LimitsOverrideMatches = Assert<Same<Required<LimitsOverride>, Omit<Limits, 'rate'> & { rate: Partial<Limits['rate']> }>>;
