/**
 * Classic BPF for the DAD probe's packet socket (bound to ETH_P_IPV6, SOCK_DGRAM: offsets are
 * IPv6 header offsets). It passes only what can be a conflict for `address`: ICMPv6 (next header
 * 58, no extension headers) of type 135 (NS) or 136 (NA) whose target is the address, so the
 * segment's other IPv6 traffic stays in the kernel. The decision is daemon/nd/dad-probe.ts.
 */
import { ip6ToBuffer } from '../dhcp6/addr6';
import { ACCEPT_ALL, BPF_ABS, BPF_B, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, insn, type BpfInsn } from './bpf';

/** IPv6 header (40) + ICMPv6 type/code/checksum/reserved (8) */
const TARGET_AT = 48;

export function ndConflictFilter(address: string): BpfInsn[] {
  const t = ip6ToBuffer(address);
  const word = (i: number) => t.readUInt32BE(i * 4);
  // indexes: 13 accept, 14 drop; jumps count from the next instruction
  return [
    /* 0 */ insn(BPF_LD | BPF_B | BPF_ABS, 6), // next header
    /* 1 */ insn(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 12),
    /* 2 */ insn(BPF_LD | BPF_B | BPF_ABS, 40), // ICMPv6 type
    /* 3 */ insn(BPF_JMP | BPF_JEQ | BPF_K, 135, 1, 0),
    /* 4 */ insn(BPF_JMP | BPF_JEQ | BPF_K, 136, 0, 9),
    /* 5 */ insn(BPF_LD | BPF_W | BPF_ABS, TARGET_AT),
    /* 6 */ insn(BPF_JMP | BPF_JEQ | BPF_K, word(0), 0, 7),
    /* 7 */ insn(BPF_LD | BPF_W | BPF_ABS, TARGET_AT + 4),
    /* 8 */ insn(BPF_JMP | BPF_JEQ | BPF_K, word(1), 0, 5),
    /* 9 */ insn(BPF_LD | BPF_W | BPF_ABS, TARGET_AT + 8),
    /* 10 */ insn(BPF_JMP | BPF_JEQ | BPF_K, word(2), 0, 3),
    /* 11 */ insn(BPF_LD | BPF_W | BPF_ABS, TARGET_AT + 12),
    /* 12 */ insn(BPF_JMP | BPF_JEQ | BPF_K, word(3), 0, 1),
    /* 13 */ insn(BPF_RET | BPF_K, ACCEPT_ALL),
    /* 14 */ insn(BPF_RET | BPF_K, 0),
  ];
}
