import assert from 'node:assert/strict';
import { ACCEPT_ALL, BPF_JMP, BPF_RET, dhcpClientFilter, encodeProgram } from '../../daemon/io/bpf';
import { runFilter } from '../helpers/bpf-interpreter';

const MAC = Buffer.from('02a1b2c3d4e5', 'hex');

interface FrameOpts {
  chaddr?: Buffer;
  dport?: number;
  protocol?: number;
  flagsFrag?: number;
  ipOptionWords?: number;
  truncateTo?: number;
}

/** IPv4 + UDP + a minimal BOOTP reply; checksums are irrelevant to the filter. */
function frame(o: FrameOpts = {}): Buffer {
  const ihl = 5 + (o.ipOptionWords ?? 0);
  const bootp = Buffer.alloc(240);
  bootp[0] = 2;
  bootp[1] = 1;
  bootp[2] = 6;
  (o.chaddr ?? MAC).copy(bootp, 28);
  bootp.writeUInt32BE(0x63825363, 236);
  const ip = Buffer.alloc(ihl * 4 + 8 + bootp.length);
  ip[0] = 0x40 | ihl;
  ip.writeUInt16BE(ip.length, 2);
  ip.writeUInt16BE(o.flagsFrag ?? 0, 6);
  ip[8] = 64;
  ip[9] = o.protocol ?? 17;
  ip.writeUInt32BE(0xc6120101, 12);
  ip.writeUInt32BE(0xffffffff, 16);
  if (ihl > 5) ip.fill(1, 20, ihl * 4); // NOP options
  const udp = ihl * 4;
  ip.writeUInt16BE(67, udp);
  ip.writeUInt16BE(o.dport ?? 68, udp + 2);
  ip.writeUInt16BE(8 + bootp.length, udp + 4);
  bootp.copy(ip, udp + 8);
  return o.truncateTo === undefined ? ip : ip.subarray(0, o.truncateTo);
}

describe('BPF filter for the DHCP client packet socket', () => {
  const prog = dhcpClientFilter(MAC);

  describe('structure', () => {
    it('ends with "accept" followed by "drop", and has no other return', () => {
      const rets = prog.map((p, i) => [p, i] as const).filter(([p]) => (p.code & 0x07) === BPF_RET);
      assert.deepEqual(rets.map(([, i]) => i), [prog.length - 2, prog.length - 1]);
      assert.equal(prog[prog.length - 2]!.k, ACCEPT_ALL);
      assert.equal(prog[prog.length - 1]!.k, 0);
    });

    it('every conditional jump stays inside the program and its failing branch lands on "drop"', () => {
      const drop = prog.length - 1;
      prog.forEach((p, i) => {
        if ((p.code & 0x07) !== BPF_JMP) return;
        const t = i + 1 + p.jt;
        const f = i + 1 + p.jf;
        assert.ok(t < prog.length && f < prog.length, `jump at ${i} out of range`);
        assert.ok(t === drop || f === drop, `jump at ${i} never drops`);
      });
    });

    it('carries the MAC as the two chaddr comparison constants', () => {
      const ks = prog.filter((p) => p.code === (BPF_JMP | 0x10)).map((p) => p.k);
      assert.ok(ks.includes(0x02a1b2c3), 'first four MAC bytes');
      assert.ok(ks.includes(0xd4e5), 'last two MAC bytes');
    });

    it('rejects a MAC that is not 6 bytes', () => {
      assert.throws(() => dhcpClientFilter(Buffer.alloc(5)), RangeError);
      assert.throws(() => dhcpClientFilter(Buffer.alloc(8)), RangeError);
    });

    it('encodes struct sock_filter in host order, 8 bytes per instruction', () => {
      const bytes = encodeProgram(prog);
      assert.equal(bytes.length, prog.length * 8);
      prog.forEach((p, i) => {
        assert.equal(bytes.readUInt16LE(i * 8), p.code);
        assert.equal(bytes[i * 8 + 2], p.jt);
        assert.equal(bytes[i * 8 + 3], p.jf);
        assert.equal(bytes.readUInt32LE(i * 8 + 4), p.k);
      });
      // spot check against the hand-assembled first instruction: ldh proto
      assert.equal(bytes.subarray(0, 8).toString('hex'), '28000000' + '00f0ffff');
    });

    it('refuses an empty program or an out-of-range jump', () => {
      assert.throws(() => encodeProgram([]), RangeError);
      assert.throws(() => encodeProgram([{ code: BPF_JMP | 0x10, jt: 256, jf: 0, k: 0 }]), RangeError);
    });
  });

  describe('behavior', () => {
    it('accepts a BOOTP reply to UDP port 68 whose chaddr is our MAC', () => {
      assert.equal(runFilter(prog, frame()), ACCEPT_ALL);
    });

    it('finds the UDP header after IP options (IHL > 5)', () => {
      assert.equal(runFilter(prog, frame({ ipOptionWords: 3 })), ACCEPT_ALL);
      assert.equal(runFilter(prog, frame({ ipOptionWords: 3, dport: 67 })), 0);
    });

    it('drops another client\'s chaddr, whichever byte differs', () => {
      for (const i of [0, 3, 4, 5]) {
        const other = Buffer.from(MAC);
        other[i] = other[i]! ^ 0x01;
        assert.equal(runFilter(prog, frame({ chaddr: other })), 0, `byte ${i}`);
      }
    });

    it('drops UDP port 67 (our own and other clients\' requests)', () => {
      assert.equal(runFilter(prog, frame({ dport: 67 })), 0);
    });

    it('drops non-UDP protocols', () => {
      assert.equal(runFilter(prog, frame({ protocol: 6 })), 0);
      assert.equal(runFilter(prog, frame({ protocol: 1 })), 0);
    });

    it('drops fragments: more-fragments set, or a non-zero offset', () => {
      assert.equal(runFilter(prog, frame({ flagsFrag: 0x2000 })), 0);
      assert.equal(runFilter(prog, frame({ flagsFrag: 0x0001 })), 0);
      assert.equal(runFilter(prog, frame({ flagsFrag: 0x4000 })), ACCEPT_ALL, 'DF alone is fine');
    });

    it('drops frames whose ethertype is not IPv4', () => {
      assert.equal(runFilter(prog, frame(), 0x86dd), 0);
      assert.equal(runFilter(prog, frame(), 0x0806), 0);
    });

    it('drops a frame too short to hold chaddr', () => {
      assert.equal(runFilter(prog, frame({ truncateTo: 20 + 8 + 30 })), 0);
      assert.equal(runFilter(prog, frame({ truncateTo: 10 })), 0);
    });
  });
});
