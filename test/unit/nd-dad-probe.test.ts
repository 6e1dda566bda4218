/**
 * The IPv6 address-conflict probe's pure parts: the NS/NA codec (RFC 4861 §4.3/4.4, §7.1
 * validity), the DAD decision (RFC 4862 §5.4.3/5.4.4), the kernel filter, the driver's bind
 * plan, the netlink bytes of the IPv6 address move, and the machine's deadline after a DECLINE
 * the ADD still waits on.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, MalformedNdError, buildDadProbe, decodeNd, encodeNd, solicitedNodeGroup, solicitedNodeMac,
} from '../../daemon/nd/nd-packet';
import { DadProbe } from '../../daemon/nd/dad-probe';
import { ndConflictFilter } from '../../daemon/io/nd-filter';
import { planBind6 } from '../../daemon/client6/bind-plan6';
import { encodeAddress6, IFA_F_NODAD, RTM_DELADDR, RTM_NEWADDR } from '../../daemon/io/netlink-message';
import { bufferToIp6 } from '../../daemon/dhcp6/addr6';
import { internetChecksum } from '../../daemon/wire/checksum';
import { runFilter } from '../helpers/bpf-interpreter';
import { Harness6, T0, ofType6, sent6 } from '../helpers/lease6-harness';
import { MessageType6 } from '../../daemon/dhcp6';

const OURS = Buffer.from('02a1b2c3d4e5', 'hex');
const THEIRS = Buffer.from('02ffeeddccbb', 'hex');
const ADDR = '2001:db8:5::100';
const OTHER = '2001:db8:5::101';
const HOLDER_LL = 'fe80::ff:feed:dccb';
const TIMING = { count: 2, intervalMs: 50 };

const na = (over: Partial<Parameters<typeof encodeNd>[0]> = {}) =>
  encodeNd({ type: ND_NEIGHBOR_ADVERT, src: HOLDER_LL, dst: 'ff02::1', target: ADDR, flags: 0x20, ...over });

describe('ND packets (RFC 4861) for DAD', () => {
  it('the DAD probe is an NS from :: to the solicited-node group, hop limit 255, no options, a correct checksum', () => {
    const { packet, dstMac } = buildDadProbe(ADDR);
    assert.equal(solicitedNodeGroup(ADDR), 'ff02::1:ff00:100');
    assert.equal(dstMac.toString('hex'), '3333ff000100');
    assert.deepEqual(solicitedNodeMac('2001:db8::abcd:ef12:3456'), Buffer.from('3333ff123456', 'hex'));
    assert.equal(packet.length, 64);
    assert.equal(packet[0]! >> 4, 6);
    assert.equal(packet.readUInt16BE(4), 24);
    assert.equal(packet[6], 58);
    assert.equal(packet[7], 255);
    assert.equal(bufferToIp6(packet, 8), '::');
    assert.equal(bufferToIp6(packet, 24), 'ff02::1:ff00:100');
    assert.equal(packet[40], 135);
    assert.equal(packet[41], 0);
    assert.equal(packet.readUInt32BE(44), 0, 'reserved');
    assert.equal(bufferToIp6(packet, 48), ADDR);
    // the checksum over the pseudo-header (src, dst, length, next header 58) and the message is 0
    const pseudo = Buffer.alloc(8);
    pseudo.writeUInt32BE(24, 0);
    pseudo[7] = 58;
    assert.equal(internetChecksum(packet.subarray(8, 24), packet.subarray(24, 40), pseudo, packet.subarray(40)), 0);
    const d = decodeNd(packet);
    assert.deepEqual(d, { type: ND_NEIGHBOR_SOLICIT, src: '::', dst: 'ff02::1:ff00:100', target: ADDR, router: false, solicited: false, override: false, options: [] });
  });

  it('an NA with a Target Link-Layer option is laid out as RFC 4861 §4.4 has it', () => {
    // an unsolicited NA from fe80::1 for 2001:db8::1 to ff02::1, Override set, TLLA 02:ff:ee:dd:cc:bb
    const expected = '6000000000203aff' + 'fe800000000000000000000000000001' + 'ff020000000000000000000000000001'
      + '8800' + 'XXXX' + '20000000' + '20010db8000000000000000000000001' + '0201' + '02ffeeddccbb';
    const b = encodeNd({ type: ND_NEIGHBOR_ADVERT, src: 'fe80::1', dst: 'ff02::1', target: '2001:db8::1', flags: 0x20, options: Buffer.from('020102ffeeddccbb', 'hex') });
    assert.equal(b.toString('hex').slice(0, 84) + 'XXXX' + b.toString('hex').slice(88), expected);
    const pseudo = Buffer.alloc(8);
    pseudo.writeUInt32BE(32, 0);
    pseudo[7] = 58;
    assert.equal(internetChecksum(b.subarray(8, 24), b.subarray(24, 40), pseudo, b.subarray(40)), 0);
    const d = decodeNd(b);
    assert.equal(d.type, ND_NEIGHBOR_ADVERT);
    assert.equal(d.override, true);
    assert.equal(d.solicited, false);
    assert.deepEqual(d.options, [2]);
  });

  it('round-trips NS and NA with any target, source, flags and options', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => bufferToIp6(Buffer.from(b)));
    const unicast = addr.filter((a) => !a.startsWith('ff'));
    const option = fc.tuple(fc.integer({ min: 2, max: 255 }), fc.integer({ min: 1, max: 3 })).map(([t, l]) => {
      const o = Buffer.alloc(l * 8, 0xab);
      o[0] = t;
      o[1] = l;
      return o;
    });
    fc.assert(fc.property(
      fc.constantFrom<135 | 136>(ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT), unicast, unicast, fc.integer({ min: 0, max: 7 }), fc.array(option, { maxLength: 4 }),
      (type, src, target, flagBits, opts) => {
        const flags = (flagBits << 5) & (type === ND_NEIGHBOR_ADVERT ? 0xa0 : 0xe0);
        const p = decodeNd(encodeNd({ type, src, dst: 'ff02::1', target, flags, options: Buffer.concat(opts) }));
        assert.equal(p.type, type);
        assert.equal(p.src, src);
        assert.equal(p.target, target);
        assert.deepEqual(p.options, opts.map((o) => o[0]));
        if (type === ND_NEIGHBOR_ADVERT) {
          assert.equal(p.router, (flags & 0x80) !== 0);
          assert.equal(p.override, (flags & 0x20) !== 0);
        }
      },
    ), { numRuns: 2000 });
  });

  it('refuses what RFC 4861 §7.1 says to discard, and anything short or inconsistent', () => {
    const good = na();
    const cases: Array<[string, Buffer]> = [];
    const edit = (what: string, fn: (b: Buffer) => void, fixSum = false) => {
      const b = Buffer.from(good);
      fn(b);
      if (fixSum) {
        b.writeUInt16BE(0, 42);
        const pseudo = Buffer.alloc(8);
        pseudo.writeUInt32BE(b.length - 40, 0);
        pseudo[7] = 58;
        b.writeUInt16BE(internetChecksum(b.subarray(8, 24), b.subarray(24, 40), pseudo, b.subarray(40)), 42);
      }
      cases.push([what, b]);
    };
    edit('hop limit 254', (b) => { b[7] = 254; });
    edit('IPv4', (b) => { b[0] = 0x45; });
    edit('next header UDP', (b) => { b[6] = 17; });
    edit('code 1', (b) => { b[41] = 1; }, true);
    edit('type 134 (RA)', (b) => { b[40] = 134; }, true);
    edit('bad checksum', (b) => { b[43] = (b[43] ?? 0) ^ 1; });
    edit('multicast target', (b) => { b[48] = 0xff; }, true);
    edit('payload length past the frame', (b) => { b.writeUInt16BE(200, 4); });
    edit('payload length below 24', (b) => { b.writeUInt16BE(20, 4); });
    cases.push(['truncated', good.subarray(0, 60)]);
    cases.push(['empty', Buffer.alloc(0)]);
    cases.push(['zero-length option', encodeNdRaw(Buffer.from('0200000000000000', 'hex'))]);
    cases.push(['option overrunning', encodeNdRaw(Buffer.from('0202000000000000', 'hex'))]);
    cases.push(['odd trailing byte', encodeNdRaw(Buffer.from('01', 'hex'))]);
    cases.push(['DAD NS with a source link-layer option', encodeNd({ type: ND_NEIGHBOR_SOLICIT, src: '::', dst: solicitedNodeGroup(ADDR), target: ADDR, options: Buffer.from('010102a1b2c3d4e5', 'hex') })]);
    cases.push(['DAD NS to all-nodes', encodeNd({ type: ND_NEIGHBOR_SOLICIT, src: '::', dst: 'ff02::1', target: ADDR })]);
    cases.push(['Solicited NA to a group', na({ flags: 0x40 })]);
    for (const [what, b] of cases) assert.throws(() => decodeNd(b), MalformedNdError, what);
    // Ethernet padding after the payload is fine
    assert.equal(decodeNd(Buffer.concat([good, Buffer.alloc(10)])).target, ADDR);
  });

  it('never throws anything but MalformedNdError on random or damaged bytes', () => {
    const seeds = [na(), buildDadProbe(ADDR).packet, na({ options: Buffer.from('020102ffeeddccbb', 'hex') })];
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
        fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(80)).map(([s, muts, cut]) => {
          const b = Buffer.from(s);
          for (const [at, v] of muts) b[at % b.length] = v;
          return b.subarray(0, Math.max(0, b.length - (cut % 30)));
        }),
      ),
      (b) => {
        try {
          const p = decodeNd(b);
          assert.ok(p.type === 135 || p.type === 136);
        } catch (err) {
          if (!(err instanceof MalformedNdError)) throw err;
        }
      },
    ), { numRuns: 20_000 });
  });
});

/** An NA with raw option bytes and a correct checksum, so only the options are wrong. */
function encodeNdRaw(options: Buffer): Buffer {
  const base = na();
  const b = Buffer.concat([base, options]);
  b.writeUInt16BE(b.length - 40, 4);
  b.writeUInt16BE(0, 42);
  const pseudo = Buffer.alloc(8);
  pseudo.writeUInt32BE(b.length - 40, 0);
  pseudo[7] = 58;
  b.writeUInt16BE(internetChecksum(b.subarray(8, 24), b.subarray(24, 40), pseudo, b.subarray(40)), 42);
  return b;
}

