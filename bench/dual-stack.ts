/**
 * Dual-stack ADD through bridge beside IPv4-only ADD, and the reference's IPv4-only ADD, in one
 * invocation:
 *
 *   npx tsx bench/dual-stack.ts [--runs K (3)] [--rounds R (30)] [--json FILE]
 *
 * (root; dnsmasq, containernetworking-plugins, a built dist/). One dnsmasq on the lab segment
 * serves DHCPv4, DHCPv6 (a /64 range) and RAs; our daemon and the reference daemon run side by
 * side in the node namespace, each behind its own CNI_PATH. Every round times one bridge ADD per
 * mode (spawn to exit), each in a fresh pod, in an order rotated each round; the pods are deleted
 * (IPAM DEL first, then the bridge DEL) between rounds, untimed. The K runs are interleaved:
 * round i belongs to run i mod K, so every run sees the same stretch of machine load. Prints
 * each run's p50/p95 per mode, then the median of the runs' p50s with their spread (min–max),
 * and the dual-stack cost (dual-stack p50 − IPv4-only p50 of each run) against the 50 ms target.
 * Daemon memory and CPU holding many dual-stack leases: bench/dual-stack-memory.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../test/helpers/lab';
import { startProcess, waitFor } from '../test/helpers/sh';
import { REF_DHCP, timed } from './lab-extra';
import { loadAvg3 } from './held-leases';
import { p50, p95 } from './stats';

const PREFIX = '2001:db8:d6b::';
type Mode = 'ours v4-only' | 'ours dual-stack' | 'reference v4-only';
const MODES: Mode[] = ['ours v4-only', 'ours dual-stack', 'reference v4-only'];
/** the target: a dual-stack ADD through bridge costs at most this much more than a v4-only one */
const TARGET_MS = 50;

interface RunStats { mode: Mode; n: number; p50: number; p95: number; min: number; max: number }

