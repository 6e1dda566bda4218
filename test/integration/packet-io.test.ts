import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import {
  allClosed,
  assertNetworkNamespace,
  interfaceStatus,
  openPacketSocket,
  PacketIoError,
  PacketSocket,
  threadNetnsId,
  withNetns,
} from '../../daemon/io';
import { liveWatcherCount } from '../../daemon/io/poller';
import {
  cleanupNetns,
  createNetns,
  createVeth,
  startCapture,
  TestNetns,
  waitFor,
} from '../helpers/netns';

// ---- a tiny IPv4/UDP/BOOTP builder, independent of the daemon's codec ----

const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));
const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
const macStr = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

function onesSum(buf: Buffer, sum = 0): number {
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length & 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function udpChecksumOk(pkt: Buffer): boolean {
  const ihl = (pkt[0]! & 0x0f) * 4;
  const udpLen = pkt.readUInt16BE(ihl + 4);
  const pseudo = Buffer.concat([pkt.subarray(12, 20), Buffer.from([0, 17]), Buffer.from([udpLen >> 8, udpLen & 0xff])]);
  return onesSum(pkt.subarray(ihl, ihl + udpLen), onesSum(pseudo)) === 0xffff;
}

interface PacketSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
  flagsFrag?: number;
}

function ipUdp(p: PacketSpec): Buffer {
  const pkt = Buffer.alloc(28 + p.payload.length);
  pkt[0] = 0x45;
  pkt.writeUInt16BE(pkt.length, 2);
  pkt.writeUInt16BE(p.flagsFrag ?? 0, 6);
  pkt[8] = 64;
  pkt[9] = 17;
  ipBytes(p.src).copy(pkt, 12);
  ipBytes(p.dst).copy(pkt, 16);
  pkt.writeUInt16BE(~onesSum(pkt.subarray(0, 20)) & 0xffff, 10);
  pkt.writeUInt16BE(p.sport, 20);
  pkt.writeUInt16BE(p.dport, 22);
  pkt.writeUInt16BE(8 + p.payload.length, 24);
  p.payload.copy(pkt, 28);
  const pseudo = Buffer.concat([pkt.subarray(12, 20), Buffer.from([0, 17]), pkt.subarray(24, 26)]);
  const c = ~onesSum(pkt.subarray(20), onesSum(pseudo)) & 0xffff;
  pkt.writeUInt16BE(c === 0 ? 0xffff : c, 26);
  return pkt;
}

function bootp(op: 1 | 2, chaddr: Buffer, xid: number): Buffer {
  const b = Buffer.alloc(300);
  b[0] = op;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(xid, 4);
  chaddr.copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  b[240] = 255;
  return b;
}

const reply = (chaddr: Buffer, xid: number, over: Partial<PacketSpec> = {}): Buffer =>
  ipUdp({ src: '198.18.1.1', dst: '255.255.255.255', sport: 67, dport: 68, payload: bootp(2, chaddr, xid), ...over });

const xidOf = (pkt: Buffer): number => pkt.readUInt32BE(28 + 4);

// ---- fixtures ----

interface Received {
  pkt: Buffer;
  srcMac: string;
}

function open(ns: TestNetns, ifname: string, bringUp = true): { sock: PacketSocket; got: Received[]; errors: Error[] } {
  const got: Received[] = [];
  const errors: Error[] = [];
  const sock = openPacketSocket({
    netnsPath: ns.path,
    ifname,
    bringUp,
    onPacket: (pkt, src) => got.push({ pkt, srcMac: macStr(src) }),
    onError: (err) => errors.push(err),
  });
  return { sock, got, errors };
}

const fdCount = (): number => fs.readdirSync('/proc/self/fd').length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const linkFlags = (ns: TestNetns, ifname: string): string[] =>
  (JSON.parse(ns.ip('-j', 'link', 'show', 'dev', ifname)) as Array<{ flags: string[] }>)[0]!.flags;

/**
 * The pod: net1 (the DHCP interface, no address) to the "server" namespace, and eth0 with
 * an address and the default route to a "gateway" namespace; rp_filter=1 everywhere.
 */
