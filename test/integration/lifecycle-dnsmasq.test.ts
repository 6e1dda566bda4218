/**
 * dnsmasq's minimum lease is 2 minutes (T1 = 60 s), so its lifecycle cases share one wait:
 * - restart: kill -9 of the daemon, its leases must be renewed at T1;
 * - renum: the pool is renumbered under two pods (dnsmasq restarted with its leases wiped and
 *   only a range in another subnet): NAK at T1, option 50 refused, the pods are moved;
 * - optout: the same with onAddressChange "release": the pod is left alone and reported LOST;
 * - keep: the server forgets its leases but keeps its range (not authoritative, so it NAKs the
 *   renewal it does not know): the DISCOVER asks for the address (option 50) and gets it back.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, REPO } from '../helpers/lab';
import { leases, stateFiles } from '../helpers/daemon-rpc';
import { requireRootTools, run, sh, waitFor } from '../helpers/sh';
import type { LeaseView } from '../../shared/rpc-protocol';

const CLI = path.join(REPO, 'dist', 'bin', 'cni-dhcp');
const METRICS = '127.0.0.1:9781';
const NEW_RANGE = { rangeStart: '198.18.1.10', rangeEnd: '198.18.1.250', router: '198.18.1.1' };

interface Attached {
  pod: string;
  prevResult: Record<string, unknown>;
  lease: LeaseView;
}

/** Pods with a `net1` on the lab bridge through the real bridge plugin; keeps each prevResult. */
async function attachNet1(lab: Lab, n: number, ipamExtra: Record<string, unknown> = {}): Promise<Attached[]> {
  const pods: string[] = [];
  for (let i = 0; i < n; i++) pods.push(await lab.addPod());
  const config = lab.bridgeConfig('1.0.0', ipamExtra);
  const results = await Promise.all(pods.map((pod) => lab.cni({ plugin: 'bridge', command: 'ADD', pod, ifname: 'net1', config })));
  const byPod = new Map((await leases(lab)).map((l) => [l.containerId, l]));
  return pods.map((pod, i) => {
    const r = results[i];
    assert.equal(r?.code, 0, `bridge ADD of ${pod}: ${r?.stdout} ${r?.stderr}`);
    return { pod, prevResult: r?.json as Record<string, unknown>, lease: byPod.get(pod) as LeaseView };
  });
}

/** The server forgets every lease and serves only 198.18.1.0/24 from now on. */
async function renumber(lab: Lab): Promise<void> {
  await lab.stopServer();
  fs.rmSync(lab.leaseFile, { force: true });
  await lab.inNs(lab.serverNs, 'ip', 'addr', 'add', '198.18.1.1/24', 'dev', 'srv0');
  await lab.startDnsmasq({ leaseTime: '2m', ...NEW_RANGE });
}

