import assert from 'node:assert/strict';
import { encodeClasslessRoutes, parseReplyParams, type Route } from '../../daemon/dhcp4';
import { opts } from '../fixtures/dhcp4/bytes';

function classless(bytes: number[]): ReturnType<typeof parseReplyParams> {
  return parseReplyParams(opts([121, bytes]));
}

describe('dhcp4 option 121, classless static routes (RFC 3442)', () => {
  it('decodes widths 0, 8, 24, 25 and 32 with their significant octets', () => {
    const p = classless([
      0, 10, 0, 0, 1,
      8, 10, 192, 168, 0, 1,
      24, 192, 168, 5, 10, 0, 0, 1,
      25, 192, 168, 6, 128, 10, 0, 0, 1,
      32, 1, 2, 3, 4, 0, 0, 0, 0,
    ]);
    assert.deepEqual(p.classlessRoutes, [
      { dst: '0.0.0.0/0', gw: '10.0.0.1' },
      { dst: '10.0.0.0/8', gw: '192.168.0.1' },
      { dst: '192.168.5.0/24', gw: '10.0.0.1' },
      { dst: '192.168.6.128/25', gw: '10.0.0.1' },
      { dst: '1.2.3.4/32', gw: '0.0.0.0' },
    ]);
    assert.deepEqual(p.rejected, []);
  });

  it('destination bits beyond the prefix are cleared', () => {
    assert.deepEqual(classless([20, 10, 1, 0xff, 9, 9, 9, 9]).classlessRoutes, [{ dst: '10.1.240.0/20', gw: '9.9.9.9' }]);
    assert.deepEqual(classless([1, 0xff, 9, 9, 9, 9]).classlessRoutes, [{ dst: '128.0.0.0/1', gw: '9.9.9.9' }]);
  });

  it('a prefix length above 32 rejects the whole option', () => {
    const p = classless([24, 10, 0, 0, 1, 1, 1, 1, 33, 1, 2, 3, 4, 5, 1, 1, 1, 1]);
    assert.equal(p.classlessRoutes, undefined);
    assert.match(p.rejected[0]?.reason ?? '', /prefix length 33 exceeds 32/);
  });

  it('a truncated entry rejects the whole option', () => {
    const good = [0, 10, 0, 0, 1];
    for (const tail of [[24], [24, 10, 0], [24, 10, 0, 0], [24, 10, 0, 0, 1, 1, 1]]) {
      const p = classless([...good, ...tail]);
      assert.equal(p.classlessRoutes, undefined, `tail ${tail.join(',')}`);
      assert.deepEqual(p.rejected.map((r) => r.option), [121]);
    }
  });

  it('an empty option is rejected', () => {
    assert.deepEqual(classless([]).rejected.map((r) => r.option), [121]);
  });

  it('0.0.0.0/0 plus a flood of /1 routes (TunnelVision, CVE-2024-3661) is rejected above 64 entries', () => {
    const flood = [0, 10, 0, 0, 1];
    for (let i = 0; i < 64; i++) flood.push(1, i % 2 === 0 ? 0 : 128, 10, 0, 0, 1);
    const p = classless(flood);
    assert.equal(p.classlessRoutes, undefined);
    assert.match(p.rejected[0]?.reason ?? '', /more than 64/);
  });

  it('exactly 64 entries are accepted', () => {
    const bytes: number[] = [];
    for (let i = 0; i < 64; i++) bytes.push(24, 10, 0, i, 10, 0, 0, 1);
    assert.equal(classless(bytes).classlessRoutes?.length, 64);
  });

  it('encodeClasslessRoutes writes what parseReplyParams reads back', () => {
    const routes: Route[] = [
      { dst: '0.0.0.0/0', gw: '10.0.0.1' },
      { dst: '172.16.0.0/12', gw: '10.0.0.2' },
      { dst: '10.9.8.7/32', gw: '0.0.0.0' },
    ];
    const bytes = encodeClasslessRoutes(routes);
    assert.equal(bytes.toString('hex'), '000a000001' + '0cac100a000002' + '200a0908070000' + '0000');
    assert.deepEqual(parseReplyParams(new Map([[121, bytes]])).classlessRoutes, routes);
    assert.throws(() => encodeClasslessRoutes([{ dst: '10.0.0.0/33', gw: '1.1.1.1' }]), RangeError);
    assert.throws(() => encodeClasslessRoutes([{ dst: '10.0.0.0', gw: '1.1.1.1' }]), RangeError);
  });
});

describe('dhcp4 option 33, static routes (classful, RFC 2132 §5.8)', () => {
  it('a class A/B/C network address gets its class prefix', () => {
    const p = parseReplyParams(opts([33, [10, 0, 0, 0, 1, 1, 1, 1, 172, 16, 0, 0, 2, 2, 2, 2, 192, 168, 7, 0, 3, 3, 3, 3]]));
    assert.deepEqual(p.staticRoutes, [
      { dst: '10.0.0.0/8', gw: '1.1.1.1' },
      { dst: '172.16.0.0/16', gw: '2.2.2.2' },
      { dst: '192.168.7.0/24', gw: '3.3.3.3' },
    ]);
  });

  it('a destination with host bits set for its class is a /32 host route, not a widened network', () => {
    const p = parseReplyParams(opts([33, [10, 1, 2, 3, 1, 1, 1, 1, 172, 16, 5, 0, 2, 2, 2, 2, 192, 168, 7, 9, 3, 3, 3, 3]]));
    assert.deepEqual(p.staticRoutes, [
      { dst: '10.1.2.3/32', gw: '1.1.1.1' },
      { dst: '172.16.5.0/32', gw: '2.2.2.2' },
      { dst: '192.168.7.9/32', gw: '3.3.3.3' },
    ]);
  });

  it('the illegal default destination and class D/E destinations are skipped', () => {
    const p = parseReplyParams(opts([33, [0, 0, 0, 0, 1, 1, 1, 1, 224, 0, 0, 1, 1, 1, 1, 1, 240, 0, 0, 0, 1, 1, 1, 1, 10, 0, 0, 0, 9, 9, 9, 9]]));
    assert.deepEqual(p.staticRoutes, [{ dst: '10.0.0.0/8', gw: '9.9.9.9' }]);
  });

  it('an option with only unusable destinations is rejected', () => {
    assert.deepEqual(parseReplyParams(opts([33, [0, 0, 0, 0, 1, 1, 1, 1]])).rejected.map((r) => r.option), [33]);
  });

  it('a length that is not a non-zero multiple of 8 is rejected', () => {
    for (const len of [0, 4, 7, 9, 12]) {
      assert.deepEqual(parseReplyParams(opts([33, new Array<number>(len).fill(10)])).rejected.map((r) => r.option), [33]);
    }
  });

  it('more than 64 pairs are rejected', () => {
    const bytes: number[] = [];
    for (let i = 0; i < 65; i++) bytes.push(10, 0, 0, i + 1, 1, 1, 1, 1);
    assert.match(parseReplyParams(opts([33, bytes])).rejected[0]?.reason ?? '', /more than 64/);
  });
});
