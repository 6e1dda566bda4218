import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ARP_REPLY, ARP_REQUEST, MalformedArpError, buildProbe, decodeArp, encodeArp, type ArpPacket } from '../../daemon/arp/arp-packet';
import { AddressProbe } from '../../daemon/arp/probe';
import { arpConflictFilter } from '../../daemon/io/arp-filter';
import { runFilter } from '../helpers/bpf-interpreter';

const OURS = Buffer.from('02a1b2c3d4e5', 'hex');
const THEIRS = Buffer.from('02ffeeddccbb', 'hex');
const ADDR = '198.18.0.77';
const ZERO_MAC = Buffer.alloc(6);

function arp(over: Partial<ArpPacket>): ArpPacket {
  return { op: ARP_REPLY, senderMac: THEIRS, senderIp: ADDR, targetMac: OURS, targetIp: '0.0.0.0', ...over };
}

describe('ARP packet codec', () => {
  it('a probe is a request from 0.0.0.0 with a zero target MAC, byte for byte', () => {
    assert.equal(
      buildProbe(OURS, ADDR).toString('hex'),
      '0001' + '0800' + '06' + '04' + '0001' + '02a1b2c3d4e5' + '00000000' + '000000000000' + 'c612004d',
    );
  });

  it('decode inverts encode and ignores Ethernet padding', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(ARP_REQUEST, ARP_REPLY),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        fc.ipV4(),
        fc.ipV4(),
        fc.nat(32),
        (op, mac, sip, tip, pad) => {
          const p: ArpPacket = { op, senderMac: Buffer.from(mac), senderIp: sip, targetMac: OURS, targetIp: tip };
          assert.deepEqual(decodeArp(Buffer.concat([encodeArp(p), Buffer.alloc(pad)])), p);
        },
      ),
    );
  });

  it('anything shorter than 28 bytes or not Ethernet/IPv4 is malformed', () => {
    const good = buildProbe(OURS, ADDR);
    assert.throws(() => decodeArp(good.subarray(0, 27)), MalformedArpError);
    for (const [off, v] of [[1, 6], [2, 0x86], [4, 8], [5, 16]] as const) {
      const bad = Buffer.from(good);
      bad[off] = v;
      assert.throws(() => decodeArp(bad), MalformedArpError, `byte ${off}`);
    }
  });
});

describe('ARP probe decision (RFC 5227 2.1.1)', () => {
  const timing = { count: 2, intervalMs: 50 };

  it('sends `count` probes `intervalMs` apart, listens one more interval, then is clear', () => {
    const p = new AddressProbe(ADDR, OURS, timing);
    assert.deepEqual(p.start(1000), { type: 'send-probe', next: 1050 });
    assert.deepEqual(p.onTimer(1020), { type: 'wait', until: 1050 });
    assert.deepEqual(p.onTimer(1050), { type: 'send-probe', next: 1100 });
    assert.deepEqual(p.onTimer(1100), { type: 'clear' });
    assert.equal(p.done, true);
    assert.deepEqual(p.onTimer(5000), { type: 'clear' });
  });

  it('an ARP reply or request from another MAC with the address as sender is a conflict', () => {
    for (const op of [ARP_REPLY, ARP_REQUEST]) {
      const p = new AddressProbe(ADDR, OURS, timing);
      p.start(0);
      const v = p.onArp(arp({ op }));
      assert.equal(v?.type, 'conflict');
      assert.ok(v?.type === 'conflict' && v.mac.equals(THEIRS));
      // the verdict stands: later timers do not turn it into clear
      assert.equal(p.onTimer(10_000).type, 'conflict');
    }
  });

  it('another host probing for the same address at the same time is a conflict', () => {
    const p = new AddressProbe(ADDR, OURS, timing);
    p.start(0);
    assert.equal(p.onArp(arp({ op: ARP_REQUEST, senderIp: '0.0.0.0', targetMac: ZERO_MAC, targetIp: ADDR }))?.type, 'conflict');
  });

  it('our own MAC, other addresses, and a reply to someone else\'s probe of another address are not', () => {
    const p = new AddressProbe(ADDR, OURS, timing);
    p.start(0);
    assert.equal(p.onArp(arp({ senderMac: OURS })), undefined);
    assert.equal(p.onArp(arp({ senderIp: '198.18.0.78' })), undefined);
    assert.equal(p.onArp(arp({ op: ARP_REQUEST, senderIp: '198.18.0.9', targetIp: ADDR })), undefined, 'someone asking for it is not using it');
    assert.equal(p.onArp(arp({ op: ARP_REPLY, senderIp: '0.0.0.0', targetIp: ADDR })), undefined);
    assert.equal(p.onTimer(50).type, 'send-probe');
    assert.equal(p.onTimer(100).type, 'clear');
  });

  it('clear comes only after all `count` probes went out, whatever the clock does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 2000 }), fc.array(fc.nat(500), { maxLength: 40 }), (count, intervalMs, steps) => {
        const p = new AddressProbe(ADDR, OURS, { count, intervalMs });
        let now = 0;
        let probes = p.start(now).type === 'send-probe' ? 1 : 0;
        for (const dt of steps) {
          now += dt;
          const s = p.onTimer(now);
          if (s.type === 'send-probe') probes++;
          if (s.type === 'clear') {
            assert.equal(probes, count);
            return;
          }
        }
        assert.ok(probes <= count);
      }),
    );
  });
});

describe('ARP conflict BPF filter', () => {
  const filter = arpConflictFilter(ADDR);
  const pass = (p: ArpPacket) => runFilter(filter, encodeArp(p), 0x0806) !== 0;

  it('passes what can be a conflict and drops the rest of a busy segment\'s ARP', () => {
    assert.equal(pass(arp({})), true, 'reply from the address');
    assert.equal(pass(arp({ op: ARP_REQUEST, targetIp: '198.18.0.1' })), true, 'the holder asking for its gateway');
    assert.equal(pass(arp({ op: ARP_REQUEST, senderIp: '0.0.0.0', targetMac: ZERO_MAC, targetIp: ADDR })), true, 'a probe for it');
    assert.equal(pass(arp({ senderIp: '198.18.0.9' })), false);
    assert.equal(pass(arp({ op: ARP_REQUEST, senderIp: '198.18.0.9', targetIp: ADDR })), false);
    assert.equal(pass(arp({ op: ARP_REQUEST, senderIp: '0.0.0.0', targetIp: '198.18.0.78' })), false);
    assert.equal(pass(arp({ op: ARP_REPLY, senderIp: '0.0.0.0', targetIp: ADDR })), false);
    const ipx = encodeArp(arp({}));
    ipx.writeUInt16BE(0x8137, 2);
    assert.equal(runFilter(filter, ipx, 0x0806), 0, 'not IPv4');
    assert.equal(runFilter(filter, Buffer.alloc(10), 0x0806), 0, 'short');
  });
});
