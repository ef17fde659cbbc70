/** The forward mode's fields of a request context (core/context.ts RequestSlots). */
declare module '../core/context.js' {
  interface RequestSlots {
    /** Authenticated user (Proxy-Authorization). */
    user?: string;
  }
}

export {};
