import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PARAMS, deadlines6, elapsedCentiseconds, firstTimeout, nextTimeout, sanitizeLifetimes6, MAX_LIFETIME6 } from '../../daemon/client6/timing6';
import { duidForContainer, iaidFor } from '../../daemon/client6/identity6';
import { decodeDuid, INFINITY6 } from '../../daemon/dhcp6';

describe('dhcp6 client timing (RFC 8415 §15, §21.4)', () => {
  it('first RT is IRT ± 10 %; the first SOLICIT’s is strictly above IRT', () => {
    assert.equal(firstTimeout(PARAMS.REQUEST, 0), 900);
    assert.equal(firstTimeout(PARAMS.REQUEST, 0.5), 1000);
    assert.equal(firstTimeout(PARAMS.REQUEST, 0.999999), 1100);
    for (const r of [0, 0.25, 0.5, 0.999999]) {
      const rt = firstTimeout(PARAMS.SOLICIT, r, true);
      assert.ok(rt > 1000 && rt <= 1100, `${r} → ${rt}`);
    }
  });

  it('RT doubles ± 10 % and is capped at MRT ± 10 %', () => {
    assert.equal(nextTimeout(PARAMS.REQUEST, 1000, 0.5), 2000);
    assert.equal(nextTimeout(PARAMS.REQUEST, 1000, 0), 1900);
    assert.equal(nextTimeout(PARAMS.REQUEST, 20_000, 0.5), 30_000);
    assert.equal(nextTimeout(PARAMS.REQUEST, 20_000, 0), 27_000);
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 0.9999, noNaN: true }), { minLength: 1, maxLength: 40 }), (rs) => {
      let rt = firstTimeout(PARAMS.SOLICIT, rs[0]!, true);
      for (const r of rs.slice(1)) {
        const next = nextTimeout(PARAMS.SOLICIT, rt, r);
        assert.ok(next <= PARAMS.SOLICIT.mrt * 1.1 && next >= Math.min(rt * 1.9, PARAMS.SOLICIT.mrt * 0.9) - 1);
        rt = next;
      }
    }));
  });

  it('Elapsed Time is centiseconds since the first transmission, capped at 0xffff', () => {
    assert.equal(elapsedCentiseconds(1000, 1000), 0);
    assert.equal(elapsedCentiseconds(1000, 2234), 123);
    assert.equal(elapsedCentiseconds(0, 1e9), 0xffff);
    assert.equal(elapsedCentiseconds(1000, 900), 0, 'a clock going back gives 0');
  });

  it('T1/T2 of 0 become 0.5/0.8 of the preferred lifetime', () => {
    assert.deepEqual(sanitizeLifetimes6(0, 0, 1000, 2000), { preferred: 1000, valid: 2000, t1: 500, t2: 800 });
    assert.deepEqual(sanitizeLifetimes6(300, 0, 1000, 2000), { preferred: 1000, valid: 2000, t1: 300, t2: 800 });
    assert.deepEqual(sanitizeLifetimes6(0, 0, 0, 100), { preferred: 100, valid: 100, t1: 50, t2: 80 }, 'preferred 0: from valid');
  });

  it('clamps T1 <= T2 <= valid, keeps infinity, refuses valid 0 and preferred > valid', () => {
    assert.deepEqual(sanitizeLifetimes6(900, 5000, 1000, 2000), { preferred: 1000, valid: 2000, t1: 900, t2: 2000 });
    assert.deepEqual(sanitizeLifetimes6(900, 800, 1000, 2000), { preferred: 1000, valid: 2000, t1: 800, t2: 800 });
    assert.deepEqual(sanitizeLifetimes6(INFINITY6, INFINITY6, INFINITY6, INFINITY6), { preferred: INFINITY6, valid: INFINITY6, t1: INFINITY6, t2: INFINITY6 });
    assert.deepEqual(sanitizeLifetimes6(0, 0, INFINITY6, INFINITY6), { preferred: INFINITY6, valid: INFINITY6, t1: INFINITY6, t2: INFINITY6 });
    assert.deepEqual(sanitizeLifetimes6(INFINITY6, INFINITY6, 100, 200), { preferred: 100, valid: 200, t1: 200, t2: 200 });
    assert.deepEqual(sanitizeLifetimes6(0, 0, 1, 1), { preferred: 1, valid: 1, t1: 1, t2: 1 });
    assert.equal(sanitizeLifetimes6(0, 0, 100, 0), undefined);
    assert.equal(sanitizeLifetimes6(0, 0, 200, 100), undefined);
    assert.equal(sanitizeLifetimes6(0, 0, 100, 0xfffffffe)?.valid, MAX_LIFETIME6);
    fc.assert(fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xffffffff), (t1, t2, p, v) => {
      const l = sanitizeLifetimes6(t1, t2, p, v);
      if (l === undefined) return assert.ok(v === 0 || p > v);
      const n = (s: number) => (s === INFINITY6 ? Infinity : s);
      assert.ok(1 <= n(l.t1) && n(l.t1) <= n(l.t2) && n(l.t2) <= n(l.valid) && n(l.preferred) <= n(l.valid), JSON.stringify(l));
      const d = deadlines6(0, l);
      assert.ok(d.t1At <= d.t2At && d.t2At <= d.expiresAt && (d.expiresAt === Infinity || d.expiresAt <= 0x7fffffff));
    }));
  });

  it('the DUID is a DUID-UUID of the container id, the IAID a hash of network and interface: stable, distinct', () => {
    const d = duidForContainer('abc');
    assert.deepEqual(d, duidForContainer('abc'));
    assert.notDeepEqual(d, duidForContainer('abd'));
    const parsed = decodeDuid(d);
    assert.equal(parsed.type, 'uuid');
    if (parsed.type === 'uuid') {
      assert.equal(parsed.uuid[6]! >> 4, 8, 'UUID version 8');
      assert.equal(parsed.uuid[8]! >> 6, 2, 'RFC 9562 variant');
    }
    assert.equal(iaidFor('net1', 'eth0'), iaidFor('net1', 'eth0'));
    assert.notEqual(iaidFor('net1', 'eth0'), iaidFor('net1', 'eth1'));
    assert.notEqual(iaidFor('net1', 'eth0'), iaidFor('net2', 'eth0'));
  });
});
