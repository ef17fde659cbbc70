/** The shapes of the cache-tests suite's definitions (plain JS objects, read from the git-ignored suite dir). */

/** [name, value, checkOnClient?]; numbers in date headers are seconds relative to the server's "now". */
export type HeaderSpec = [string, string | number, ...unknown[]];
/** Either a header name (present/missing), [name, value], or [name, '=' | '>', operand]. */
export type ExpectedHeader = string | [string, ...unknown[]];

export interface RequestConfig {
  id: string;
  name?: string;
  setup?: boolean;
  setup_tests?: string[];
  pause_after?: boolean;
  request_method?: string;
  request_headers?: [string, string][];
  request_body?: string;
  response_status?: [number, string];
  response_headers?: HeaderSpec[];
  response_body?: string | null;
  response_pause?: number;
  expected_type?: 'cached' | 'not_cached' | 'lm_validated' | 'etag_validated';
  expected_status?: number | null;
  expected_response_headers?: ExpectedHeader[];
  expected_response_headers_missing?: ExpectedHeader[];
  expected_request_headers?: ExpectedHeader[];
  expected_request_headers_missing?: ExpectedHeader[];
  expected_response_text?: string | null;
  expected_method?: string;
  check_body?: boolean;
  magic_locations?: boolean;
  magic_ims?: boolean;
  rfc850date?: string[];
  filename?: string;
  query_arg?: string;
  disconnect?: boolean;
  redirect?: string;
  [other: string]: unknown;
}

export interface TestDef {
  id: string;
  name: string;
  kind?: 'required' | 'optimal' | 'check';
  depends_on?: string[];
  browser_only?: boolean;
  browser_skip?: boolean;
  cdn_only?: boolean;
  requests: RequestConfig[];
}

export interface Suite { id: string; name: string; tests: TestDef[] }

/** true = pass; otherwise [kind of failure, message] as the suite's client records it. */
export type Result = true | ['Setup' | 'Assertion' | string, string];

export class SetupError extends Error { override name = 'Setup'; }
export class AssertionError extends Error { override name = 'Assertion'; }

/** The suite's assert: a failed check on a request marked setup is a setup failure, not a test failure. */
export function assert(isSetup: boolean, ok: boolean, message: string): void {
  if (ok) return;
  throw isSetup ? new SetupError(message) : new AssertionError(message);
}

export function setupCheck(req: RequestConfig, member: string): boolean {
  return req.setup === true || (req.setup_tests?.includes(member) ?? false);
}
