/**
 * catchUp against a model of an etcd prefix: random puts and deletes, each at the next
 * revision; a copy taken at some revision, brought up to date from the keys modified since and
 * the count (and, when it asks, the keys present), is exactly the prefix at the end.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { catchUp } from '../../daemon/whereabouts/etcd-cache';

type Op = { put: true; key: string; value: number } | { put: false; key: string };

function apply(ops: Op[]): Map<string, { value: number; mod: number }> {
  const kv = new Map<string, { value: number; mod: number }>();
  ops.forEach((op, rev) => {
    if (op.put) kv.set(op.key, { value: op.value, mod: rev + 1 });
    else kv.delete(op.key);
  });
  return kv;
}

const op = fc.oneof(
  fc.record({ put: fc.constant(true as const), key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), value: fc.integer() }),
  fc.record({ put: fc.constant(false as const), key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f') }),
);

describe('etcd prefix cache catch-up (pure) against a model', () => {
  it('cache at revision R + keys modified since R + count (+ keys present when asked) = the prefix now', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.array(op, { maxLength: 30 }), (before, after) => {
        const then = apply(before);
        const cached = new Map([...then].map(([k, v]) => [k, v.value]));
        const now = apply([...before, ...after]);
        const since = before.length;
        const modified = [...now].filter(([, v]) => v.mod > since).map(([k, v]) => [k, v.value] as const);
        const want = new Map([...now].map(([k, v]) => [k, v.value]));
        const deleted = [...then.keys()].some((k) => !now.has(k));
        const quick = catchUp(cached, modified, now.size);
        if (deleted) assert.equal(quick, undefined, 'a deleted key is noticed from the count alone');
        else assert.deepEqual(quick, want);
        assert.deepEqual(catchUp(cached, modified, now.size, new Set(now.keys())), want);
        assert.deepEqual(cached, new Map([...then].map(([k, v]) => [k, v.value])), 'the cached copy is left as it was');
      }),
      { numRuns: 1000 },
    );
  });

  it('figures that do not add up ask for a full read', () => {
    assert.equal(catchUp(new Map([['a', 1]]), [], 2), undefined);
    assert.equal(catchUp(new Map([['a', 1], ['b', 2]]), [], 1, new Set(['a', 'b'])), undefined);
  });
});
