import { expect } from 'chai';
import { clientAddress } from '../../../src/core/client-address.js';

const trust = (...ips: string[]) => ({ isTrusted: (ip: string) => ips.includes(ip) });

describe('clientAddress', () => {
  it('is the peer when there is no X-Forwarded-For or the peer is not trusted', () => {
    expect(clientAddress('10.0.0.1', undefined, trust('10.0.0.1'))).to.equal('10.0.0.1');
    expect(clientAddress('203.0.113.9', '1.2.3.4', trust('10.0.0.1'))).to.equal('203.0.113.9');
  });
  it('walks right to left past trusted proxies to the first untrusted address', () => {
    expect(clientAddress('10.0.0.1', '1.2.3.4', trust('10.0.0.1'))).to.equal('1.2.3.4');
    expect(clientAddress('10.0.0.1', '6.6.6.6, 1.2.3.4, 10.0.0.2', trust('10.0.0.1', '10.0.0.2'))).to.equal('1.2.3.4');
    expect(clientAddress('10.0.0.1', ['6.6.6.6', '1.2.3.4'], trust('10.0.0.1'))).to.equal('1.2.3.4');
  });
  it('takes the left-most address when every hop is trusted', () => {
    expect(clientAddress('10.0.0.1', '10.0.0.3, 10.0.0.2', trust('10.0.0.1', '10.0.0.2', '10.0.0.3'))).to.equal('10.0.0.3');
  });
  it('strips ports and brackets, and stops at garbage', () => {
    expect(clientAddress('10.0.0.1', '1.2.3.4:5678', trust('10.0.0.1'))).to.equal('1.2.3.4');
    expect(clientAddress('10.0.0.1', '[2001:db8::1]:443', trust('10.0.0.1'))).to.equal('2001:db8::1');
    expect(clientAddress('10.0.0.1', '2001:db8::2', trust('10.0.0.1'))).to.equal('2001:db8::2');
    expect(clientAddress('10.0.0.1', 'evil, unknown', trust('10.0.0.1'))).to.equal('10.0.0.1');
  });
});
