import { strict as assert } from 'node:assert';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { addressOffset, assign, offsetAddress, planRange, type Holder } from '../../daemon/whereabouts/allocator';
import { ALLOCATE_CASES, RANGE_BOUNDS_CASES, type RangeInput } from '../fixtures/whereabouts/allocate-cases';

export function plan(input: RangeInput) {
  const r = parseWhereaboutsIpam({ type: 'whereabouts', ...input }).ranges[0];
  if (!r) throw new Error('no range');
  return planRange(r);
}

const who = { containerId: 'c1', podRef: 'ns/pod', ifname: 'net1' };

describe('whereabouts allocator (Whereabouts pkg/allocate and pkg/iphelpers tables)', () => {
  for (const c of ALLOCATE_CASES) {
    it(`IterateForAssignment: ${c.name}`, () => {
      const p = plan(c.input);
      const holders: Holder[] = (c.reserved ?? []).map((a, i) => ({ offset: addressOffset(p, a) as bigint, containerId: `o${i}`, podRef: 'default/pod1', ifname: 'eth0' }));
      const got = assign(p, holders, [], who);
      if (c.want === null) assert.equal(got.kind, 'exhausted');
      else assert.equal(got.kind === 'new' ? offsetAddress(p, got.offset) : got.kind, c.want);
    });
  }

  for (const c of RANGE_BOUNDS_CASES) {
    it(`GetIPRange: ${c.name}`, () => {
      const p = plan(c.input);
      assert.deepEqual([offsetAddress(p, p.first), offsetAddress(p, p.last)], [c.first, c.last]);
    });
  }

  it('an existing pod allocation returns the same address (idempotent on pod + ifname)', () => {
    const p = plan({ range: '192.168.1.1/24' });
    const first = assign(p, [], [], who);
    assert.equal(first.kind, 'new');
    const holders = [{ offset: (first as { offset: bigint }).offset, ...who }];
    const again = assign(p, holders, [], { ...who, containerId: 'c2' });
    assert.equal(again.kind, 'existing');
    assert.equal(offsetAddress(p, (again as { holder: Holder }).holder.offset), '192.168.1.1');
    assert.equal(assign(p, holders, [], { ...who, ifname: 'net2' }).kind, 'new', 'another interface of the pod gets its own address');
  });

  it('without a pod name, the container id + ifname is the identity', () => {
    const p = plan({ range: '198.18.0.0/24' });
    const h = [{ offset: 1n, containerId: 'c1', podRef: '', ifname: 'eth0' }];
    assert.equal(assign(p, h, [], { containerId: 'c1', podRef: '', ifname: 'eth0' }).kind, 'existing');
    assert.equal(assign(p, h, [], { containerId: 'c2', podRef: '', ifname: 'eth0' }).kind, 'new');
  });

  it('capacity counts the usable, not excluded addresses between start and end', () => {
    assert.equal(plan({ range: '198.18.0.0/24' }).capacity, 254n);
    assert.equal(plan({ range: '198.18.0.0/24', range_start: '198.18.0.10', range_end: '198.18.0.109' }).capacity, 100n);
    assert.equal(plan({ range: '198.18.0.0/24', exclude: ['198.18.0.0/28', '198.18.0.5', '198.18.0.200'] }).capacity, 254n - 15n - 1n);
    assert.equal(plan({ range: '2001:db8::/64' }).capacity, (1n << 64n) - 2n);
  });

  it('a whole IPv6 /64 is usable, past the first /65 where Whereabouts stops (#83)', () => {
    const p = plan({ range: '2001:db8::/64', exclude: ['2001:db8::/65'] });
    const got = assign(p, [], [], who);
    assert.equal(got.kind === 'new' && offsetAddress(p, got.offset), '2001:db8:0:0:8000::');
    const lastButOne = { offset: p.last - 1n, ...who, containerId: 'x', podRef: 'ns/x' };
    const nearTop = plan({ range: '2001:db8::/64', range_start: '2001:db8::ffff:ffff:ffff:fffd' });
    const top = assign(nearTop, [{ ...lastButOne, offset: nearTop.first }], [], who);
    assert.equal(top.kind === 'new' && offsetAddress(nearTop, top.offset), '2001:db8::ffff:ffff:ffff:fffe');
  });

  it('the IPv6 network and last address are never handed out', () => {
    const p = plan({ range: '2001:db8::/126' });
    assert.deepEqual([offsetAddress(p, p.first), offsetAddress(p, p.last)], ['2001:db8::1', '2001:db8::2']);
  });

  it('offsets held by other pools (overlapping-range reservations) are skipped', () => {
    const p = plan({ range: '198.18.0.0/24' });
    const got = assign(p, [], [1n, 2n, 4n], who);
    assert.equal(got.kind === 'new' && got.offset, 3n);
  });
});

describe('whereabouts allocator: the gateway', () => {
  it('is never handed out when it lies in the range (ours), and only in its own family', () => {
    const r = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.0.0/24', gateway: '198.18.0.1' }).ranges[0];
    const p = planRange(r as never, '198.18.0.1');
    const got = assign(p, [], [], who);
    assert.equal(got.kind === 'new' && offsetAddress(p, got.offset), '198.18.0.2');
    assert.equal(p.capacity, 253n);
    const v6 = planRange(parseWhereaboutsIpam({ type: 'whereabouts', range: '2001:db8::/64' }).ranges[0] as never, '198.18.0.1');
    assert.equal(v6.capacity, (1n << 64n) - 2n);
  });
});
