/** The etcd store's key layout and record codec (pure): distinct pools never share a key. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as keys from '../../daemon/whereabouts/etcd-keys';
import { alloc, POOL_A, reservation } from '../helpers/whereabouts-records';

describe('whereabouts etcd keys', () => {
  it('lays out one key per address, with Whereabouts-style range names', () => {
    assert.equal(keys.allocationKey(POOL_A, '10'), '/whereabouts/_/pools/198.18.0.0-24/10');
    assert.equal(keys.allocationKey({ networkName: 'blue', range: '2001:db8::/64' }, '1'), '/whereabouts/blue/pools/2001-db8---64/1');
    assert.equal(keys.reservationKey({ networkName: '', address: '2001:db8::5' }), '/whereabouts/_/reservations/2001:db8::5');
  });

  it('a network named "_" (or anything odd) never shares keys with the unset one or another name', () => {
    assert.notEqual(keys.netSegment('_'), keys.netSegment(''));
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b);
        assert.notEqual(keys.netSegment(a), keys.netSegment(b));
        assert.ok(!keys.netSegment(a).includes('/'));
      }),
    );
  });

  it('refuses an offset or address that would escape its prefix', () => {
    for (const bad of ['', '-1', '01', '1/2', '../x', '1e3']) assert.throws(() => keys.allocationKey(POOL_A, bad), /not a decimal number/);
    for (const bad of ['', 'a/b', 'a b']) assert.throws(() => keys.reservationKey({ networkName: '', address: bad }), /not an address/);
  });

  it('prefixEnd bounds exactly the keys under the prefix', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), fc.string({ minLength: 1 }), (prefix, rest, other) => {
        const end = keys.prefixEnd(prefix);
        const inside = Buffer.from(prefix + rest);
        assert.ok(Buffer.compare(Buffer.from(prefix), inside) <= 0 && Buffer.compare(inside, end) < 0);
        const outside = Buffer.from(other);
        if (!other.startsWith(prefix)) assert.ok(Buffer.compare(outside, Buffer.from(prefix)) < 0 || Buffer.compare(outside, end) >= 0);
      }),
    );
  });

  it('records round-trip, always as the same bytes; a wrong shape is refused naming the key', () => {
    const a = alloc(300, 'x');
    const k = keys.allocationKey({ networkName: '', range: '198.18.0.0/16' }, a.offset);
    assert.deepEqual(keys.decodeAllocation(keys.encodeAllocation(a), k), a);
    // the CNI network that made it (GC releases only its own) survives the round trip
    assert.deepEqual(keys.decodeAllocation(keys.encodeAllocation({ ...a, network: 'net1' }), k), { ...a, network: 'net1' });
    assert.equal(keys.encodeAllocation({ ...a }), keys.encodeAllocation(JSON.parse(JSON.stringify(a))));
    const r = reservation(POOL_A, a);
    assert.deepEqual(keys.decodeReservation(keys.encodeReservation(r), 'k'), r);
    assert.throws(() => keys.decodeAllocation(keys.encodeAllocation(a), '/whereabouts/_/pools/x/301'), /holds the allocation of offset 300/);
    assert.throws(() => keys.decodeAllocation(JSON.stringify({ ...a, offset: 300 }), k), new RegExp(`etcd key ${k}: field offset`));
    assert.throws(() => keys.decodeAllocation('[]', k), /not hold a JSON object/);
    assert.throws(() => keys.decodeReservation('{"networkName":""}', 'k1'), /etcd key k1/);
  });

  it('keyKind names the pool of every allocation key and the network_name of every reservation key', () => {
    const name = fc.oneof(fc.constant(''), fc.constant('_'), fc.string({ maxLength: 12 }), fc.fullUnicodeString({ maxLength: 6 }));
    const range = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`),
    );
    fc.assert(
      fc.property(name, range, fc.nat(), (networkName, r, offset) => {
        const pool = { networkName, range: r };
        assert.deepEqual(keys.keyKind(keys.allocationKey(pool, String(offset))), { kind: 'pool', pool });
        assert.deepEqual(keys.keyKind(keys.reservationKey({ networkName, address: '198.18.0.1' })), { kind: 'reservation', networkName });
        assert.deepEqual(keys.keyKind(keys.podKey(pool, { podRef: 'ns/p', containerId: 'c', ifname: 'net1' })), { kind: 'pods', networkName });
        assert.ok(keys.podKey(pool, { podRef: 'ns/p', containerId: 'c', ifname: 'net1' }).startsWith(keys.podIndexPrefix(networkName)));
      }),
    );
    assert.deepEqual(keys.keyKind('/whereabouts/health'), { kind: 'other' });
    assert.deepEqual(keys.keyKind('/elsewhere/_/pools/198.18.0.0-24/1'), { kind: 'other' });
  });
});