function parseArgs(argv: string[]): { runs: number; rounds: number; json: string | undefined } {
  const o = { runs: 3, rounds: 30, json: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (a === '--json') o.json = path.resolve(v ?? '');
    else if (a === '--runs' || a === '--rounds') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a positive integer`);
      o[a === '--runs' ? 'runs' : 'rounds'] = n;
    } else throw new Error(`unknown option ${a}: [--runs K] [--rounds R] [--json FILE]`);
  }
  return o;
}

async function main(): Promise<void> {
  const { runs, rounds, json } = parseArgs(process.argv.slice(2));
  const lab = await Lab.create('d6bn');
  try {
    await lab.inNs(lab.serverNs, 'sysctl', '-qw', 'net.ipv6.conf.srv0.accept_dad=0');
    await lab.inNs(lab.serverNs, 'ip', 'addr', 'add', `${PREFIX}1/64`, 'dev', 'srv0', 'nodad');
    await lab.startDnsmasq({ leaseTime: '1h', extra: [`--dhcp-range=${PREFIX}100,${PREFIX}fff,64,1h`, '--enable-ra'] });
    await lab.startDaemon();
    // the reference daemon beside ours, with its own socket and its own CNI_PATH holding its shim
    const refSock = path.join(lab.dir, 'ref', 'dhcp.sock');
    fs.mkdirSync(path.dirname(refSock), { recursive: true });
    const ref = startProcess('ip', ['netns', 'exec', lab.nodeNs, REF_DHCP, 'daemon', '-socketpath', refSock], path.join(lab.dir, 'ref-daemon.log'));
    lab.track(ref);
    await waitFor('the reference daemon socket', () => (fs.existsSync(refSock) ? true : undefined), 10_000);
    const refPath = path.join(lab.dir, 'ref-bin');
    fs.mkdirSync(refPath);
    for (const p of ['bridge', 'loopback']) fs.symlinkSync(path.join('/usr/lib/cni', p), path.join(refPath, p));
    fs.symlinkSync(REF_DHCP, path.join(refPath, 'dhcp'));

    const config = (mode: Mode) => {
      if (mode === 'reference v4-only') return { ...lab.bridgeConfig('1.0.0'), ipam: { type: 'dhcp', daemonSocketPath: refSock } };
      return lab.bridgeConfig('1.0.0', mode === 'ours dual-stack' ? { ipFamilies: ['ipv4', 'ipv6'] } : {});
    };
    const exec = (mode: Mode, command: string, pod: string, cfg: Record<string, unknown>, plugin = 'bridge') => timed('ip', ['netns', 'exec', lab.nodeNs, path.join(mode === 'reference v4-only' ? refPath : lab.cniPath, plugin)], {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_PATH: mode === 'reference v4-only' ? refPath : lab.cniPath,
      CNI_CONTAINERID: pod, CNI_NETNS: lab.podPath(pod), CNI_IFNAME: 'eth1',
    }, JSON.stringify(cfg));

    // ms[run][mode]
    const ms: Array<Map<Mode, number[]>> = Array.from({ length: runs }, () => new Map(MODES.map((m) => [m, []])));
    const loadStart = loadAvg3();
    const loads: number[] = [];
    for (let r = 0; r < runs * rounds; r++) {
      const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]!);
      for (const mode of order) {
        const pod = await lab.addPod();
        const cfg = config(mode);
        const res = await exec(mode, 'ADD', pod, cfg);
        if (res.code !== 0) throw new Error(`${mode} ADD failed: ${res.stdout} ${res.stderr}`);
        ms[r % runs]!.get(mode)!.push(res.ms);
        await exec(mode, 'DEL', pod, { cniVersion: '1.0.0', name: cfg.name, ipam: cfg.ipam }, 'dhcp');
        await exec(mode, 'DEL', pod, cfg);
        await lab.deletePod(pod);
      }
      loads.push(os.loadavg()[0]!);
    }

    const stats: RunStats[][] = ms.map((byMode) => MODES.map((mode) => {
      const v = byMode.get(mode)!;
      return { mode, n: v.length, p50: p50(v), p95: p95(v), min: Math.min(...v), max: Math.max(...v) };
    }));
    const fmt = (v: number) => v.toFixed(1);
    const spread = (v: number[]) => `${fmt(p50(v))} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})`;
    const out: string[] = [
      `${runs} interleaved runs × ${rounds} round${rounds === 1 ? '' : 's'}, load average ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))} (1 min; ${loadStart.join(' / ')} at the start, 1 / 5 / 15 min), ${os.cpus().length} cores`,
      '',
      '| run | mode | ADDs | p50 ms | p95 ms | min | max |',
      '|---|---|---|---|---|---|---|',
      ...stats.flatMap((run, i) => run.map((s) => `| ${i + 1} | ${s.mode} | ${s.n} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.min)} | ${fmt(s.max)} |`)),
      '',
      '| mode | median of the runs\' p50 (min–max) ms | median of the runs\' p95 (min–max) ms |',
      '|---|---|---|',
      ...MODES.map((mode, mi) => `| ${mode} | ${spread(stats.map((run) => run[mi]!.p50))} | ${spread(stats.map((run) => run[mi]!.p95))} |`),
      '',
    ];
    const cost = stats.map((run) => run[1]!.p50 - run[0]!.p50);
    out.push(`dual-stack p50 − IPv4-only p50, per run: ${cost.map(fmt).join(', ')} ms; median ${spread(cost)} ms; target ≤ ${TARGET_MS} ms: ${p50(cost) <= TARGET_MS ? 'met' : 'not met'} at the median, ${Math.max(...cost) <= TARGET_MS ? 'met' : 'not met'} in every run`, '');
    process.stdout.write(out.join('\n'));
    if (json) {
      fs.writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), command: `npx tsx bench/dual-stack.ts ${process.argv.slice(2).join(' ')}`.trim(), runs, rounds, load: { start: loadStart, rounds: [Math.min(...loads), Math.max(...loads)], end: loadAvg3() }, stats, dualStackCostMs: cost }, null, 2));
    }
  } finally {
    await lab.cleanup();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
