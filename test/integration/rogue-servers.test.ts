/**
 * Issue 6 §2: rogue and confused DHCP servers. Each case has two servers on the segment: server
 * A in the lab's server namespace (198.18.0.1) and server B in a second namespace on the same
 * bridge (198.18.0.2); each is dnsmasq or the scriptable fake server (test/helpers/fake-dhcp-server).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { call } from '../../shared/rpc-client';
import { Method, type LeaseView } from '../../shared/rpc-protocol';
import { MessageType } from '../../daemon/dhcp4/types';
import { addServerNs, BEHAVIOURS, FakeDhcpServer, plugPod, type FakeBehaviour, type ServerNs } from '../helpers/fake-dhcp-server';
import { Lab } from '../helpers/lab';
import { requireRootTools, waitFor } from '../helpers/sh';

const TIMEOUT_MS = 3000;

describe('rogue and confused DHCP servers @root', function () {
  this.timeout(60_000);
  let lab: Lab;
  let b: ServerNs;
  let fakes: FakeDhcpServer[] = [];
  let podCount = 0;

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/sbin/bridge']);
    lab = await Lab.create('rogu');
    b = await addServerNs(lab, '198.18.0.2');
    await lab.startDaemon(['-timeout', `${TIMEOUT_MS / 1000}s`]);
  });
  after(async () => {
    await lab?.cleanup();
    await b?.delete();
  });
  afterEach(async () => {
    for (const f of fakes) await f.stop();
    fakes = [];
    await lab.stopServer();
  });

  const startA = async (behaviour: FakeBehaviour) => {
    const f = await FakeDhcpServer.start(lab, lab.serverNs, 'srv0', { serverId: '198.18.0.1', poolStart: '198.18.0.100', router: '198.18.0.1', behaviour });
    fakes.push(f);
    return f;
  };
  const startB = async (behaviour: FakeBehaviour) => {
    const f = await FakeDhcpServer.start(lab, b.ns, b.iface, { serverId: '198.18.0.2', poolStart: '198.18.0.200', router: '198.18.0.2', behaviour });
    fakes.push(f);
    return f;
  };
  const newPod = async () => {
    const pod = await lab.addPod();
    await plugPod(lab, pod, podCount++);
    return pod;
  };
  const conf = () => ({ cniVersion: '1.0.0', name: `lab-${lab.id}`, ipam: lab.ipamConfig() });
  const add = async (pod: string) => {
    const t0 = Date.now();
    const r = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: conf() });
    return { ...r, ms: Date.now() - t0 };
  };
  const leasesOf = async (containerId: string) => (await call<LeaseView[]>(lab.socketPath, Method.Leases, {})).filter((l) => l.containerId === containerId);
  /** state files (and temp files) that mention the container */
  const stateFilesOf = (containerId: string): string[] => {
    if (!fs.existsSync(lab.stateDir)) return [];
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (fs.readFileSync(p, 'utf8').includes(containerId)) out.push(p);
      }
    };
    walk(lab.stateDir);
    return out;
  };
  const logOf = (containerId: string) => lab.daemonLog().split('\n').filter((l) => l.includes(`containerId=${containerId}`));
  const ignoredReasons = (containerId: string) =>
    logOf(containerId)
      .filter((l) => l.includes('"reply ignored"'))
      .map((l) => /reason=("(?:[^"\\]|\\.)*"|\S+)/.exec(l)?.[1] ?? '')
      .map((r) => (r.startsWith('"') ? (JSON.parse(r) as string) : r));
  const fdCount = () => fs.readdirSync(`/proc/${lab.daemon?.pid}/fd`).length;
  const packetSockets = () =>
    fs.readdirSync(`/proc/${lab.daemon?.pid}/fd`).filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/${lab.daemon?.pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  /** nothing of `containerId` is left: no lease over RPC, no file in the state dir */
  const assertNothingLeft = async (containerId: string) => {
    assert.deepEqual(await leasesOf(containerId), [], 'no lease left over RPC');
    assert.deepEqual(stateFilesOf(containerId), [], 'no state file left');
  };

  it('a second server that OFFERs and NAKs after we selected the first is ignored: the lease comes from the first', async () => {
    // A offers at once but takes 600 ms to ACK; B offers 200 ms late and NAKs every REQUEST at
    // once, also ours for A: both of B's replies arrive while we are REQUESTING from A.
    const a = await startA({ ...BEHAVIOURS.normal, requestDelayMs: 600 });
    const rogue = await startB({ offer: true, offerDelayMs: 200, request: 'nak', requestScope: 'any' });
    const pod = await newPod();
    const r = await add(pod);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ip = (r.json as { ips: Array<{ address: string }> }).ips[0]?.address;
    assert.equal(ip, a.sent(MessageType.ACK)[0]?.yiaddr + '/24', 'the address is the one A ACKed');
    assert.equal(rogue.sent(MessageType.OFFER).length, 1, `B offered: ${rogue.rawLog()}`);
    assert.equal(rogue.sent(MessageType.NAK).length, 1, `B NAKed: ${rogue.rawLog()}`);
    const [lease] = await leasesOf(pod);
    assert.equal(lease?.state, 'BOUND');
    assert.equal(lease?.serverId, '198.18.0.1');
    const reasons = ignoredReasons(pod);
    assert.ok(reasons.includes('NAK from another server (198.18.0.2)'), `log: ${reasons.join(' | ')}`);
    assert.ok(reasons.includes('unexpected OFFER in REQUESTING'), `log: ${reasons.join(' | ')}`);
  });

  it('dnsmasq, plus a second server that offers late and NAKs every REQUEST: we keep dnsmasq\'s lease', async () => {
    await lab.startDnsmasq();
    const rogue = await startB(BEHAVIOURS['late-offer-nak-all']);
    const pod = await newPod();
    const r = await add(pod);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ip = String((r.json as { ips: Array<{ address: string }> }).ips[0]?.address).split('/')[0];
    await waitFor('the rogue to offer and NAK', () => (rogue.sent(MessageType.OFFER).length >= 1 && rogue.sent(MessageType.NAK).length >= 1) || undefined, 3000);
    await waitFor('the daemon to ignore both', () => ignoredReasons(pod).length >= 2 || undefined, 2000);
    const [lease] = await leasesOf(pod);
    assert.equal(lease?.state, 'BOUND');
    assert.equal(lease?.serverId, '198.18.0.1');
    assert.equal(lease?.address, ip);
    assert.ok(lab.dnsmasqLeases().some((l) => l.ip === ip), 'dnsmasq holds the lease');
  });

  it('replies with a wrong xid are ignored: the lease comes from the honest server', async () => {
    // dnsmasq answers a second late, so the rogue's wrong-xid OFFER arrives while we are SELECTING
    await lab.startDnsmasq({ extra: ['--dhcp-reply-delay=1'] });
    const rogue = await startB(BEHAVIOURS['wrong-xid']);
    const pod = await newPod();
    const r = await add(pod);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(rogue.sent(MessageType.OFFER).length >= 1, `the rogue offered: ${rogue.rawLog()}`);
    const [lease] = await leasesOf(pod);
    assert.equal(lease?.serverId, '198.18.0.1');
    assert.ok(ignoredReasons(pod).includes('xid mismatch'), `log: ${ignoredReasons(pod).join(' | ')}`);
  });

  it('two servers that answer only with a wrong xid or a wrong chaddr: ADD fails with code 11 within -timeout, nothing left', async () => {
    const a = await startA(BEHAVIOURS['wrong-chaddr']);
    const rogue = await startB(BEHAVIOURS['wrong-xid']);
    const pod = await newPod();
    const r = await add(pod);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.json?.code, 11, r.stdout);
    assert.match(String(r.json?.msg), /no DHCP lease for eth1 within 3 s/);
    assert.ok(r.ms >= TIMEOUT_MS - 100 && r.ms < TIMEOUT_MS + 2000, `ADD took ${r.ms} ms`);
    assert.ok(a.sent(MessageType.OFFER).length >= 1 && rogue.sent(MessageType.OFFER).length >= 1, 'both servers answered');
    // the wrong chaddr never reaches JS (the kernel filter matches our MAC); the wrong xid does, and is ignored
    const reasons = ignoredReasons(pod);
    assert.ok(reasons.length >= 1 && reasons.every((x) => x === 'xid mismatch'), `log: ${reasons.join(' | ')}`);
    await assertNothingLeft(pod);
  });

  for (const [name, missing] of [
    ['ack-without-mask', /ACK without a usable subnet mask \(option 1\)/],
    ['ack-without-server-id', /ACK without a server identifier \(option 54\)/],
  ] as const) {
    it(`an ${name.replace(/-/g, ' ')} is a clear CNI error (code 101), and no lease is left`, async () => {
      // dnsmasq (A) answers a second late, so we take B's OFFER and get its broken ACK
      await lab.startDnsmasq({ extra: ['--dhcp-reply-delay=1'] });
      const rogue = await startB(BEHAVIOURS[name]);
      const pod = await newPod();
      const r = await add(pod);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.json?.code, 101, r.stdout);
      assert.match(String(r.json?.msg), missing);
      assert.ok(r.ms < TIMEOUT_MS, `failed at once, not at the deadline (${r.ms} ms)`);
      assert.equal(rogue.sent(MessageType.ACK).length, 1);
      await assertNothingLeft(pod);
      await new Promise((res) => setTimeout(res, 1200)); // dnsmasq's late OFFER finds no one listening
      await assertNothingLeft(pod);
    });
  }

  it('servers that never answer: ADD fails within -timeout with code 11, and nothing is left (lease, file, packet socket)', async () => {
    const a = await startA(BEHAVIOURS.silent);
    const rogue = await startB(BEHAVIOURS.silent);
    const pod = await newPod();
    // settle: closes of earlier tests' sockets run on the thread pool
    await new Promise((res) => setTimeout(res, 300));
    const fdsBefore = fdCount();
    const socketsBefore = packetSockets();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, packetSockets());
    }, 50);
    let r: Awaited<ReturnType<typeof add>>;
    try {
      r = await add(pod);
    } finally {
      clearInterval(sampler);
    }
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.json?.code, 11, r.stdout);
    assert.match(String(r.json?.details), /no DHCP server answered/);
    assert.ok(r.ms >= TIMEOUT_MS - 100 && r.ms < TIMEOUT_MS + 2000, `ADD took ${r.ms} ms`);
    assert.ok(a.received(MessageType.DISCOVER).length >= 1 && rogue.received(MessageType.DISCOVER).length >= 1, 'both servers heard the DISCOVER');
    assert.ok(peak > socketsBefore, `the packet socket was seen open during the ADD (peak ${peak}, before ${socketsBefore})`);
    await assertNothingLeft(pod);
    await waitFor(`the daemon's fds back to ${fdsBefore}`, () => fdCount() === fdsBefore || undefined, 3000);
  });

  it('a server that OFFERs and then NAKs our REQUEST (with a silent second server): ADD fails with code 100 at the deadline, nothing left', async () => {
    const a = await startA(BEHAVIOURS['offer-then-nak']);
    await startB(BEHAVIOURS.silent);
    const pod = await newPod();
    const r = await add(pod);
    assert.equal(r.code, 1, r.stdout);
    assert.ok(a.sent(MessageType.NAK).length >= 1, a.rawLog());
    assert.equal(r.json?.code, 100, r.stdout);
    assert.match(`${String(r.json?.msg)} ${String(r.json?.details)}`, /NAK from 198\.18\.0\.1: fake server says no/);
    assert.ok(r.ms < TIMEOUT_MS + 2000, `ADD took ${r.ms} ms`);
    await assertNothingLeft(pod);
  });

  it('the daemon is still healthy after every rogue', async () => {
    await lab.startDnsmasq();
    const pod = await newPod();
    const r = await add(pod);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(lab.daemonLog(), /uncaught exception|unhandled rejection/);
  });
});
