/**
 * `npx tsx bench/daemon-add.ts [--runs N] [--node-args 'FLAGS'] [--dist DIR]` (root, after `npm run build`)
 *
 * The daemon's own share of an ADD, without any shim start-up: this process sends the ADD and
 * DEL JSON-RPCs straight to our daemon's socket (shared/rpc-client, as the shim does) for pods
 * whose eth1 is already up on the bridge, and times each call. The ARP probe settings are
 * interleaved pod by pod (`false` and the default 2 × 50 ms), so load hits both alike; the
 * daemon's debug log gives the time from the request to its DHCPACK. `--node-args
 * '--cpu-prof --cpu-prof-dir=DIR'` profiles the daemon (written when it stops). Same topology and
 * dnsmasq as `npm run bench` (bench/lab-extra.ts); `--dist DIR` runs another built tree (an older
 * commit's dist/, with node_modules beside it) to compare.
 */
import * as fs from 'node:fs';
import { BenchLab, CLK_TCK, cleanupAll, installCleanupHandlers, snapshotDist, sweepStale, type Attachment } from './lab-extra';
import { call } from '../shared/rpc-client';
import { Method, type AddParams, type DelParams } from '../shared/rpc-protocol';
import { DEFAULT_ARP_PROBE, type ArpProbeConfig } from '../shared/dhcp-config';
import { p50, p95 } from './stats';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

const VARIANTS: Array<{ name: string; arpProbe: ArpProbeConfig }> = [
  { name: 'arpProbe false', arpProbe: false },
  { name: `arpProbe default (${DEFAULT_ARP_PROBE === false ? 'off' : `${DEFAULT_ARP_PROBE.count} × ${DEFAULT_ARP_PROBE.intervalMs} ms`})`, arpProbe: DEFAULT_ARP_PROBE },
];

/** utime+stime of a process so far, in ms (/proc/PID/stat fields 14 and 15). */
function daemonCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs', '20'));
  const nodeArgs = arg('--node-args', '').split(/\s+/).filter(Boolean);
  installCleanupHandlers();
  await sweepStale();
  const dist = arg('--dist', '');
  const lab = await BenchLab.create('da', dist ? snapshotDist(dist) : snapshotDist());
  try {
    await lab.startDnsmasq('ours');
    const d = await lab.startDaemon('ours', 'da', { nodeArgs: nodeArgs.length ? nodeArgs : undefined });
    const n = runs * VARIANTS.length + 3;
    const pods = await lab.addPods(n);
    const hosts = await lab.addUpLinks(pods);
    const ms: number[][] = VARIANTS.map(() => []);
    const delMs: number[] = [];
    let cpu0 = 0;
    for (const [i, pod] of pods.entries()) {
      if (i === 3) cpu0 = daemonCpuMs(d.pid);
      const v = i % VARIANTS.length;
      const a: Attachment = { pod, containerId: `da-${i}`, ifname: 'eth1' };
      const ref = { containerId: a.containerId, netName: lab.netName, ifname: a.ifname };
      const add: AddParams = { ...ref, netns: lab.podPath(pod), provide: [], requestList: [], arpProbe: VARIANTS[v]?.arpProbe };
      const t0 = process.hrtime.bigint();
      await call(d.socketPath, Method.Add, add);
      const t1 = process.hrtime.bigint();
      const del: DelParams = { ...ref, netns: lab.podPath(pod) };
      await call(d.socketPath, Method.Del, del);
      const t2 = process.hrtime.bigint();
      if (i < 3) continue; // warm-up
      ms[v]?.push(Number(t1 - t0) / 1e6);
      delMs.push(Number(t2 - t1) / 1e6);
    }
    const cpuPerPair = (daemonCpuMs(d.pid) - cpu0) / (pods.length - 3);
    await lab.delLinks(hosts);
    await lab.stopDaemon(d);
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    process.stdout.write(`\nADD/DEL RPC straight to the daemon, ${runs} pods per setting, load ${load}\n\n| setting | ADD p50 | ADD p95 | ADD min |\n|---|---|---|---|\n`);
    for (const [v, x] of VARIANTS.entries()) {
      const s = ms[v] ?? [];
      process.stdout.write(`| ${x.name} | ${p50(s).toFixed(1)} ms | ${p95(s).toFixed(1)} ms | ${Math.min(...s).toFixed(1)} ms |\n`);
    }
    process.stdout.write(`| DEL (both) | ${p50(delMs).toFixed(1)} ms | ${p95(delMs).toFixed(1)} ms | ${Math.min(...delMs).toFixed(1)} ms |\n`);
    process.stdout.write(`\ndaemon CPU (utime+stime) per ADD + DEL: ${cpuPerPair.toFixed(1)} ms\ndaemon log: ${d.logFile}\n`);
  } finally {
    await cleanupAll();
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
    void cleanupAll().finally(() => process.exit(1));
  },
);
