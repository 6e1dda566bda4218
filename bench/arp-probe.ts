/**
 * `npx tsx bench/arp-probe.ts [--runs N]` (root, after `npm run build`)
 *
 * What the ARP probe (ipam.arpProbe) costs an ADD through the bridge plugin, beside the
 * reference: one daemon of ours serves every probe setting (the setting travels with each
 * ADD), interleaved round by round so that machine load hits them alike; then the reference
 * daemon on its own lab. Same topology and dnsmasq as `npm run bench` (bench/lab-extra.ts).
 * Prints a Markdown table for BENCHMARKS.md.
 */
import * as os from 'node:os';
import { BenchLab, REF_DHCP, cleanupAll, installCleanupHandlers, snapshotDist, sweepStale, type Attachment, type CallResult, type Side } from './lab-extra';
import { p50, p95 } from './stats';
import type { ArpProbeConfig } from '../shared/dhcp-config';

interface Variant {
  name: string;
  side: Side;
  arpProbe?: ArpProbeConfig;
}

const VARIANTS: Variant[] = [
  { name: 'cni-dhcp, `"arpProbe": false`', side: 'ours', arpProbe: false },
  { name: 'cni-dhcp, 1 probe, 20 ms', side: 'ours', arpProbe: { count: 1, intervalMs: 20 } },
  { name: 'cni-dhcp, 2 probes, 50 ms (default)', side: 'ours', arpProbe: { count: 2, intervalMs: 50 } },
  { name: 'cni-dhcp, 3 probes, 100 ms', side: 'ours', arpProbe: { count: 3, intervalMs: 100 } },
  { name: 'reference (no probe)', side: 'ref' },
];

function argRuns(): number {
  const i = process.argv.indexOf('--runs');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 20;
  if (!Number.isInteger(n) || n < 1) throw new Error('--runs takes a positive integer');
  return n;
}

async function addDel(lab: BenchLab, side: Side, a: Attachment, socketPath: string, arpProbe?: ArpProbeConfig): Promise<CallResult> {
  const config = lab.netConfig(socketPath);
  if (arpProbe !== undefined) (config.ipam as Record<string, unknown>).arpProbe = arpProbe;
  const add = await lab.cni(side, 'bridge', 'ADD', a, socketPath, config);
  await lab.cni(side, 'bridge', 'DEL', a, socketPath, config);
  await lab.dropPodLink(a.pod, a.ifname);
  return add;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  const runs = argRuns();
  installCleanupHandlers();
  await sweepStale();
  const dist = snapshotDist();
  const ms = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  const failed = new Map<string, number>();
  const note = (v: Variant, r: CallResult) => {
    if (r.code === 0) ms.get(v.name)?.push(r.ms);
    else failed.set(v.name, (failed.get(v.name) ?? 0) + 1);
  };
  const loadBefore = os.loadavg()[0] ?? 0;
  try {
    for (const side of ['ours', 'ref'] as const) {
      const lab = await BenchLab.create(side === 'ours' ? 'ao' : 'ar', dist);
      const [pod] = await lab.addPods(1);
      await lab.startDnsmasq(side);
      const d = await lab.startDaemon(side, `${side}-1`);
      const mine = VARIANTS.filter((v) => v.side === side);
      for (let i = 0; i < runs; i++) {
        // rotate the order each round: no setting always runs first after a DEL
        for (let k = 0; k < mine.length; k++) {
          const v = mine[(i + k) % mine.length] as Variant;
          note(v, await addDel(lab, side, { pod: pod as string, containerId: `arp-${side}-${i}-${k}`, ifname: 'eth1' }, d.socketPath, v.arpProbe));
        }
      }
    }
  } finally {
    await cleanupAll();
  }
  const off = p50(ms.get(VARIANTS[0]?.name as string) ?? []);
  const lines = [
    `ADD through the bridge plugin, ${runs} runs each, sequential (\`npx tsx bench/arp-probe.ts --runs ${runs}\`, ${new Date().toISOString().slice(0, 10)}; reference: ${REF_DHCP}; 1-min load ${loadBefore.toFixed(1)} before, ${(os.loadavg()[0] ?? 0).toFixed(1)} after, on ${os.cpus().length} CPUs):`,
    '',
    '| setting | p50 | p95 | min | p50 minus probe off | failures |',
    '|---|---|---|---|---|---|',
  ];
  for (const v of VARIANTS) {
    const xs = ms.get(v.name) ?? [];
    const med = p50(xs);
    lines.push(`| ${v.name} | ${med.toFixed(1)} ms | ${p95(xs).toFixed(1)} ms | ${Math.min(...xs).toFixed(1)} ms | ${v.side === 'ours' ? `${(med - off).toFixed(1)} ms` : '—'} | ${failed.get(v.name) ?? 0} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
