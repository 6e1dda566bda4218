/**
 * Classic BPF for the ARP probe's packet socket (bound to ETH_P_ARP, SOCK_DGRAM: offsets are
 * ARP header offsets). It passes only what can be a conflict for `address`, so a busy segment's
 * ARP traffic stays in the kernel: IPv4 ARP whose sender IP is the address, or a probe (sender
 * 0.0.0.0, a request) whose target IP is the address. The decision itself is daemon/arp/probe.ts.
 */
import { ipToUint32 } from '../dhcp4/addr';
import { ACCEPT_ALL, BPF_ABS, BPF_H, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, insn, type BpfInsn } from './bpf';

export function arpConflictFilter(address: string): BpfInsn[] {
  const ip = ipToUint32(address);
  // indexes: 9 accept, 10 drop; jumps count from the next instruction
  return [
    /* 0 */ insn(BPF_LD | BPF_H | BPF_ABS, 2), // protocol type
    /* 1 */ insn(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 8),
    /* 2 */ insn(BPF_LD | BPF_W | BPF_ABS, 14), // sender IP
    /* 3 */ insn(BPF_JMP | BPF_JEQ | BPF_K, ip, 5, 0),
    /* 4 */ insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5),
    /* 5 */ insn(BPF_LD | BPF_H | BPF_ABS, 6), // operation
    /* 6 */ insn(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 3),
    /* 7 */ insn(BPF_LD | BPF_W | BPF_ABS, 24), // target IP
    /* 8 */ insn(BPF_JMP | BPF_JEQ | BPF_K, ip, 0, 1),
    /* 9 */ insn(BPF_RET | BPF_K, ACCEPT_ALL),
    /* 10 */ insn(BPF_RET | BPF_K, 0),
  ];
}
