/** Runs classic BPF programs in tests, as the kernel would. */
import assert from 'node:assert/strict';
import { BPF_B, BPF_JMP, BPF_RET, type BpfInsn } from '../../daemon/io/bpf';

/**
 * A classic BPF interpreter covering the opcodes the filter uses, with the kernel's rule
 * that an out-of-bounds load drops the packet. `data` starts after the Ethernet header, as on a
 * SOCK_DGRAM packet socket; `ethertype` answers the SKF_AD_PROTOCOL load.
 */
export function runFilter(prog: readonly BpfInsn[], data: Buffer, ethertype = 0x0800): number {
  let a = 0;
  let x = 0;
  const load = (size: number, off: number): number | undefined => {
    if (off < 0 || off + size > data.length) return undefined;
    return size === 4 ? data.readUInt32BE(off) : size === 2 ? data.readUInt16BE(off) : data[off];
  };
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    const cls = code & 0x07;
    const size = (code & 0x18) === 0x00 ? 4 : (code & 0x18) === 0x08 ? 2 : 1;
    const mode = code & 0xe0;
    if (cls === 0x00) {
      let v: number | undefined;
      if (mode === 0x20 && k === 0xfffff000) v = ethertype;
      else if (mode === 0x20) v = load(size, k);
      else if (mode === 0x40) v = load(size, x + k);
      else throw new Error(`unsupported ld mode ${mode.toString(16)}`);
      if (v === undefined) return 0;
      a = v >>> 0;
    } else if (cls === 0x01) {
      assert.equal(code, 0x01 | BPF_B | 0xa0, 'only ldxb msh is used');
      const v = load(1, k);
      if (v === undefined) return 0;
      x = (v & 0x0f) * 4;
    } else if (cls === BPF_JMP) {
      const op = code & 0xf0;
      const cond = op === 0x10 ? a === k : op === 0x40 ? (a & k) !== 0 : undefined;
      if (cond === undefined) throw new Error(`unsupported jump ${op.toString(16)}`);
      pc += cond ? jt : jf;
    } else if (cls === BPF_RET) {
      return k;
    } else {
      throw new Error(`unsupported class ${cls}`);
    }
  }
  throw new Error('fell off the end of the program');
}

