/**
 * The kubernetes store's wire format against Whereabouts' own: its CRDs byte for byte, its pool
 * and reservation names, the bytes its Go types marshal to, its objects read back, and why our
 * extra fields live in annotations (its CRD prunes them anywhere else).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { poolName, poolOfObject, reservationName } from '../../daemon/whereabouts/k8s-names';
import { decodeAllocations, metaKey, metaValue, newReservation, reservationAddress, wireAllocation, type IPPoolObject } from '../../daemon/whereabouts/k8s-wire';
import { addrText } from '../../daemon/whereabouts/ip-math';
import type { AllocationRecord } from '../../daemon/whereabouts/store';
import { pruneAndValidate } from '../helpers/k8s-contract-server';
import { loadYaml } from '../helpers/k8s-manifests';

const ROOT = path.resolve(__dirname, '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'whereabouts', 'k8s');
const fixture = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(FIX, name), 'utf8')) as T;

const rec = (over: Partial<AllocationRecord> = {}): AllocationRecord => ({
  offset: '5',
  address: '198.18.0.5',
  containerId: '0123456789abcdef',
  podRef: 'default/pod-a',
  ifname: 'net1',
  node: 'node-a',
  createdAt: 1764650000123,
  ...over,
});

describe('whereabouts kubernetes wire format', () => {
  it("deploy/whereabouts/crds/ ships Whereabouts' CRDs byte for byte", () => {
    for (const f of fs.readdirSync(FIX).filter((n) => n.endsWith('.yaml'))) {
      assert.equal(fs.readFileSync(path.join(ROOT, 'deploy', 'whereabouts', 'crds', f), 'utf8'), fs.readFileSync(path.join(FIX, f), 'utf8'), f);
    }
  });

  it("names pools and reservations as Whereabouts' IPPoolName and normalizeIP do", () => {
    const names = fixture<{ pools: Array<{ networkName: string; range: string; name: string }>; reservations: Array<{ networkName: string; address: string; name: string }> }>('ippool-names.json');
    for (const p of names.pools) {
      assert.equal(poolName(p), p.name);
      assert.deepEqual(poolOfObject(p.name, p.range), { networkName: p.networkName, range: p.range });
    }
    for (const r of names.reservations) {
      assert.equal(reservationName(r.networkName, r.address), r.name);
      assert.equal(reservationAddress(r.name, r.networkName), r.address);
    }
  });

  it('reservation names round-trip for every address (property)', () => {
    const v4 = fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((n) => addrText({ family: 4, value: BigInt(n) }));
    const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((n) => addrText({ family: 6, value: n }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), fc.constantFrom('', 'blue', 'net.a'), (addr, net) => {
        // Whereabouts' own names are unusable for addresses that start with '::' (a leading '-')
        fc.pre(!addr.startsWith('::'));
        assert.equal(reservationAddress(reservationName(net, addr), net), addr);
      }),
    );
  });

  it("marshals an allocation and a reservation spec to the bytes Whereabouts' Go types do", () => {
    const go = fixture<Record<string, string>>('go-marshal.json');
    assert.equal(JSON.stringify(wireAllocation(rec())), go.allocation);
    assert.equal(JSON.stringify(wireAllocation(rec({ ifname: '' }))), go.allocationNoIfname);
    const r = newReservation('198.18.0.5', 'kube-system', { networkName: '', address: '198.18.0.5', containerId: '0123456789abcdef', podRef: 'default/pod-a', ifname: 'net1', pool: { networkName: '', range: '198.18.0.0/24' } });
    assert.equal(JSON.stringify(r.spec), go.reservationSpec);
  });

  it("reads Whereabouts' own allocations: node '' and createdAt 0, a non-decimal offset skipped as Whereabouts skips it", () => {
    const obj = fixture<IPPoolObject>('ippool-by-whereabouts.json');
    const pool = { networkName: 'blue', range: '198.18.0.0/24' };
    assert.deepEqual(decodeAllocations(obj, pool), [
      { offset: '1', address: '198.18.0.1', containerId: 'aaaaaaaaaaaaaaaa1111', podRef: 'default/web-0', ifname: 'net1', node: '', createdAt: 0 },
      { offset: '17', address: '198.18.0.17', containerId: 'bbbbbbbbbbbbbbbb2222', podRef: 'default/web-1', ifname: '', node: '', createdAt: 0 },
    ]);
  });

  it('our node, time and network survive in an annotation; a stale one (another container at the offset) is ignored', () => {
    const a = rec({ network: 'netA' });
    const obj: IPPoolObject = {
      apiVersion: 'whereabouts.cni.cncf.io/v1alpha1',
      kind: 'IPPool',
      metadata: { name: '198.18.0.0-24', annotations: { [metaKey('5')]: metaValue(a), [metaKey('6')]: metaValue(rec({ offset: '6', containerId: 'ffffffffffffffff' })) } },
      spec: { range: '198.18.0.0/24', allocations: { '5': wireAllocation(a), '6': wireAllocation(rec({ offset: '6', address: '198.18.0.6', containerId: 'eeeeeeeeeeeeeeee' })) } },
    };
    const [five, six] = decodeAllocations(obj, { networkName: '', range: '198.18.0.0/24' });
    assert.deepEqual(five, a);
    assert.equal(six?.node, '');
    assert.equal(six?.createdAt, 0);
  });

  it("Whereabouts' CRD prunes any other field of an allocation: that is why ours are annotations", () => {
    const [crd] = loadYaml(path.join(FIX, 'whereabouts.cni.cncf.io_ippools.yaml')) as Array<{ spec: { versions: Array<{ schema: { openAPIV3Schema: never } }> } }>;
    const schema = crd!.spec.versions[0]!.schema.openAPIV3Schema;
    const problems: string[] = [];
    const out = pruneAndValidate({ spec: { range: '198.18.0.0/24', allocations: { '5': { id: 'x', podref: 'a/b', node: 'node-a', createdAt: 5 } } } }, schema, 'IPPool', problems);
    assert.deepEqual(problems, []);
    assert.deepEqual(out, { spec: { range: '198.18.0.0/24', allocations: { '5': { id: 'x', podref: 'a/b' } } } });
    pruneAndValidate({ spec: { allocations: { '5': { podref: 'a/b' } } } }, schema, 'IPPool', problems);
    assert.deepEqual(problems, ['IPPool.spec.allocations.5.id: Required value', 'IPPool.spec.range: Required value']);
  });
});
