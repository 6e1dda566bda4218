/**
 * Properties of the allocator against a brute-force model that walks every address, as
 * Whereabouts does: on small ranges the two must agree, in both families.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { assign, planRange, type Holder, type RangePlan } from '../../daemon/whereabouts/allocator';

interface Shape {
  family: 4 | 6;
  prefix: number;
  start?: number;
  end?: number;
  excludes: Array<{ at: number; prefix: number }>;
}

const base = { 4: '198.18.4.0', 6: '2001:db8:4::' } as const;

function addr(family: 4 | 6, offset: number): string {
  return family === 4 ? `198.18.4.${offset}` : `2001:db8:4::${offset.toString(16)}`;
}

const shapeArb: fc.Arbitrary<Shape> = fc
  .record({ family: fc.constantFrom<4 | 6>(4, 6), hostBits: fc.integer({ min: 2, max: 6 }) })
  .chain(({ family, hostBits }) => {
    const size = 1 << hostBits;
    const bits = family === 4 ? 32 : 128;
    return fc.record({
      family: fc.constant(family),
      prefix: fc.constant(bits - hostBits),
      start: fc.option(fc.integer({ min: 0, max: size - 1 }), { nil: undefined }),
      end: fc.option(fc.integer({ min: 0, max: size - 1 }), { nil: undefined }),
      excludes: fc.array(fc.record({ at: fc.integer({ min: 0, max: size - 1 }), prefix: fc.integer({ min: bits - hostBits, max: bits }) }), { maxLength: 3 }),
    });
  });

function toPlan(s: Shape): RangePlan {
  const input: Record<string, unknown> = {
    type: 'whereabouts',
    range: `${base[s.family]}/${s.prefix}`,
    exclude: s.excludes.map((e) => `${addr(s.family, e.at)}/${e.prefix}`),
  };
  if (s.start !== undefined) input.range_start = addr(s.family, s.start);
  if (s.end !== undefined) input.range_end = addr(s.family, s.end);
  return planRange(parseWhereaboutsIpam(input).ranges[0] as never);
}

/** Whereabouts' walk, on numbers: GetIPRange, then every address in order. */
function model(s: Shape, held: Set<number>): number | undefined {
  const bits = s.family === 4 ? 32 : 128;
  const size = 1 << (bits - s.prefix);
  let first = 1;
  let last = size - 2;
  if (s.start !== undefined && s.start >= first && s.start <= last) first = s.start;
  if (s.end !== undefined && s.end >= first && s.end <= last) last = s.end;
  const excluded = (o: number) =>
    s.excludes.some((e) => {
      const span = 1 << (bits - e.prefix);
      const lo = e.at - (e.at % span);
      return o >= lo && o < lo + span;
    });
  for (let o = first; o <= last; o++) if (!held.has(o) && !excluded(o)) return o;
  return undefined;
}

const who = (i: number) => ({ containerId: `c${i}`, podRef: `ns/p${i}`, ifname: 'net1' });

describe('whereabouts allocator properties', () => {
  it('gives the lowest free address Whereabouts would give, or fails exactly when it would (IPv4 and IPv6)', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 40 }), (s, heldRaw) => {
        const p = toPlan(s);
        const held = new Set(heldRaw.filter((o) => BigInt(o) <= p.last + 1n));
        const holders: Holder[] = [...held].map((o, i) => ({ offset: BigInt(o), ...who(1000 + i) }));
        const got = assign(p, holders, [], who(1));
        const want = model(s, held);
        assert.equal(got.kind === 'new' ? Number(got.offset) : undefined, want);
      }),
      { numRuns: 2000 },
    );
  });

  it('a sequence of ADDs and DELs never hands one address to two pods, never an excluded one, never outside the range', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 20 })), { maxLength: 80 }), (s, ops) => {
        const p = toPlan(s);
        const holders = new Map<number, Holder>();
        for (const [isAdd, pod] of ops) {
          if (!isAdd) {
            holders.delete(pod);
            continue;
          }
          const got = assign(p, [...holders.values()], [], who(pod));
          if (got.kind === 'existing') assert.equal(got.holder, holders.get(pod));
          if (got.kind === 'new') {
            assert.ok(!holders.has(pod), 'a pod that holds an address gets it again');
            assert.ok(got.offset >= p.first && got.offset <= p.last);
            assert.ok(!p.excluded.some((iv) => got.offset >= iv.start && got.offset <= iv.end));
            holders.set(pod, { offset: got.offset, ...who(pod) });
          }
          if (got.kind === 'exhausted') assert.equal(BigInt(holders.size), p.capacity, 'exhausted only when every usable address is held');
          const offsets = [...holders.values()].map((h) => h.offset);
          assert.equal(new Set(offsets).size, offsets.length);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('in a /64, allocations near the top and past the first half work as near the bottom', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 64n) - 10n }), fc.integer({ min: 0, max: 5 }), (start, taken) => {
        const p = planRange(parseWhereaboutsIpam({ type: 'whereabouts', range: '2001:db8::/64' }).ranges[0] as never);
        const fromStart: RangePlan = { ...p, first: start };
        const holders = Array.from({ length: taken }, (_, i) => ({ offset: start + BigInt(i), ...who(100 + i) }));
        const got = assign(fromStart, holders, [], who(1));
        assert.equal(got.kind === 'new' && got.offset, start + BigInt(taken));
      }),
      { numRuns: 500 },
    );
  });
});
