import { expect } from 'chai';
import { ERROR_TABLE, ProxyError, toProxyError } from '../../../src/core/errors.js';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('error table', () => {
  it('maps upstream failures to the statuses and Proxy-Status types of the contract', () => {
    const cases: [string, number, string][] = [
      ['ECONNREFUSED', 502, 'connection_refused'],
      ['ECONNRESET', 502, 'connection_terminated'],
      ['ENOTFOUND', 502, 'dns_error'],
      ['UND_ERR_CONNECT_TIMEOUT', 504, 'connection_timeout'],
      ['UND_ERR_HEADERS_TIMEOUT', 504, 'http_response_timeout'],
      ['UND_ERR_BODY_TIMEOUT', 504, 'http_response_timeout'],
      ['HPE_INVALID_CHUNK_SIZE', 502, 'http_protocol_error'],
    ];
    for (const [code, status, type] of cases) {
      const e = toProxyError(coded(code));
      expect([code, e.status, e.proxyStatus]).to.deep.equal([code, status, type]);
    }
  });

  it('gives unknown errors 500 and keeps ProxyErrors as they are', () => {
    expect(toProxyError(new Error('boom')).status).to.equal(500);
    const denied = new ProxyError('denied', 'nope');
    expect(toProxyError(denied)).to.equal(denied);
  });

  it('has a status and an RFC 9209 error type for every kind', () => {
    for (const [kind, row] of Object.entries(ERROR_TABLE)) {
      expect(row.status, kind).to.be.within(400, 599);
      expect(row.proxyStatus, kind).to.match(/^[a-z_]+$/);
    }
  });
});
