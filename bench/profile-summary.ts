/**
 * Summaries of the profiles `npm run bench -- --profile` leaves in /tmp/cni-dhcp-bench-profiles:
 *
 *   npx tsx bench/profile-summary.ts FILE.cpuprofile [top]     self and inclusive time per function
 *   npx tsx bench/profile-summary.ts FILE.heapsnapshot [top]   self size per constructor, and per
 *                                                              native/JS category
 */
import * as fs from 'node:fs';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

function cpu(file: string, top: number): void {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: CpuNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const label = (n: CpuNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\//, '')}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as CpuNode;
    self.set(label(n), (self.get(label(n)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur) as CpuNode);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(2)} s busy`);
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, us] of [...m].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(us / 1e6).toFixed(3).padStart(9)} s ${((100 * us) / (total - idle)).toFixed(1).padStart(5)} %  ${k}`);
    }
  };
  show('self time (busy only)', self);
  show('inclusive time', incl);
}

function heap(file: string, top: number): void {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const nf = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const byCtor = new Map<string, { n: number; size: number }>();
  const byType = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += nf) {
    const type = types[snap.nodes[i + iType] as number] ?? '?';
    const size = snap.nodes[i + iSize] as number;
    const name = type === 'object' || type === 'native' || type === 'closure' ? (snap.strings[snap.nodes[i + iName] as number] ?? '?') : `(${type})`;
    const k = `${type}:${name.slice(0, 80)}`;
    const e = byCtor.get(k) ?? { n: 0, size: 0 };
    e.n++;
    e.size += size;
    byCtor.set(k, e);
    byType.set(type, (byType.get(type) ?? 0) + size);
    total += size;
  }
  console.log(`${file}: ${(total / 1048576).toFixed(1)} MB in ${snap.nodes.length / nf} heap objects`);
  console.log('\nby node type');
  for (const [k, v] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`${(v / 1048576).toFixed(2).padStart(8)} MB  ${k}`);
  console.log('\nby constructor (self size)');
  for (const [k, v] of [...byCtor].sort((a, b) => b[1].size - a[1].size).slice(0, top)) console.log(`${(v.size / 1048576).toFixed(2).padStart(8)} MB ${String(v.n).padStart(8)} ×  ${k}`);
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile|FILE.heapsnapshot [top]');
  process.exit(2);
}
const top = Number(topArg ?? 30);
if (file.endsWith('.heapsnapshot')) heap(file, top);
else cpu(file, top);
