/**
 * The one table that maps what went wrong to a status code and an RFC 9209 Proxy-Status error type.
 * Every error the proxy answers with goes through here.
 */
import { STATUS_CODES } from 'node:http';

export const ERROR_TABLE = {
  bad_request: { status: 400, proxyStatus: 'http_request_error', text: 'Bad Request' },
  denied: { status: 403, proxyStatus: 'http_request_denied', text: 'Forbidden' },
  destination_prohibited: { status: 403, proxyStatus: 'destination_ip_prohibited', text: 'Forbidden' },
  no_route: { status: 404, proxyStatus: 'destination_not_found', text: 'Not Found' },
  auth_required: { status: 407, proxyStatus: 'http_request_denied', text: 'Proxy Authentication Required' },
  header_timeout: { status: 408, proxyStatus: 'http_request_error', text: 'Request Timeout' },
  method_not_allowed: { status: 405, proxyStatus: 'http_request_error', text: 'Method Not Allowed' },
  body_timeout: { status: 408, proxyStatus: 'http_request_error', text: 'Request Timeout' },
  body_too_large: { status: 413, proxyStatus: 'http_request_error', text: 'Content Too Large' },
  rate_limited: { status: 429, proxyStatus: 'http_request_denied', text: 'Too Many Requests' },
  headers_too_large: { status: 431, proxyStatus: 'http_request_error', text: 'Request Header Fields Too Large' },
  version_not_supported: { status: 505, proxyStatus: 'http_request_error', text: 'HTTP Version Not Supported' },
  loop_detected: { status: 508, proxyStatus: 'proxy_loop_detected', text: 'Loop Detected' },
  internal: { status: 500, proxyStatus: 'proxy_internal_error', text: 'Internal Server Error' },
  connection_refused: { status: 502, proxyStatus: 'connection_refused', text: 'Bad Gateway' },
  connection_terminated: { status: 502, proxyStatus: 'connection_terminated', text: 'Bad Gateway' },
  dns_error: { status: 502, proxyStatus: 'dns_error', text: 'Bad Gateway' },
  upstream_protocol: { status: 502, proxyStatus: 'http_protocol_error', text: 'Bad Gateway' },
  upstream_failed: { status: 502, proxyStatus: 'destination_unavailable', text: 'Bad Gateway' },
  tls_certificate_error: { status: 502, proxyStatus: 'tls_certificate_error', text: 'Bad Gateway' },
  no_healthy_upstream: { status: 503, proxyStatus: 'destination_unavailable', text: 'Service Unavailable' },
  upstream_busy: { status: 503, proxyStatus: 'connection_limit_reached', text: 'Service Unavailable' },
  plugin_failed: { status: 503, proxyStatus: 'proxy_internal_error', text: 'Service Unavailable' },
  connection_timeout: { status: 504, proxyStatus: 'connection_timeout', text: 'Gateway Timeout' },
  response_timeout: { status: 504, proxyStatus: 'http_response_timeout', text: 'Gateway Timeout' },
  not_cached: { status: 504, proxyStatus: 'proxy_internal_response', text: 'Gateway Timeout' },
  client_closed: { status: 499, proxyStatus: 'proxy_internal_response', text: 'Client Closed Request' },
  send_timeout: { status: 499, proxyStatus: 'connection_write_timeout', text: 'Client Closed Request' },
} as const satisfies Record<string, { status: number; proxyStatus: string; text: string }>;

export type ErrorKind = keyof typeof ERROR_TABLE;

/**
 * An error the proxy answers with its own response. `detail` reaches the client; keep it free of secrets.
 * `status` overrides the table's (a plugin's `deny` picks its own status, e.g. 429), keeping the kind's Proxy-Status.
 */
export class ProxyError extends Error {
  readonly status: number;
  readonly proxyStatus: string;
  /** Reason phrase for the status (the table's, or node's for an overridden status). */
  readonly text: string;
  /** Seconds for a Retry-After header (503 when a pool is saturated). */
  readonly retryAfter?: number;
  constructor(readonly kind: ErrorKind, readonly detail = '', options?: { cause?: unknown; status?: number; retryAfter?: number }) {
    super(detail || ERROR_TABLE[kind].text, options);
    this.name = 'ProxyError';
    const status = options?.status;
    this.status = status ?? ERROR_TABLE[kind].status;
    this.text = status === undefined || status === ERROR_TABLE[kind].status ? ERROR_TABLE[kind].text : STATUS_CODES[status] ?? ERROR_TABLE[kind].text;
    this.proxyStatus = ERROR_TABLE[kind].proxyStatus;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }

  /** Caused by the client (it left, stopped reading, or sent its body too slowly): never an upstream's fault. */
  get clientCaused(): boolean {
    return this.kind === 'client_closed' || this.kind === 'send_timeout' || this.kind === 'body_timeout';
  }
}

/** Error codes of node:net, node:dns and undici, by what they mean for the client. */
const CODE_TO_KIND: Record<string, ErrorKind> = {
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_terminated',
  EPIPE: 'connection_terminated',
  UND_ERR_SOCKET: 'connection_terminated',
  UND_ERR_CLOSED: 'connection_terminated',
  ENOTFOUND: 'dns_error',
  EAI_AGAIN: 'dns_error',
  EHOSTUNREACH: 'upstream_failed',
  ENETUNREACH: 'upstream_failed',
  EADDRNOTAVAIL: 'upstream_failed',
  UND_ERR_CONNECT_TIMEOUT: 'connection_timeout',
  ETIMEDOUT: 'connection_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'response_timeout',
  UND_ERR_BODY_TIMEOUT: 'response_timeout',
  HPE_INVALID_CONSTANT: 'upstream_protocol',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'upstream_protocol',
  UND_ERR_INFO: 'upstream_protocol',
  // undici refuses to send a request it finds malformed (header bytes, duplicate Host): the client's request
  UND_ERR_INVALID_ARG: 'bad_request',
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 'bad_request',
  UND_ERR_ABORTED: 'client_closed',
  UND_ERR_ABORT: 'client_closed',
  ABORT_ERR: 'client_closed',
  // the destination's certificate did not verify (OpenSSL's codes, and node's name check)
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls_certificate_error',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls_certificate_error',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls_certificate_error',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls_certificate_error',
  CERT_HAS_EXPIRED: 'tls_certificate_error',
  CERT_NOT_YET_VALID: 'tls_certificate_error',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls_certificate_error',
};

/** The only place an unknown error gets a status: 502 for anything from upstream I/O, else 500. */
export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  // undici's llhttp refusing an upstream response (some carry no code)
  if ((err as Error | null)?.name === 'HTTPParserError') return new ProxyError('upstream_protocol', '', { cause: err });
  const code = (err as { code?: string } | null)?.code;
  const kind = code ? CODE_TO_KIND[code] ?? (code.startsWith('HPE_') ? 'upstream_protocol' : code.startsWith('UND_ERR') || code.startsWith('E') ? 'upstream_failed' : 'internal') : 'internal';
  return new ProxyError(kind, '', { cause: err });
}
