/**
 * `npx tsx bench/v6-dad-probe.ts [--runs N]` (root, after `npm run build`)
 *
 * What the IPv6 DAD probe (daemon/nd, governed by ipam.arpProbe) costs an IPv6-only ADD through
 * the bridge plugin against Kea v6 (Rapid Commit): one daemon serves both settings (the setting
 * travels with each ADD), interleaved ADD by ADD so that machine load hits them alike; each ADD
 * is followed by a DEL. Prints a Markdown table for docs/dhcpv6.md.
 */
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Lab } from '../test/helpers/lab';
import { startLabKea6 } from '../test/helpers/lab-kea6';
import { PREFIX6 } from '../test/helpers/v6-lab';
import { cleanupNetns } from '../test/helpers/netns';
import { p50, p95 } from './stats';
import type { ArpProbeConfig } from '../shared/dhcp-config';

const VARIANTS: Array<{ name: string; arpProbe?: ArpProbeConfig }> = [
  { name: '`"arpProbe": false` (no probe)', arpProbe: false },
  { name: 'default (2 probes, 50 ms)' },
];

function argRuns(): number {
  const i = process.argv.indexOf('--runs');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 20;
  if (!Number.isInteger(n) || n < 1) throw new Error('--runs takes a positive integer');
  return n;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  const runs = argRuns();
  const ms = VARIANTS.map(() => [] as number[]);
  const failed = VARIANTS.map(() => 0);
  const loadBefore = os.loadavg()[0] ?? 0;
  const lab = await Lab.create('c6db');
  try {
    await startLabKea6(lab, { preferred: 1800, valid: 3600, renew: 900, rebind: 1500, pool: `${PREFIX6}1000-${PREFIX6}1fff` });
    await lab.startDaemon(['-timeout', '15s', '--log-level', 'info']);
    const pod = await lab.addPod();
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = (i + k) % VARIANTS.length;
        const extra: Record<string, unknown> = { ipFamilies: ['ipv6'], ipv6PrefixLength: 64 };
        if (VARIANTS[v]!.arpProbe !== undefined) extra.arpProbe = VARIANTS[v]!.arpProbe;
        const config = lab.bridgeConfig('1.0.0', extra);
        const containerId = `c6db-${i}-${v}`;
        const t0 = performance.now();
        const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, containerId, config });
        const took = performance.now() - t0;
        if (r.code === 0) ms[v]!.push(took);
        else failed[v]! += 1;
        await lab.cni({ plugin: 'bridge', command: 'DEL', pod, containerId, config });
      }
    }
  } finally {
    await lab.cleanup();
    await cleanupNetns();
  }
  const off = p50(ms[0]!);
  const lines = [
    `IPv6-only ADD through the bridge plugin against Kea v6, ${runs} runs each, interleaved (\`npx tsx bench/v6-dad-probe.ts --runs ${runs}\`, ${new Date().toISOString().slice(0, 16)}Z; 1-min load ${loadBefore.toFixed(1)} before, ${(os.loadavg()[0] ?? 0).toFixed(1)} after, on ${os.cpus().length} CPUs):`,
    '',
    '| setting | p50 | p95 | min | max | p50 minus probe off | failures |',
    '|---|---|---|---|---|---|---|',
  ];
  VARIANTS.forEach((v, i) => {
    const xs = ms[i]!;
    lines.push(`| ${v.name} | ${p50(xs).toFixed(1)} ms | ${p95(xs).toFixed(1)} ms | ${Math.min(...xs).toFixed(1)} ms | ${Math.max(...xs).toFixed(1)} ms | ${(p50(xs) - off).toFixed(1)} ms | ${failed[i]} |`);
  });
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