async function cliLeases(lab: Lab): Promise<LeaseView[]> {
  const r = await run(CLI, ['--socket', lab.socketPath, 'leases', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as LeaseView[];
}

async function metric(lab: Lab, line: RegExp): Promise<number> {
  const text = await sh('ip', 'netns', 'exec', lab.nodeNs, process.execPath, '-e', `fetch('http://${METRICS}/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`);
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? 0 : Number(m.split(' ').at(-1));
}

function check(lab: Lab, a: Attached, prevResult: Record<string, unknown>, ipamExtra: Record<string, unknown> = {}) {
  return lab.cni({ plugin: 'bridge', command: 'CHECK', pod: a.pod, ifname: 'net1', config: { ...lab.bridgeConfig('1.0.0', ipamExtra), prevResult } });
}

describe('lease lifecycle against dnsmasq with 2-minute leases @root', function () {
  this.timeout(150_000);
  let restart: Lab;
  let renum: Lab;
  let optout: Lab;
  let keep: Lab;
  let restartBefore: LeaseView[] = [];
  let dnsmasqExpiryBefore = new Map<string, number>();
  let moved: Attached[] = [];
  let released: Attached[] = [];
  let kept: Attached[] = [];
  let renumberedAt = 0;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    [restart, renum, optout, keep] = await Promise.all([Lab.create('rsdm'), Lab.create('renu'), Lab.create('optu'), Lab.create('keep')]);
    await Promise.all([
      restart.startDnsmasq({ leaseTime: '2m' }),
      renum.startDnsmasq({ leaseTime: '2m' }),
      optout.startDnsmasq({ leaseTime: '2m' }),
      keep.startDnsmasq({ leaseTime: '2m', authoritative: false }),
    ]);
    await Promise.all([restart.startDaemon(), renum.startDaemon(['--metrics-address', METRICS]), optout.startDaemon(['--metrics-address', METRICS]), keep.startDaemon()]);
    await restart.attachBridgePods(3);
    [moved, released, kept] = await Promise.all([attachNet1(renum, 2), attachNet1(optout, 1, { onAddressChange: 'release' }), attachNet1(keep, 1)]);
    restartBefore = await leases(restart);
    dnsmasqExpiryBefore = new Map(restart.dnsmasqLeases().map((l) => [l.ip, l.expiry]));
    await restart.stopDaemon('SIGKILL');
    await restart.startDaemon();
    renumberedAt = Date.now();
    await Promise.all([renumber(renum), renumber(optout)]);
    await keep.stopServer();
    fs.rmSync(keep.leaseFile, { force: true });
    await keep.startDnsmasq({ leaseTime: '2m', authoritative: false });
  });
  after(async () => {
    await Promise.all([restart?.cleanup(), renum?.cleanup(), optout?.cleanup(), keep?.cleanup()]);
  });

  it('after kill -9 and a restart, dnsmasq sees every lease renewed at T1 with the same address', async () => {
    assert.equal(stateFiles(restart).length, 3);
    await waitFor('renewals on the server', () => {
      const now = restart.dnsmasqLeases();
      return now.length === 3 && now.every((l) => l.expiry > (dnsmasqExpiryBefore.get(l.ip) ?? Infinity)) ? true : undefined;
    }, 80_000, 500);
    const after = new Map((await leases(restart)).map((l) => [l.containerId, l]));
    for (const l of restartBefore) {
      assert.equal(after.get(l.containerId)?.address, l.address);
      assert.equal(after.get(l.containerId)?.state, 'BOUND');
    }
    assert.match(restart.daemonLog(), /BOUND -> RENEWING/);
  });

  it('renumbered pool: NAK at T1, the old address asked for and refused, and each pod moved to its new address', async () => {
    const now = await waitFor('both pods bound in the new range', async () => {
      const ls = await leases(renum);
      return ls.length === 2 && ls.every((l) => l.state === 'BOUND' && l.address?.startsWith('198.18.1.')) ? ls : undefined;
    }, 80_000, 500);
    const byPod = new Map(now.map((l) => [l.containerId, l]));
    const log = renum.daemonLog();
    assert.match(log, /warn "DHCPNAK from our server: lease lost, starting over"/);
    const served = renum.dnsmasqLeases();
    for (const a of moved) {
      const old = `${a.lease.address}/24`;
      const l = byPod.get(a.pod) as LeaseView;
      const fresh = `${l.address}/24`;
      // the interface holds exactly the new address, and the default route goes via the new router
      const addrs = (await sh('ip', '-n', a.pod, '-4', '-o', 'addr', 'show', 'dev', 'net1')).trim().split('\n');
      assert.equal(addrs.length, 1, addrs.join('\n'));
      assert.match(addrs[0] as string, new RegExp(` inet ${fresh.replace(/\./g, '\\.')} brd 198\\.18\\.1\\.255 `));
      const routes = await sh('ip', '-n', a.pod, '-4', 'route', 'show', 'dev', 'net1');
      assert.match(routes, /^default via 198\.18\.1\.1 /m, routes);
      assert.doesNotMatch(routes, /198\.18\.0\./, routes);
      // the server agrees
      assert.ok(served.some((s) => s.ip === l.address && s.mac === a.lease.mac), `dnsmasq holds ${l.address} for ${a.lease.mac}: ${JSON.stringify(served)}`);
      // it asked for the old address first (dnsmasq logs a DISCOVER's option 50)
      assert.match(fs.readFileSync(path.join(renum.dir, 'dnsmasq.log'), 'utf8'), new RegExp(`DHCPDISCOVER\\(srv0\\) ${a.lease.address!.replace(/\./g, '\\.')} ${a.lease.mac}`));
      assert.ok(log.includes(`"from":"${old}"`) || log.includes(`from=${old}`), 'the warning names the old address');
      assert.match(log, new RegExp(`warn "the server gave another address; the pod was moved to it".*${fresh.replace(/\./g, '\\.')}`));
      // the CLI shows the change: from what, and when
      const view = (await cliLeases(renum)).find((v) => v.containerId === a.pod) as LeaseView;
      assert.equal(view.changedFrom, old);
      assert.ok((view.changedAt ?? 0) > renumberedAt && (view.changedAt ?? 0) <= Date.now());
      assert.equal(view.lastError, undefined);
      const table = await run(CLI, ['--socket', renum.socketPath, 'leases', '--container', a.pod]);
      assert.match(table.stdout, new RegExp(`BOUND .* from ${old.replace(/\./g, '\\.')} (\\d+s|\\dm\\d\\ds) ago$`, 'm'), table.stdout);
      // the runtime's cached result is stale: CHECK says so, naming both
      const stale = await check(renum, a, a.prevResult);
      assert.equal(stale.code, 1, stale.stdout);
      assert.equal(stale.json?.code, 102);
      assert.match(String(stale.json?.msg), new RegExp(`moved from ${old.replace(/\./g, '\\.')} to ${fresh.replace(/\./g, '\\.')}`));
      // with the result the pod now has, the IPAM CHECK passes
      const current = JSON.parse(JSON.stringify(a.prevResult).split(old).join(fresh).split('"198.18.0.1"').join('"198.18.1.1"')) as Record<string, unknown>;
      const ok = await renum.cni({ plugin: 'dhcp', command: 'CHECK', pod: a.pod, ifname: 'net1', config: { ...renum.bridgeConfig(), prevResult: current } });
      assert.equal(ok.code, 0, ok.stdout);
    }
    assert.equal(await metric(renum, /^cni_dhcp_address_changes_total /), 2);
  });

  it('renumbered pool with onAddressChange "release": the pod is left alone, the new lease released, LOST everywhere', async () => {
    const [a] = released as [Attached];
    const view = await waitFor('LOST', async () => (await cliLeases(optout)).find((v) => v.containerId === a.pod && v.state === 'LOST'), 80_000, 500);
    assert.equal(view.address, a.lease.address, 'reported with the address the pod still carries');
    assert.match(view.lost?.offered ?? '', /^198\.18\.1\.\d+\/24$/);
    const table = await run(CLI, ['--socket', optout.socketPath, 'leases']);
    assert.match(table.stdout, new RegExp(`${a.lease.address!.replace(/\./g, '\\.')}/24 .* LOST .* offered 198\\.18\\.1\\.\\d+/24 \\(released\\) \\d+s ago$`, 'm'), table.stdout);
    const addrs = await sh('ip', '-n', a.pod, '-4', '-o', 'addr', 'show', 'dev', 'net1');
    assert.ok(addrs.includes(` inet ${a.lease.address}/24 `), addrs);
    assert.match(await sh('ip', '-n', a.pod, '-4', 'route', 'show', 'dev', 'net1'), /^default via 198\.18\.0\.1 /m);
    await waitFor('dnsmasq to drop the released lease', () => (optout.dnsmasqLeases().every((l) => l.mac !== a.lease.mac) ? true : undefined), 5000, 100);
    const r = await check(optout, a, a.prevResult, { onAddressChange: 'release' });
    assert.equal(r.json?.code, 102, r.stdout);
    assert.match(String(r.json?.msg), new RegExp(`is LOST: the pod keeps ${a.lease.address!.replace(/\./g, '\\.')}/24.*offered 198\\.18\\.1\\.`));
    assert.equal(await metric(optout, /^cni_dhcp_attachments_lost_total /), 1);
    assert.equal(await metric(optout, /^cni_dhcp_leases\{family="ipv4",state="LOST"\} /), 1);
    assert.equal(await metric(optout, /^cni_dhcp_address_changes_total /), 0);
    assert.match(optout.daemonLog(), /warn "attachment LOST: the pod keeps an address no server vouches for"/);
    // LOST survives a restart, and DEL still cleans up
    await optout.stopDaemon();
    await optout.startDaemon();
    assert.equal((await cliLeases(optout))[0]?.state, 'LOST');
    const del = await optout.cni({ plugin: 'bridge', command: 'DEL', pod: a.pod, ifname: 'net1', config: optout.bridgeConfig('1.0.0', { onAddressChange: 'release' }) });
    assert.equal(del.code, 0, del.stdout);
    assert.deepEqual(stateFiles(optout), []);
  });

  it('a server that forgot its leases but keeps the range NAKs the renewal and gives the same address back for option 50', async () => {
    const [a] = kept as [Attached];
    const l = await waitFor('bound again', async () => {
      const v = (await leases(keep))[0];
      return v?.state === 'BOUND' && (v.boundAt ?? 0) > (a.lease.boundAt ?? 0) ? v : undefined;
    }, 80_000, 500);
    assert.equal(l.address, a.lease.address);
    assert.equal(l.changedFrom, undefined);
    assert.match(keep.daemonLog(), /DHCPNAK from our server/);
    assert.match(fs.readFileSync(path.join(keep.dir, 'dnsmasq.log'), 'utf8'), new RegExp(`DHCPDISCOVER\\(srv0\\) ${a.lease.address!.replace(/\./g, '\\.')} ${a.lease.mac}`));
    assert.ok(keep.dnsmasqLeases().some((s) => s.ip === a.lease.address));
    assert.ok((await sh('ip', '-n', a.pod, '-4', '-o', 'addr', 'show', 'dev', 'net1')).includes(` inet ${a.lease.address}/24 `));
    const r = await check(keep, a, a.prevResult);
    assert.equal(r.code, 0, r.stdout);
  });
});