describe('DAD decision (RFC 4862 §5.4)', () => {
  it('sends `count` probes `intervalMs` apart, listens one interval more, then clear', () => {
    const p = new DadProbe(ADDR, OURS, { count: 3, intervalMs: 40 });
    assert.deepEqual(p.start(0), { type: 'send-probe', next: 40 });
    assert.deepEqual(p.onTimer(10), { type: 'wait', until: 40 });
    assert.deepEqual(p.onTimer(40), { type: 'send-probe', next: 80 });
    assert.deepEqual(p.onTimer(80), { type: 'send-probe', next: 120 });
    assert.deepEqual(p.onTimer(120), { type: 'clear' });
    assert.equal(p.done, true);
    assert.equal(p.onNd(decodeNd(na()), THEIRS), undefined, 'nothing after the verdict');
  });

  it('an NA for the address from another MAC is a conflict, whatever its flags or source', () => {
    for (const flags of [0, 0x20, 0x80, 0xa0]) {
      const p = new DadProbe('2001:0db8:0005:0000::0100', OURS, TIMING);
      p.start(0);
      const v = p.onNd(decodeNd(na({ flags })), THEIRS);
      assert.equal(v?.type, 'conflict');
      assert.deepEqual(v?.type === 'conflict' && v.mac, THEIRS);
      assert.match(v?.type === 'conflict' ? v.reason : '', /Neighbour Advertisement from fe80::ff:feed:dccb/);
      assert.deepEqual(p.onTimer(10_000), v, 'the verdict sticks');
    }
  });

  it('an NS from :: for the address by another host is a conflict; our own looped-back probe is not', () => {
    const p = new DadProbe(ADDR, OURS, TIMING);
    p.start(0);
    const probe = decodeNd(buildDadProbe(ADDR).packet);
    assert.equal(p.onNd(probe, OURS), undefined, 'our own probe, seen by the packet socket as outgoing');
    const v = p.onNd(probe, THEIRS);
    assert.equal(v?.type, 'conflict');
    assert.match(v?.type === 'conflict' ? v.reason : '', /DAD probe for the same address/);
  });

  it('address resolution for the address (an NS from a real source) and anything about another target is not', () => {
    const p = new DadProbe(ADDR, OURS, TIMING);
    p.start(0);
    assert.equal(p.onNd(decodeNd(encodeNd({ type: ND_NEIGHBOR_SOLICIT, src: HOLDER_LL, dst: solicitedNodeGroup(ADDR), target: ADDR })), THEIRS), undefined);
    assert.equal(p.onNd(decodeNd(na({ target: OTHER })), THEIRS), undefined);
    assert.equal(p.onNd(decodeNd(na()), OURS), undefined, 'from our own MAC');
    assert.deepEqual(p.onTimer(50), { type: 'send-probe', next: 100 });
    assert.deepEqual(p.onTimer(100), { type: 'clear' });
  });

  it('for any sequence of NS/NA: a conflict exactly when a claim on the address came from another MAC', () => {
    const target = fc.constantFrom(ADDR, OTHER);
    const pkt = fc.record({
      type: fc.constantFrom<135 | 136>(ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT),
      unspecified: fc.boolean(),
      target,
      ours: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(pkt, { maxLength: 8 }), (pkts) => {
      const p = new DadProbe(ADDR, OURS, TIMING);
      p.start(0);
      let conflict = false;
      for (const x of pkts) {
        const src = x.type === ND_NEIGHBOR_SOLICIT && x.unspecified ? '::' : HOLDER_LL;
        const dst = src === '::' ? solicitedNodeGroup(x.target) : 'ff02::1';
        const claim = !x.ours && x.target === ADDR && (x.type === ND_NEIGHBOR_ADVERT || src === '::');
        const v = p.onNd(decodeNd(encodeNd({ type: x.type, src, dst, target: x.target })), x.ours ? OURS : THEIRS);
        if (conflict) assert.equal(v, undefined);
        else assert.equal(v?.type === 'conflict', claim);
        conflict ||= claim;
      }
      assert.equal(p.onTimer(1_000).type, conflict ? 'conflict' : 'send-probe');
    }), { numRuns: 2000 });
  });
});

