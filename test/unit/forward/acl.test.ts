import { expect } from 'chai';
import { compileAcl, type Acl, type AclRequest } from '../../../src/forward/acl.js';

function acl(rules: unknown): Acl {
  const r = compileAcl(rules);
  if (!r.acl) throw new Error(r.errors.join('\n'));
  return r.acl;
}

const base: AclRequest = { srcIp: '127.0.0.1', host: 'example.com', port: 443, method: 'GET' };

describe('forward/acl', () => {
  it('first match wins; no match is deny', () => {
    const a = acl([
      { name: 'block-evil', deny: { dst_domain: ['evil.test'] } },
      { allow: { src: ['127.0.0.0/8'] } },
    ]);
    expect(a.evaluate({ ...base, host: 'evil.test' })).to.deep.equal({ action: 'deny', rule: 'block-evil', index: 0, authRequired: false });
    expect(a.evaluate(base)).to.deep.equal({ action: 'allow', rule: 'acl[1]', index: 1, authRequired: false });
    expect(a.evaluate({ ...base, srcIp: '10.0.0.1' })).to.deep.equal({ action: 'deny', rule: 'default', index: -1, authRequired: false });
    expect(acl([]).evaluate(base).action).to.equal('deny');
  });

  it('src: IPv4, IPv6, IPv4-mapped peers, zone ids', () => {
    const a = acl([{ allow: { src: ['10.0.0.0/8', '::1/128', 'fd00::/8', '192.0.2.7'] } }]);
    for (const ip of ['10.2.3.4', '::ffff:10.2.3.4', '::1', 'fd12::1', '192.0.2.7', 'fd00::1%eth0']) expect(a.evaluate({ ...base, srcIp: ip }).action, ip).to.equal('allow');
    for (const ip of ['11.0.0.1', '::2', '192.0.2.8', '::ffff:11.0.0.1', 'garbage', '']) expect(a.evaluate({ ...base, srcIp: ip }).action, ip).to.equal('deny');
    // A mapped CIDR in config is read as IPv4.
    expect(acl([{ allow: { src: '::ffff:127.0.0.0/104' } }]).evaluate(base).action).to.equal('allow');
  });

  it('dst_domain: exact, *. and . forms, case and trailing dot', () => {
    const a = acl([{ allow: { dst_domain: ['example.com', '*.wild.test', '.squid.test'] } }]);
    for (const h of ['example.com', 'EXAMPLE.COM.', 'a.wild.test', 'squid.test', 'x.squid.test']) expect(a.evaluate({ ...base, host: h }).action, h).to.equal('allow');
    for (const h of ['www.example.com', 'wild.test', 'other.test']) expect(a.evaluate({ ...base, host: h }).action, h).to.equal('deny');
  });

  it('dst_port: numbers and ranges; method: any case', () => {
    const a = acl([{ allow: { dst_port: [443, '8000-8999', '22'], method: ['connect'] } }]);
    expect(a.evaluate({ ...base, method: 'CONNECT', port: 443 }).action).to.equal('allow');
    expect(a.evaluate({ ...base, method: 'CONNECT', port: 8500 }).action).to.equal('allow');
    expect(a.evaluate({ ...base, method: 'CONNECT', port: 22 }).action).to.equal('allow');
    expect(a.evaluate({ ...base, method: 'CONNECT', port: 9000 }).action).to.equal('deny');
    expect(a.evaluate({ ...base, method: 'GET', port: 443 }).action).to.equal('deny');
  });

  it('all conditions of a rule must hold (AND)', () => {
    const a = acl([{ allow: { src: ['127.0.0.1'], dst_domain: ['ok.test'], dst_port: [80] } }]);
    expect(a.evaluate({ ...base, host: 'ok.test', port: 80 }).action).to.equal('allow');
    expect(a.evaluate({ ...base, host: 'ok.test', port: 81 }).action).to.equal('deny');
    expect(a.evaluate({ ...base, host: 'no.test', port: 80 }).action).to.equal('deny');
  });

  it('user and group; anonymous requests get authRequired (407) from the first rule needing identity', () => {
    const a = acl([
      { name: 'public', allow: { dst_domain: ['public.test'] } },
      { name: 'staff', allow: { group: ['staff'] } },
      { name: 'alice', allow: { user: ['alice'], dst_port: [8443] } },
    ]);
    expect(a.usesIdentity).to.equal(true);
    expect(a.evaluate({ ...base, host: 'public.test' })).to.include({ action: 'allow', rule: 'public' });
    expect(a.evaluate(base)).to.deep.equal({ action: 'deny', rule: 'staff', index: 1, authRequired: true });
    expect(a.evaluate({ ...base, user: 'bob', groups: new Set(['staff']) })).to.include({ action: 'allow', rule: 'staff' });
    expect(a.evaluate({ ...base, user: 'alice', port: 8443 })).to.include({ action: 'allow', rule: 'alice' });
    expect(a.evaluate({ ...base, user: 'alice', port: 443 })).to.deep.equal({ action: 'deny', rule: 'default', index: -1, authRequired: false });
    expect(a.evaluate({ ...base, user: 'Alice', port: 8443 }).action).to.equal('deny');
    expect(acl([{ allow: {} }]).usesIdentity).to.equal(false);
  });

  it('time: days, hours (end exclusive, across midnight) in a zone', () => {
    const a = acl([{ allow: { time: { days: ['mon-fri'], hours: '08:00-18:00', zone: 'Europe/Paris' } } }]);
    const at = (iso: string) => a.evaluate({ ...base, now: new Date(iso) }).action;
    expect(at('2024-01-15T07:00:00Z')).to.equal('allow'); // Mon 08:00 Paris (UTC+1)
    expect(at('2024-01-15T06:59:00Z')).to.equal('deny'); // Mon 07:59
    expect(at('2024-01-15T16:59:00Z')).to.equal('allow'); // Mon 17:59
    expect(at('2024-01-15T17:00:00Z')).to.equal('deny'); // Mon 18:00
    expect(at('2024-01-13T10:00:00Z')).to.equal('deny'); // Sat
    expect(at('2024-07-15T06:30:00Z')).to.equal('allow'); // Mon 08:30 Paris (UTC+2, DST)
    const night = acl([{ allow: { time: { hours: ['22:00-06:00'], zone: 'UTC' } } }]);
    expect(night.evaluate({ ...base, now: new Date('2024-01-15T23:30:00Z') }).action).to.equal('allow');
    expect(night.evaluate({ ...base, now: new Date('2024-01-16T05:59:00Z') }).action).to.equal('allow');
    expect(night.evaluate({ ...base, now: new Date('2024-01-16T06:00:00Z') }).action).to.equal('deny');
    const weekend = acl([{ allow: { time: { days: ['sat', 'Sunday'], zone: 'UTC' } } }]);
    expect(weekend.evaluate({ ...base, now: new Date('2024-01-14T12:00:00Z') }).action).to.equal('allow');
    expect(weekend.evaluate({ ...base, now: new Date('2024-01-15T12:00:00Z') }).action).to.equal('deny');
  });

  it('reports every compile problem as key: message', () => {
    const r = compileAcl([
      { allow: { src: ['10.0.0.0/33', 'nope'], dst_port: ['0', '9000-8000', 'x'], dst_domain: ['a..b'], method: ['GE T'], colour: 'red' } },
      { allow: {}, deny: {} },
      { permit: {} },
      { deny: { time: { days: ['funday'], hours: '25:00-26:00', zone: 'Mars/Olympus' } } },
      { name: 5, allow: { user: [''] } },
      'allow all',
    ], 'forward[0].acl');
    expect(r.acl).to.equal(undefined);
    const errors = r.errors!;
    for (const key of ['forward[0].acl[0].allow.src[0]', 'forward[0].acl[0].allow.src[1]', 'forward[0].acl[0].allow.dst_port[0]', 'forward[0].acl[0].allow.dst_port[1]',
      'forward[0].acl[0].allow.dst_port[2]', 'forward[0].acl[0].allow.dst_domain[0]', 'forward[0].acl[0].allow.method', 'forward[0].acl[0].allow.colour',
      'forward[0].acl[1]', 'forward[0].acl[2].permit', 'forward[0].acl[3].deny.time.days[0]', 'forward[0].acl[3].deny.time.hours[0]',
      'forward[0].acl[3].deny.time.zone', 'forward[0].acl[4].name', 'forward[0].acl[4].allow.user[0]', 'forward[0].acl[5]']) {
      expect(errors.some((e) => e.startsWith(`${key}: `)), `${key} in\n${errors.join('\n')}`).to.equal(true);
    }
    expect(compileAcl('nope').errors).to.deep.equal(['acl: must be a list of { allow: {…} } or { deny: {…} } rules']);
  });
});
