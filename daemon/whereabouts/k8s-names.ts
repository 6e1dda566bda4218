/**
 * The names Whereabouts gives its Kubernetes resources, so that our daemon and Whereabouts'
 * own tools address the same objects. Pure. Taken from Whereabouts' pkg/storage/kubernetes
 * (IPPoolName, normalizeRange, normalizeIP) and checked against its tests' fixtures
 * (test/fixtures/whereabouts/k8s/).
 *
 *   IPPool                         [<network_name>-]<range with ':' and '/' as '-'>
 *                                  "198.18.0.0-24", "blue-198.18.0.0-24", "2001-db8---64"
 *   OverlappingRangeIPReservation  [<network_name>-]<address with ':' as '-'>
 *                                  "198.18.0.9", "blue-2001-db8--9"
 *
 * An IPv6 text ending in ':' ("2001:db8::") gets a '0' appended first, as Whereabouts does,
 * so that the name does not end in '-'. Whereabouts' names are not injective in general (a
 * network_name may itself contain '-'); the pool's `spec.range` disambiguates when we list.
 */
import type { PoolRef } from './store';

export const GROUP = 'whereabouts.cni.cncf.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const POOLS = 'ippools';
export const RESERVATIONS = 'overlappingrangeipreservations';
/** Whereabouts' namespace when the kubeconfig's current context names none (metav1.NamespaceSystem) */
export const DEFAULT_NAMESPACE = 'kube-system';

function dashed(text: string): string {
  const t = text.endsWith(':') ? `${text}0` : text;
  return t.replace(/[:/]/g, '-');
}

/** Whereabouts' normalizeRange: "2001:db8::/64" → "2001-db8---64" */
export function normalizeRange(range: string): string {
  return dashed(range);
}

/** Whereabouts' IPPoolName (without node slices) */
export function poolName(pool: PoolRef): string {
  return pool.networkName === '' ? normalizeRange(pool.range) : `${pool.networkName}-${normalizeRange(pool.range)}`;
}

/** Whereabouts' normalizeIP: the OverlappingRangeIPReservation's name for one address */
export function reservationName(networkName: string, address: string): string {
  const ip = dashed(address);
  return networkName === '' ? ip : `${networkName}-${ip}`;
}

/**
 * The pool an IPPool object is, from its name and `spec.range`; undefined for an object that
 * is not named as Whereabouts names pools of that range (a node-slice pool, a hand-made one).
 */
export function poolOfObject(name: string, range: string): PoolRef | undefined {
  const suffix = normalizeRange(range);
  if (name === suffix) return { networkName: '', range };
  if (name.endsWith(`-${suffix}`) && name.length > suffix.length + 1) return { networkName: name.slice(0, -suffix.length - 1), range };
  return undefined;
}