describe('ND conflict filter (classic BPF)', () => {
  const ETH_IPV6 = 0x86dd;
  it('passes NS and NA whose target is the address, nothing else', () => {
    const prog = ndConflictFilter(ADDR);
    assert.ok(runFilter(prog, na(), ETH_IPV6) > 0);
    assert.ok(runFilter(prog, buildDadProbe(ADDR).packet, ETH_IPV6) > 0);
    assert.equal(runFilter(prog, na({ target: OTHER }), ETH_IPV6), 0);
    assert.equal(runFilter(prog, buildDadProbe('2001:db8:6::100').packet, ETH_IPV6), 0, 'same low bits, another prefix');
    const ra = Buffer.from(na());
    ra[40] = 134;
    assert.equal(runFilter(prog, ra, ETH_IPV6), 0);
    const udp = Buffer.from(na());
    udp[6] = 17;
    assert.equal(runFilter(prog, udp, ETH_IPV6), 0);
    assert.equal(runFilter(prog, na().subarray(0, 50), ETH_IPV6), 0, 'too short to hold a target');
  });

  it('agrees with the decoder and the decision on random targets', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => bufferToIp6(Buffer.from(b))).filter((a) => !a.startsWith('ff'));
    fc.assert(fc.property(addr, addr, fc.constantFrom<135 | 136>(ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT), (ours, target, type) => {
      const pkt = encodeNd({ type, src: HOLDER_LL, dst: 'ff02::1', target });
      assert.equal(runFilter(ndConflictFilter(ours), pkt, ETH_IPV6) > 0, ours === target);
    }), { numRuns: 1000 });
  });
});

