/** The reverse mode's fields of a request context (core/context.ts RequestSlots). */
declare module '../core/context.js' {
  interface RequestSlots {
    /** Pool the request goes to: the route's, or a routing plugin's choice. */
    pool?: string;
    /** An upstream id (origin) of `pool` a routing plugin chose; the proxy stage tries it first. */
    pinnedUpstream?: string;
  }
}

export {};
