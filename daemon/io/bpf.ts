/**
 * Classic BPF for the DHCP client's packet socket. Pure: it builds instructions and their
 * byte encoding; packet-socket.ts attaches them with SO_ATTACH_FILTER.
 *
 * The filter runs in the kernel on every IPv4 frame of the interface. Without the chaddr
 * test, 200 pods on one bridge pushed 37,430 frames into JS instead of 400 (docs/architecture.md, "Packet I/O").
 *
 * On a SOCK_DGRAM packet socket the kernel runs the filter with the data starting at the
 * IP header, so absolute offsets below are IP header offsets.
 */

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// linux/bpf_common.h, linux/filter.h
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MSH = 0xa0;
export const BPF_JEQ = 0x10;
export const BPF_JSET = 0x40;
export const BPF_K = 0x00;
/** SKF_AD_OFF + SKF_AD_PROTOCOL: loads ntohs(skb->protocol), the ethertype */
export const SKF_AD_PROTOCOL_K = 0xfffff000;

export const ETHERTYPE_IPV4 = 0x0800;
export const IPPROTO_UDP = 17;
export const DHCP_CLIENT_PORT = 68;
/** UDP header (8) + BOOTP op/htype/hlen/hops/xid/secs/flags/ciaddr/yiaddr/siaddr/giaddr (28) */
export const CHADDR_OFFSET_FROM_UDP = 36;
/** Accept the whole frame; the receive path drops anything larger than its buffer. */
export const ACCEPT_ALL = 0x40000;

export const insn = (code: number, k: number, jt = 0, jf = 0): BpfInsn => ({ code, jt, jf, k: k >>> 0 });

/**
 * Accepts exactly: IPv4, protocol UDP, not a fragment (MF clear, offset 0), UDP destination
 * port 68, BOOTP chaddr (first 6 bytes) equal to `mac`. Everything else returns 0 (drop).
 */
export function dhcpClientFilter(mac: Buffer): BpfInsn[] {
  if (mac.length !== 6) throw new RangeError(`MAC must be 6 bytes, got ${mac.length}`);
  const macHi = mac.readUInt32BE(0);
  const macLo = mac.readUInt16BE(4);
  const prog: BpfInsn[] = [
    /* 0 */ insn(BPF_LD | BPF_H | BPF_ABS, SKF_AD_PROTOCOL_K),
    /* 1 */ insn(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IPV4, 0, 0), // jf → drop
    /* 2 */ insn(BPF_LD | BPF_B | BPF_ABS, 9), // IP protocol
    /* 3 */ insn(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 0),
    /* 4 */ insn(BPF_LD | BPF_H | BPF_ABS, 6), // flags + fragment offset
    /* 5 */ insn(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 0, 0), // jt → drop
    /* 6 */ insn(BPF_LDX | BPF_B | BPF_MSH, 0), // X = 4 * IHL
    /* 7 */ insn(BPF_LD | BPF_H | BPF_IND, 2), // UDP destination port
    /* 8 */ insn(BPF_JMP | BPF_JEQ | BPF_K, DHCP_CLIENT_PORT, 0, 0),
    /* 9 */ insn(BPF_LD | BPF_W | BPF_IND, CHADDR_OFFSET_FROM_UDP),
    /* 10 */ insn(BPF_JMP | BPF_JEQ | BPF_K, macHi, 0, 0),
    /* 11 */ insn(BPF_LD | BPF_H | BPF_IND, CHADDR_OFFSET_FROM_UDP + 4),
    /* 12 */ insn(BPF_JMP | BPF_JEQ | BPF_K, macLo, 0, 0),
    /* 13 */ insn(BPF_RET | BPF_K, ACCEPT_ALL),
    /* 14 */ insn(BPF_RET | BPF_K, 0),
  ];
  const drop = prog.length - 1;
  // Jump offsets are relative to the next instruction; fill them in from the indexes.
  const toDrop = (at: number): number => drop - at - 1;
  for (const at of [1, 3, 8, 10, 12]) prog[at]!.jf = toDrop(at);
  prog[5]!.jt = toDrop(5);
  return prog;
}

/** struct sock_filter[] in host (little-endian) order: u16 code, u8 jt, u8 jf, u32 k. */
export function encodeProgram(prog: readonly BpfInsn[]): Buffer {
  if (prog.length === 0 || prog.length > 4096) throw new RangeError(`BPF program length ${prog.length}`);
  const out = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    if (ins.jt > 255 || ins.jf > 255) throw new RangeError(`BPF jump out of range at ${i}`);
    out.writeUInt16LE(ins.code, i * 8);
    out.writeUInt8(ins.jt, i * 8 + 2);
    out.writeUInt8(ins.jf, i * 8 + 3);
    out.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return out;
}