describe('the IPv6 driver\'s bind plan', () => {
  const lease = (address: string, extra = {}) => ({
    address, iaid: 1, duid: '00', serverId: '01', boundAt: T0, preferredLifetime: 30, validLifetime: 60, t1: 10, t2: 20, ...extra,
  });
  it('probes the first lease and a new address, not a renewal; moves the pod off another address', () => {
    assert.deepEqual(planBind6(undefined, lease(ADDR), true), { probe: true });
    assert.deepEqual(planBind6(undefined, lease(ADDR), false), { probe: false });
    assert.deepEqual(planBind6(lease(ADDR), lease(ADDR), true), { probe: false });
    assert.deepEqual(planBind6(lease(ADDR), lease(OTHER), true), { probe: true, moveFrom: ADDR });
    assert.deepEqual(planBind6(lease(ADDR), lease(OTHER), false), { probe: false, moveFrom: ADDR });
    const changedFrom = { address: OTHER, prefixLength: 64, at: T0 };
    assert.deepEqual(planBind6(lease(ADDR, { changedFrom }), lease(ADDR), true), { probe: false, changedFrom }, 'a renewal keeps the last change');
  });
});

describe('rtnetlink bytes of the IPv6 address move', () => {
  it('RTM_NEWADDR: AF_INET6, the prefix, NODAD, the address as IFA_ADDRESS; RTM_DELADDR without NODAD', () => {
    const b = encodeAddress6(RTM_NEWADDR, 7, { ifindex: 3, address: ADDR, prefixLength: 64 });
    assert.equal(b.readUInt32LE(0), b.length);
    assert.equal(b.readUInt16LE(4), RTM_NEWADDR);
    assert.equal(b.readUInt16LE(6), 0x1 | 0x4 | 0x400 | 0x100);
    assert.equal(b.readUInt32LE(8), 7);
    assert.deepEqual([b[16], b[17], b[18], b[19]], [10, 64, IFA_F_NODAD, 0]);
    assert.equal(b.readUInt32LE(20), 3);
    assert.equal(b.readUInt16LE(24), 20, 'rta_len');
    assert.equal(b.readUInt16LE(26), 1, 'IFA_ADDRESS');
    assert.equal(bufferToIp6(b, 28), ADDR);
    const d = encodeAddress6(RTM_DELADDR, 8, { ifindex: 3, address: ADDR, prefixLength: 128 });
    assert.deepEqual([d[16], d[17], d[18]], [10, 128, 0]);
    assert.equal(d.readUInt16LE(6), 0x1 | 0x4);
    assert.throws(() => encodeAddress6(RTM_NEWADDR, 0, { ifindex: 3, address: ADDR, prefixLength: 129 }), RangeError);
    assert.throws(() => encodeAddress6(RTM_NEWADDR, 0, { ifindex: 3, address: '198.18.0.1', prefixLength: 64 }), RangeError);
  });
});

