/**
 * The etcd store's contract against a real 3-member etcd 3.4 cluster on 127.0.0.1: conditional
 * create wins once among 16 racers, a delete never clobbers a re-allocation, an allocation and
 * its reservation land together or not at all, a read sees every pool at one revision (across
 * page boundaries), auth with a user and password, TLS with client certificates, and a clear, bounded failure when nothing
 * answers. Faults (leader killed, quorum lost, partition) are in whereabouts-etcd-faults.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdStore, openEtcdStore } from '../../daemon/whereabouts/etcd-store';
import { StoreUnavailableError, type WhereaboutsStore } from '../../daemon/whereabouts/store';
import { ETCD, EtcdCluster, freePort } from '../helpers/etcd-cluster';
import { requireRootTools } from '../helpers/sh';
import { makeCerts, OPENSSL } from '../helpers/tls-certs';
import { alloc, allocate, POOL_A, POOL_B, release, soon } from '../helpers/whereabouts-records';
import { storeContract } from '../helpers/whereabouts-store-contract';
import { silentLogger } from '../../daemon/log';
import { MAX_FREES_PER_COMMIT } from '../../daemon/whereabouts/add-plan';
import { WhereaboutsService } from '../../daemon/whereabouts/ipam-service';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';

describe('whereabouts etcd store: contract on a 3-member cluster @root', function () {
  this.timeout(120_000);
  let cluster: EtcdCluster;
  let store: WhereaboutsStore;
  const pools = (n: string) => ({ networkName: n, range: '198.18.0.0/24' });
  let seq = 0;
  /** a fresh network_name per test, so tests share the cluster without sharing keys */
  const fresh = () => pools(`t${seq++}`);

  before(async function () {
    requireRootTools(this, [ETCD]);
    cluster = await EtcdCluster.start();
    store = openEtcdStore({ endpoints: cluster.endpoints() });
  });
  after(async () => {
    await store?.close();
    await cluster?.close();
  });

  storeContract({ store: () => store, another: () => new EtcdStore({ endpoints: cluster.endpoints() }) });

  it('the same range under a network_name is another key space', async () => {
    const a = alloc(10, 'one');
    assert.equal(await store.commit(allocate(POOL_A, a), soon()), true);
    assert.deepEqual((await store.read([POOL_A], soon()))[0]?.allocations, [a]);
    assert.match((await store.read([POOL_A], soon()))[0]!.revision, /^[1-9][0-9]*$/);
    assert.deepEqual((await store.read([POOL_B], soon()))[0]?.allocations, []);
  });

  it('listPools names every pool that holds an allocation, across network_names, and no reservation', async () => {
    const a = fresh();
    const b = { networkName: `${a.networkName}%/odd`, range: '2001:db8::/64' };
    assert.equal(await store.commit(allocate(a, alloc(3, 'lp-a')), soon()), true);
    assert.equal(await store.commit([{ op: 'create', pool: b, allocation: { ...alloc(1, 'lp-b'), address: '2001:db8::1' } }], soon()), true);
    const listed = await store.listPools(soon());
    const has = (p: { networkName: string; range: string }) => listed.some((l) => l.networkName === p.networkName && l.range === p.range);
    assert.ok(has(a) && has(b), JSON.stringify(listed));
    assert.equal(new Set(listed.map((l) => `${l.networkName}\0${l.range}`)).size, listed.length, 'each pool once');
  });

  it('reads every pool of one call at one revision, across pages', async () => {
    const a = fresh();
    const b = { networkName: a.networkName, range: '198.18.1.0/24' };
    // each commit adds one allocation to both pools; a read at one revision sees equal counts
    const writer = new EtcdStore({ endpoints: cluster.endpoints() });
    const reader = new EtcdStore({ endpoints: cluster.endpoints(), pageSize: 7 });
    let n = 0;
    let stop = false;
    const writing = (async () => {
      while (!stop && n < 120) {
        const x = alloc(n, `w${n}`);
        const y = { ...alloc(n, `w${n}`), address: `198.18.1.${n}` };
        assert.equal(await writer.commit([{ op: 'create', pool: a, allocation: x }, { op: 'create', pool: b, allocation: y }], soon()), true);
        n++;
      }
    })();
    const counts: number[] = [];
    while (n < 120) {
      const [sa, sb] = await reader.read([a, b], soon());
      assert.equal(sa!.allocations.length, sb!.allocations.length, `pool a ${sa!.allocations.length}, pool b ${sb!.allocations.length}`);
      assert.equal(sa!.revision, sb!.revision);
      counts.push(sa!.allocations.length);
    }
    stop = true;
    await writing;
    const [sa] = await reader.read([a], soon());
    assert.equal(sa!.allocations.length, 120);
    assert.deepEqual(new Set(sa!.allocations.map((x) => x.offset)).size, 120);
    assert.ok(counts.length > 1, 'the reader overlapped the writer');
    await writer.close();
    await reader.close();
  });

  it('one address per pod + ifname per pool, whichever client writes it: the pod index', async () => {
    const pool = fresh();
    const other = new EtcdStore({ endpoints: cluster.endpoints() });
    const first = alloc(1, 'p');
    assert.equal(await store.commit(allocate(pool, first), soon()), true);
    // another node that read the pool before that commit picks another address for the same pod
    const second = { ...alloc(2, 'p'), containerId: 'cid-p-elsewhere' };
    assert.equal(await other.commit(allocate(pool, second), soon()), false, 'the pod already holds an address in this pool');
    assert.deepEqual((await other.read([pool], soon()))[0]?.allocations, [first]);
    // the same pod in another pool, and without a podRef (identity by container id), are their own
    const elsewhere = { networkName: pool.networkName, range: '198.18.1.0/24' };
    assert.equal(await other.commit([{ op: 'create', pool: elsewhere, allocation: { ...second, address: '198.18.1.2' } }], soon()), true);
    const anon = (o: number, cid: string) => ({ ...alloc(o, 'anon'), podRef: '', containerId: cid });
    assert.equal(await store.commit([{ op: 'create', pool, allocation: anon(5, 'c1') }], soon()), true);
    assert.equal(await other.commit([{ op: 'create', pool, allocation: anon(6, 'c2') }], soon()), true);
    assert.equal(await other.commit([{ op: 'create', pool, allocation: anon(7, 'c2') }], soon()), false);
    // a re-created sandbox keeps the address under its new container id; its DEL frees the pod
    const moved = { ...first, containerId: 'cid-p-new' };
    assert.equal(await store.commit([...release(pool, first), ...allocate(pool, moved)], soon()), true);
    assert.equal(await other.commit(allocate(pool, second), soon()), false);
    assert.equal(await store.commit(release(pool, moved), soon()), true);
    assert.equal(await other.commit(allocate(pool, second), soon()), true, 'once the pod is released it can be given an address again');
    await other.close();
  });

  it("a reader's copy of a pool follows other clients' creates and deletes exactly", async () => {
    const pool = fresh();
    const reader = new EtcdStore({ endpoints: cluster.endpoints(), pageSize: 5 });
    const offsets = (snaps: Array<{ allocations: Array<{ offset: string }> }>) => snaps[0]!.allocations.map((a) => Number(a.offset)).sort((x, y) => x - y);
    for (let o = 1; o <= 12; o++) assert.equal(await store.commit(allocate(pool, alloc(o, `r${o}`)), soon()), true);
    assert.deepEqual(offsets(await reader.read([pool], soon())), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.equal((await reader.readReservations(pool.networkName, soon())).length, 12);
    const steps: Array<() => Promise<boolean>> = [
      () => store.commit(allocate(pool, alloc(13, 'r13')), soon()),
      () => store.commit(release(pool, alloc(4, 'r4')), soon()),
      () => store.commit([...release(pool, alloc(5, 'r5')), ...allocate(pool, alloc(5, 'r5-again'))], soon()),
      () => store.commit(release(pool, alloc(13, 'r13')), soon()),
      () => store.commit(allocate(pool, alloc(4, 'r4-again')), soon()),
    ];
    for (const step of steps) {
      assert.equal(await step(), true);
      const truth = new EtcdStore({ endpoints: cluster.endpoints() });
      const want = await truth.read([pool], soon());
      const got = await reader.read([pool], soon());
      assert.deepEqual(offsets(got), offsets(want));
      assert.deepEqual(
        got[0]!.allocations.map((a) => a.containerId).sort(),
        want[0]!.allocations.map((a) => a.containerId).sort(),
      );
      assert.deepEqual(
        (await reader.readReservations(pool.networkName, soon())).map((r) => r.containerId).sort(),
        (await truth.readReservations(pool.networkName, soon())).map((r) => r.containerId).sort(),
      );
      await truth.close();
    }
    await reader.close();
  });

  it('GC of more allocations than one etcd transaction can hold frees them all, in several commits', async () => {
    const net = `gc${seq++}`;
    const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.4.0/24', network_name: net, datastore: 'etcd', etcd_host: cluster.endpoints().join(',') });
    const svc = new WhereaboutsService({ storeFor: () => store, node: 'node-gc', log: silentLogger });
    const n = MAX_FREES_PER_COMMIT * 2 + 5;
    const who = (i: number) => ({ containerId: `gc-c${i}`, podRef: `ns/gc${i}`, ifname: 'net1', network: 'netGC' });
    for (let i = 0; i < n; i++) await svc.add(cfg, who(i));
    // keep two; the other n - 2 need three commits of at most MAX_FREES_PER_COMMIT frees
    assert.equal(await svc.gc(cfg, 'netGC', [who(0), who(7)]), n - 2);
    const [snap] = await store.read([{ networkName: net, range: '198.18.4.0/24' }], soon());
    assert.deepEqual(snap?.allocations.map((a) => a.containerId).sort(), ['gc-c0', 'gc-c7']);
    assert.equal((await store.readReservations(net, soon())).length, 2);
    // the pod index went with them: a freed pod gets an address again
    assert.equal((await svc.add(cfg, who(3))).length, 1);
  });

  it('a record that is not ours to parse fails clearly, naming the key', async () => {
    const raw = new Etcd3({ hosts: cluster.endpoints() });
    await raw.put('/whereabouts/junk/pools/198.18.0.0-24/5').value('{not json');
    raw.close();
    await assert.rejects(store.read([pools('junk')], soon()), (err: Error) => {
      assert.ok(err instanceof StoreUnavailableError);
      assert.match(err.message, /\/whereabouts\/junk\/pools\/198\.18\.0\.0-24\/5 does not hold JSON/);
      return true;
    });
  });

  it('nothing listening: StoreUnavailableError naming the endpoints, within the deadline', async () => {
    const dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const s = openEtcdStore({ endpoints: dead });
    for (const call of [() => s.commit(allocate(POOL_A, alloc(1, 'x')), { deadline: Date.now() + 2000 }), () => s.health({ deadline: Date.now() + 2000 })]) {
      const t0 = Date.now();
      await assert.rejects(call(), (err: Error) => {
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.ok(err.message.includes(dead[0]!) && err.message.includes(dead[1]!), err.message);
        return true;
      });
      assert.ok(Date.now() - t0 < 2000 + 1000, `took ${Date.now() - t0} ms`);
    }
    await s.close();
  });

  describe('auth', function () {
    let authed: EtcdCluster;
    before(async function () {
      requireRootTools(this, [ETCD]);
      authed = await EtcdCluster.start();
      await authed.enableAuth('wae-user', 'wae-secret');
    });
    after(async () => authed?.close());

    it('a user and password from etcd_username/etcd_password can allocate; a wrong password is refused clearly', async () => {
      const good = openEtcdStore({ endpoints: authed.endpoints(), username: 'wae-user', password: 'wae-secret' });
      const a = alloc(3, 'auth');
      assert.equal(await good.commit(allocate(POOL_A, a), soon()), true);
      assert.deepEqual((await good.read([POOL_A], soon()))[0]?.allocations, [a]);
      await good.close();
      for (const cfg of [{ username: 'wae-user', password: 'wrong' }, {}]) {
        const bad = openEtcdStore({ endpoints: authed.endpoints(), ...cfg });
        await assert.rejects(bad.commit(allocate(POOL_A, alloc(4, 'intruder')), soon()), (err: Error) => {
          assert.ok(err instanceof StoreUnavailableError, String(err));
          assert.match(err.message, /auth|permission|user/i);
          return true;
        });
        await bad.close();
      }
      const check = openEtcdStore({ endpoints: authed.endpoints(), username: 'wae-user', password: 'wae-secret' });
      assert.deepEqual((await check.read([POOL_A], soon()))[0]?.allocations, [a]);
      await check.close();
    });
  });

  describe('TLS', function () {
    let secure: EtcdCluster;
    let dir = '';
    let certs: ReturnType<typeof makeCerts>;
    before(async function () {
      requireRootTools(this, [ETCD, OPENSSL]);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `cdt-wae-tls-${process.pid}-`));
      certs = makeCerts(dir);
      secure = await EtcdCluster.start({ tls: certs });
    });
    after(async () => {
      await secure?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('etcd_ca_cert_file, etcd_cert_file and etcd_key_file: a client certificate signed by the CA allocates', async () => {
      // endpoints without a scheme, as etcd_host is often written: TLS files make them https
      const hosts = secure.endpoints().map((e) => e.replace(/^https:\/\//, ''));
      const s = openEtcdStore({ endpoints: hosts, caCertFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey });
      assert.match(s.endpoint, /^etcd https:\/\/127\.0\.0\.1:\d+,https:/);
      const a = alloc(5, 'tls');
      assert.equal(await s.commit(allocate(POOL_A, a), soon()), true);
      assert.deepEqual((await s.read([POOL_A], soon()))[0]?.allocations, [a]);
      await s.close();
    });

    it('no client certificate, or a missing key file: a clear StoreUnavailableError', async () => {
      const noCert = openEtcdStore({ endpoints: secure.endpoints(), caCertFile: certs.ca });
      await assert.rejects(noCert.health({ deadline: Date.now() + 3000 }), StoreUnavailableError);
      await noCert.close();
      assert.throws(
        () => openEtcdStore({ endpoints: secure.endpoints(), caCertFile: certs.ca, certFile: certs.clientCert, keyFile: path.join(dir, 'nope.key') }),
        (err: Error) => err instanceof StoreUnavailableError && /etcd_key_file .*nope\.key/.test(err.message),
      );
      assert.throws(() => openEtcdStore({ endpoints: secure.endpoints(), certFile: certs.clientCert }), /etcd_cert_file and etcd_key_file go together/);
    });
  });
});
