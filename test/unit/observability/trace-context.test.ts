import { expect } from 'chai';
import { newTraceId, parseTraceparent } from '../../../src/observability/trace-context.js';

describe('trace context: traceparent parsing', () => {
  const T = '4bf92f3577b34da6a3ce929d0e0e4736';
  const P = '00f067aa0ba902b7';
  it('accepts version 00 exactly and later versions by their known prefix', () => {
    expect(parseTraceparent(`00-${T}-${P}-01`)).to.deep.equal({ traceId: T, parentId: P, flags: '01' });
    expect(parseTraceparent(`cc-${T}-${P}-09-more`)).to.deep.equal({ traceId: T, parentId: P, flags: '09' });
  });
  it('refuses what the spec says is invalid', () => {
    for (const v of [undefined, '', `00-${T}-${P}-01-x`, `ff-${T}-${P}-01`, `0-${T}-${P}-01`, `00-${T.slice(1)}-${P}-01`,
      `00-${T}-${P}-1`, `00-${'0'.repeat(32)}-${P}-01`, `00-${T}-${'0'.repeat(16)}-01`, `00-${T.toUpperCase()}-${P}-01`,
      `cc-${T}-${P}-01x`, `00-${T}-${P}-zz`]) {
      expect(parseTraceparent(v), String(v)).to.equal(undefined);
    }
    expect(parseTraceparent([`00-${T}-${P}-01`, `00-${T}-${P}-01`])).to.equal(undefined);
  });
  it('a new trace id is the request id when it is a UUID, else random hex', () => {
    expect(newTraceId('0F8FAD5B-D9CB-469F-A165-70867728950E')).to.equal('0f8fad5bd9cb469fa16570867728950e');
    expect(newTraceId('order-42')).to.match(/^[0-9a-f]{32}$/);
    expect(newTraceId('00000000-0000-0000-0000-000000000000')).to.not.match(/^0+$/);
  });
});