describe('DECLINE while the ADD waits keeps its deadline', () => {
  it('dad-failed with acquiring: DECLINE, SOLICIT, and gave-up at the ADD\'s -timeout when nothing else comes', () => {
    const h = new Harness6({ config: { acquireTimeoutMs: 10_000 } });
    const lease = h.bind();
    const a = h.handle({ type: 'dad-failed', address: lease.address, acquiring: true });
    assert.equal(sent6(a).msg.type, MessageType6.DECLINE);
    h.reply({ ia: null });
    assert.equal(h.machine.state, 'SOLICITING');
    const all = h.runUntil(T0 + 60_000);
    assert.equal(ofType6(all, 'gave-up').length, 1);
    assert.equal(h.machine.state, 'STOPPED');
    assert.ok(ofType6(all, 'send').some((x) => x.msg.type === MessageType6.SOLICIT), 'it solicited again');
  });

  it('an unanswered DECLINE also ends at the deadline', () => {
    const h = new Harness6({ config: { acquireTimeoutMs: 3_000 } });
    const lease = h.bind();
    h.handle({ type: 'dad-failed', address: lease.address, acquiring: true });
    const all = h.runUntil(T0 + 60_000);
    assert.equal(ofType6(all, 'gave-up').length, 1);
    const sends = ofType6(h.log, 'send').filter((s) => s.msg.type === MessageType6.DECLINE);
    assert.ok(sends.length >= 1 && sends.length <= 4, `${sends.length} DECLINEs`);
  });

  it('without acquiring (a background bind), the SOLICIT after the DECLINE has no deadline', () => {
    const h = new Harness6({ config: { acquireTimeoutMs: 3_000 } });
    const lease = h.bind();
    h.handle({ type: 'dad-failed', address: lease.address });
    h.reply({ ia: null });
    const all = h.runUntil(T0 + 600_000);
    assert.equal(ofType6(all, 'gave-up').length, 0);
    assert.equal(h.machine.state, 'SOLICITING');
  });
});
