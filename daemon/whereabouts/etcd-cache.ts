/**
 * Bringing a cached copy of one etcd key prefix up to date (pure). The etcd store keeps, per
 * prefix (a pool, a network's reservations), the records it last read and the revision it read
 * them at. To read again it asks etcd, in one transaction, for the keys modified since that
 * revision and for how many keys the prefix holds now:
 *
 * - every key that exists now and was not modified since is in the cache (it existed then);
 * - so cache ∪ modified has as many keys as the prefix does now exactly when no cached key
 *   was deleted since; when it has more, a keys-only listing of the prefix says which went.
 *
 * The answer is the prefix exactly as it is at the new revision, never an approximation: the
 * cache saves transfer and decoding, it is not trusted for anything the read would not show.
 */

/**
 * The prefix at the new revision: `cached` with `modified` applied; undefined when `count` says
 * some cached key was deleted and `present` (every key the prefix holds now) was not given, or
 * when the figures do not add up (then only a full read will do).
 */
export function catchUp<T>(cached: ReadonlyMap<string, T>, modified: ReadonlyArray<readonly [string, T]>, count: number, present?: ReadonlySet<string>): Map<string, T> | undefined {
  const next = new Map(cached);
  for (const [k, v] of modified) next.set(k, v);
  if (next.size === count) return next;
  if (next.size < count || present === undefined) return undefined;
  for (const k of next.keys()) if (!present.has(k)) next.delete(k);
  return next.size === count ? next : undefined;
}