function makePod(tag: string, opts: { podUp?: boolean } = {}): { pod: TestNetns; srv: TestNetns; gw: TestNetns } {
  const pod = createNetns(`${tag}-pod`);
  const srv = createNetns(`${tag}-srv`);
  const gw = createNetns(`${tag}-gw`);
  createVeth({ ns: pod, ifname: 'net1', up: opts.podUp ?? true }, { ns: srv, ifname: 'veth0' });
  createVeth({ ns: pod, ifname: 'eth0' }, { ns: gw, ifname: 'veth0' });
  srv.ip('addr', 'add', '198.18.1.1/24', 'dev', 'veth0');
  gw.ip('addr', 'add', '198.18.9.1/24', 'dev', 'veth0');
  pod.ip('addr', 'add', '198.18.9.2/24', 'dev', 'eth0');
  pod.ip('route', 'add', 'default', 'via', '198.18.9.1');
  for (const k of ['all', 'default', 'eth0', 'net1']) pod.sysctl(`net.ipv4.conf.${k}.rp_filter`, 1);
  return { pod, srv, gw };
}

describe('@root packet I/O in a pod network namespace', function () {
  this.timeout(60000);
  const home = threadNetnsId();

  after(async () => {
    await allClosed();
    await cleanupNetns();
  });
  afterEach(() => {
    assert.equal(threadNetnsId(), home, 'the main thread is back in its own network namespace');
  });

  describe('receiving', () => {
    let pod: TestNetns;
    let srv: TestNetns;
    let rx: ReturnType<typeof open>;
    let tx: PacketSocket;

    before(() => {
      ({ pod, srv } = makePod('rx'));
      rx = open(pod, 'net1');
      tx = open(srv, 'veth0').sock; // the "server" side: raw frames we craft
    });
    after(() => {
      rx.sock.close();
      tx.close();
    });
    beforeEach(() => {
      rx.got.length = 0;
    });

    it('reads the MAC and ifindex inside the pod namespace', () => {
      assert.equal(macStr(rx.sock.mac), pod.mac('net1'));
      const idx = (JSON.parse(pod.ip('-j', 'link', 'show', 'dev', 'net1')) as Array<{ ifindex: number }>)[0]!.ifindex;
      assert.equal(rx.sock.ifindex, idx);
    });

    it('delivers a broadcast reply for our chaddr with the sender\'s MAC', async () => {
      const pkt = reply(rx.sock.mac, 0x1001);
      tx.send(pkt);
      await waitFor(() => rx.got.length === 1, 2000, 'the reply');
      assert.deepEqual(rx.got[0]!.pkt, pkt);
      assert.equal(rx.got[0]!.srcMac, srv.mac('veth0'));
    });

    it('delivers a unicast reply to our MAC and an address the pod does not have (rp_filter=1)', async () => {
      tx.send(reply(rx.sock.mac, 0x1002, { dst: '198.18.1.50' }), rx.sock.mac);
      await waitFor(() => rx.got.length === 1, 2000, 'the unicast reply');
      assert.equal(xidOf(rx.got[0]!.pkt), 0x1002);
    });

    it('filters in the kernel: another chaddr, port 67, a fragment are never delivered', async () => {
      const other = Buffer.from(rx.sock.mac);
      other[5] = other[5]! ^ 0xff;
      tx.send(reply(other, 0x2001));
      tx.send(reply(rx.sock.mac, 0x2002, { dport: 67 }));
      tx.send(reply(rx.sock.mac, 0x2003, { flagsFrag: 0x2000 }));
      tx.send(ipUdp({ src: '198.18.1.1', dst: '255.255.255.255', sport: 67, dport: 68, payload: Buffer.alloc(10) }));
      tx.send(reply(rx.sock.mac, 0x2004)); // marker: frames on a veth arrive in order
      await waitFor(() => rx.got.length >= 1, 2000, 'the marker');
      await sleep(50);
      assert.deepEqual(rx.got.map((g) => xidOf(g.pkt)), [0x2004]);
    });

    it('a kernel-built UDP broadcast from the server arrives, with its offloaded checksum completed', async () => {
      // Sent like dnsmasq does, from a UDP socket on :67; across a veth the checksum is
      // left partial (TP_STATUS_CSUMNOTREADY) and the receive path must complete it.
      const payload = bootp(2, rx.sock.mac, 0x3001).toString('hex');
      const script = `
        const s = require('dgram').createSocket('udp4');
        s.bind(67, '198.18.1.1', () => {
          s.setBroadcast(true);
          s.send(Buffer.from('${payload}', 'hex'), 68, '255.255.255.255', (e) => { if (e) throw e; s.close(); });
        });`;
      const child = srv.spawn(process.execPath, ['-e', script]);
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 0);
      await waitFor(() => rx.got.length === 1, 2000, 'the kernel-built reply');
      const got = rx.got[0]!.pkt;
      assert.equal(xidOf(got), 0x3001);
      assert.deepEqual([...got.subarray(12, 16)], [198, 18, 1, 1]);
      assert.notEqual(got.readUInt16BE(26), 0, 'a UDP checksum is present');
      assert.ok(udpChecksumOk(got), 'the UDP checksum verifies');
    });

    it('drops a frame larger than the receive buffer, and keeps receiving', async () => {
      pod.ip('link', 'set', 'net1', 'mtu', '4000');
      srv.ip('link', 'set', 'veth0', 'mtu', '4000');
      const big = ipUdp({ src: '198.18.1.1', dst: '255.255.255.255', sport: 67, dport: 68, payload: Buffer.concat([bootp(2, rx.sock.mac, 0x3501), Buffer.alloc(2500)]) });
      const rxPackets = (): number =>
        (JSON.parse(pod.ip('-j', '-s', 'link', 'show', 'dev', 'net1')) as Array<{ stats64: { rx: { packets: number } } }>)[0]!
          .stats64.rx.packets;
      const before = rxPackets();
      tx.send(big);
      tx.send(reply(rx.sock.mac, 0x3502));
      await waitFor(() => rx.got.length >= 1, 2000, 'the marker');
      await sleep(50);
      assert.deepEqual(rx.got.map((g) => xidOf(g.pkt)), [0x3502]);
      assert.ok(rxPackets() - before >= 2, 'the big frame did reach the interface');
      assert.deepEqual(rx.errors, []);
    });

    it('all sockets on one interface get the frame (one shared poll callback dispatches by handle)', async () => {
      const more = Array.from({ length: 20 }, () => open(pod, 'net1'));
      try {
        tx.send(reply(rx.sock.mac, 0x4001));
        await waitFor(() => more.every((m) => m.got.length === 1), 2000, 'every socket');
      } finally {
        for (const m of more) m.sock.close();
      }
    });
  });

  describe('sending', () => {
    it('leaves through the named interface only, with IP source 0.0.0.0 and our MAC', async () => {
      const { pod, srv, gw } = makePod('tx');
      const { sock } = open(pod, 'net1');
      try {
        const onSrv = await startCapture(srv, 'veth0', ['udp', 'port', '67']);
        const onGw = await startCapture(gw, 'veth0', ['udp', 'port', '67']);
        const discover = ipUdp({ src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67, payload: bootp(1, sock.mac, 0x5001) });
        sock.send(discover);
        const unicast = ipUdp({ src: '0.0.0.0', dst: '198.18.1.1', sport: 68, dport: 67, payload: bootp(1, sock.mac, 0x5002) });
        sock.send(unicast, macBytes(srv.mac('veth0')));
        const [srvFrames, gwFrames] = [await onSrv.stop(), await onGw.stop()];
        assert.equal(gwFrames.length, 0, 'nothing left through eth0');
        assert.equal(srvFrames.length, 2);
        const [b, u] = srvFrames as [(typeof srvFrames)[0], (typeof srvFrames)[0]];
        assert.equal(b.dstMac, 'ff:ff:ff:ff:ff:ff');
        assert.equal(b.srcMac, pod.mac('net1'));
        assert.equal(b.ethertype, 0x0800);
        assert.deepEqual([...b.payload.subarray(12, 16)], [0, 0, 0, 0], 'IP source 0.0.0.0');
        assert.deepEqual(b.payload.subarray(0, discover.length), discover, 'sent byte for byte');
        assert.equal(u.dstMac, srv.mac('veth0'));
        assert.equal(xidOf(u.payload), 0x5002);
      } finally {
        sock.close();
      }
    });

    it('rejects what is not an IPv4 packet, or a bad MAC, with a clear error', () => {
      const { pod } = makePod('txbad');
      const { sock } = open(pod, 'net1');
      try {
        assert.throws(() => sock.send(Buffer.alloc(10)), /not an IPv4 packet/);
        assert.throws(() => sock.send(reply(sock.mac, 1), Buffer.alloc(4)), /6 bytes/);
        sock.close();
        assert.throws(() => sock.send(reply(sock.mac, 1)), /closed/);
      } finally {
        sock.close();
      }
    });
  });

  describe('link state', () => {
    it('brings a down interface up when bringUp is true, and leaves it down otherwise', () => {
      const { pod } = makePod('up', { podUp: false });
      assert.ok(!linkFlags(pod, 'net1').includes('UP'));
      const down = open(pod, 'net1', false);
      try {
        assert.ok(!linkFlags(pod, 'net1').includes('UP'));
        assert.throws(
          () => down.sock.send(reply(down.sock.mac, 1)),
          (e: unknown) => e instanceof PacketIoError && e.errno === 'ENETDOWN' && /net1/.test(e.message),
        );
      } finally {
        down.sock.close();
      }
      const up = open(pod, 'net1', true);
      up.sock.close();
      assert.ok(linkFlags(pod, 'net1').includes('UP'));
    });

    it('a link that goes down and up again keeps receiving, without onError', async () => {
      const { pod, srv } = makePod('flap');
      const rx = open(pod, 'net1');
      const tx = open(srv, 'veth0').sock;
      try {
        pod.ip('link', 'set', 'net1', 'down');
        await sleep(50);
        assert.throws(() => rx.sock.send(reply(rx.sock.mac, 1)), (e: unknown) => e instanceof PacketIoError && e.errno === 'ENETDOWN');
        pod.ip('link', 'set', 'net1', 'up');
        await sleep(50);
        tx.send(reply(rx.sock.mac, 0x6001));
        await waitFor(() => rx.got.length === 1, 2000, 'a reply after the flap');
        assert.deepEqual(rx.errors, []);
      } finally {
        rx.sock.close();
        tx.close();
      }
    });

    it('a deleted link: onError reports it, send throws ENXIO, close is clean', async () => {
      const { pod } = makePod('linkdel');
      const rx = open(pod, 'net1');
      pod.ip('link', 'del', 'net1');
      await waitFor(() => rx.errors.length === 1, 2000, 'onError');
      assert.ok(rx.errors[0] instanceof PacketIoError);
      assert.match(rx.errors[0]!.message, /net1.*gone/);
      assert.throws(
        () => rx.sock.send(reply(rx.sock.mac, 1)),
        (e: unknown) => e instanceof PacketIoError && e.errno === 'ENXIO' && /gone/.test(e.message),
      );
      rx.sock.close();
      rx.sock.close();
      assert.equal(interfaceStatus(pod.path, 'net1'), 'no-interface');
    });

    it('a deleted namespace: no crash, status says no-netns, and closing lets the namespace die', async () => {
      const { pod, srv } = makePod('nsdel');
      const rx = open(pod, 'net1');
      pod.ip('link', 'del', 'eth0'); // leave only the socket holding the namespace
      assert.equal(spawnSync('ip', ['netns', 'del', pod.name]).status, 0);
      assert.equal(interfaceStatus(pod.path, 'net1'), 'no-netns');
      // The socket still pins the namespace, so its veth (and the peer) survive...
      try {
        rx.sock.send(reply(rx.sock.mac, 1));
      } catch (e) {
        assert.ok(e instanceof PacketIoError, `send threw ${String(e)}`);
      }
      assert.ok(srv.ip('link').includes('veth0'), 'the peer survives while the socket is open');
      // ...until we close it.
      rx.sock.close();
      await allClosed();
      await waitFor(() => !srv.ip('link').includes('veth0'), 10000, 'the namespace to be destroyed');
      assert.deepEqual(rx.errors, []);
    });
  });

  describe('namespace handling', () => {
    let pod: TestNetns;
    before(() => {
      ({ pod } = makePod('ns'));
    });

    it('opening fails with a clear error for a missing netns, a non-netns file, a missing interface, a bad name', () => {
      const fds = fdCount();
      const cases: Array<[string, string, RegExp]> = [
        ['/run/netns/cdt-does-not-exist', 'net1', /no such network namespace/],
        ['/etc/hostname', 'net1', /not a network namespace/],
        ['/proc/self/ns/mnt', 'net1', /not a network namespace.*CLONE_NEWNET/],
        [pod.path, 'eth9', /no such interface: eth9/],
        [pod.path, 'lo', /not Ethernet/],
        [pod.path, 'a/b', /invalid interface name/],
        [pod.path, 'x'.repeat(16), /invalid interface name/],
      ];
      for (const [netnsPath, ifname, re] of cases) {
        assert.throws(
          () => openPacketSocket({ netnsPath, ifname, bringUp: true, onPacket: () => {}, onError: () => {} }),
          (e: unknown) => e instanceof PacketIoError && re.test(e.message),
          `${netnsPath} ${ifname}`,
        );
        assert.equal(threadNetnsId(), home);
      }
      return allClosed().then(() => assert.equal(fdCount(), fds));
    });

    it('assertNetworkNamespace accepts netns files and rejects everything else', () => {
      assertNetworkNamespace(pod.path);
      assertNetworkNamespace('/proc/self/ns/net');
      assertNetworkNamespace('/proc/thread-self/ns/net');
      for (const [p, re] of [
        ['/etc/hostname', /not a network namespace.*not nsfs/],
        ['/proc/self/ns/mnt', /not a network namespace/],
        ['/proc/self/ns/uts', /not a network namespace/],
        ['/run', /not a network namespace/],
        ['/nonexistent/netns', /no such network namespace/],
        ['', /invalid path/],
      ] as Array<[string, RegExp]>) {
        assert.throws(() => assertNetworkNamespace(p), re, p);
      }
    });

    it('interfaceStatus reports present, no-interface and no-netns', () => {
      assert.equal(interfaceStatus(pod.path, 'net1'), 'present');
      assert.equal(interfaceStatus(pod.path, 'eth0'), 'present');
      assert.equal(interfaceStatus(pod.path, 'net7'), 'no-interface');
      assert.equal(interfaceStatus('/run/netns/cdt-does-not-exist', 'net1'), 'no-netns');
      assert.equal(interfaceStatus('/etc/hostname', 'net1'), 'no-netns');
      assert.throws(() => interfaceStatus(pod.path, ''), /invalid interface name/);
    });

    it('withNetns refuses an async function, and still switches back', () => {
      assert.throws(() => withNetns(pod.path, async () => 1), TypeError);
      assert.equal(threadNetnsId(), home);
      const inside = withNetns(pod.path, () => threadNetnsId());
      assert.notEqual(inside, home);
      assert.equal(threadNetnsId(), home);
    });

    it('200 sockets opened and closed leave no fd and no poll handle behind', async function () {
      await allClosed();
      await sleep(10);
      const fds = fdCount();
      const watchers = liveWatcherCount();
      const t0 = process.hrtime.bigint();
      const socks = Array.from({ length: 200 }, () => open(pod, 'net1').sock);
      const t1 = process.hrtime.bigint();
      assert.equal(fdCount(), fds + 200);
      for (const s of socks) s.close();
      const t2 = process.hrtime.bigint();
      await allClosed();
      const t3 = process.hrtime.bigint();
      await new Promise((r) => setImmediate(r));
      assert.equal(fdCount(), fds);
      assert.equal(liveWatcherCount(), watchers);
      const us = (a: bigint, b: bigint): number => Number(b - a) / 1000;
      console.log(
        `      open ${(us(t0, t1) / 200).toFixed(0)} µs/socket; close() ${(us(t1, t2) / 200).toFixed(0)} µs/socket on the ` +
          `main thread; kernel release of 200 sockets ${(us(t2, t3) / 1000).toFixed(0)} ms in the background`,
      );
    });
  });
});
