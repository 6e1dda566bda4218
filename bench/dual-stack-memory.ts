/**
 * Daemon memory and CPU holding N dual-stack leases, beside our daemon holding N IPv4-only
 * leases and the reference daemon (/usr/lib/cni/dhcp, IPv4 only) holding N IPv4 leases:
 *
 *   npx tsx bench/dual-stack-memory.ts [--leases N (1000)] [--cpu-window S (150)] [--fill C (100)] [--json FILE]
 *   npx tsx bench/dual-stack-memory.ts --smoke        (5 leases, a 3 s window: checks the bench works)
 *
 * Root, dnsmasq, containernetworking-plugins and a built dist/. Three copies of the bench
 * topology (bench/lab-extra.ts: each its own segment, a /21 IPv4 range, dnsmasq with 2-minute
 * leases), one per side; the dual-stack side's dnsmasq also serves a DHCPv6 range of 61,440
 * addresses in 2001:db8:c6::/64 with 2-minute leases, and router advertisements (why: in
 * start()). Each side fills to N held leases through the real bridge plugin (C ADDs at a time,
 * the fill machinery of bench/run.ts, failed ADDs retried, neighbours pinned), one side after the
 * other; then RSS, anonymous RSS, PSS and fds are read (bench/lab-extra.ts' sampleProc), and
 * the CPU of all three daemons is read over one shared window of steady renewal (T1 = 1 min, so
 * every lease renews about once a minute in each family). Prints a Markdown table; a full run
 * (the defaults) keeps its results in bench/dual-stack-memory-<date>.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from '../test/helpers/lab';
import { run } from '../test/helpers/sh';
import { CNI_ENV, cpuOver, fillLeases, loadAvg3, machine, neighbourTableFulls, pinList, type CpuWindow } from './held-leases';
import { BenchLab, cleanupAll, installCleanupHandlers, sampleProc, snapshotDist, sweepStale, type Attachment, type CallResult, type Daemon, type ProcSample, type Side } from './lab-extra';
import { sleep } from './stats';

const PREFIX6 = '2001:db8:c6::';

interface Mode {
  name: 'ours dual-stack' | 'ours IPv4-only' | 'reference IPv4-only';
  side: Side;
  /** the BenchLab tag (one letter) */
  tag: string;
  dual: boolean;
}

const MODES: Mode[] = [
  { name: 'ours dual-stack', side: 'ours', tag: 'd', dual: true },
  { name: 'ours IPv4-only', side: 'ours', tag: 'o', dual: false },
  { name: 'reference IPv4-only', side: 'ref', tag: 'r', dual: false },
];

interface Sizes {
  smoke: boolean;
  leases: number;
  cpuWindowS: number;
  fill: number;
  settleMs: number;
}

interface ModeResult {
  mode: Mode['name'];
  target: number;
  held: number;
  fillFailures: number;
  fillSeconds: number;
  fillLoad: number;
  /** neighbour entries the kernel could not add during the fill, its ARP / ndisc table full (machine-wide) */
  fillTableFulls?: { arp: number; ndisc: number };
  firstError?: string;
  idle: ProcSample;
  full: ProcSample;
  serverLeases: { ipv4: number; ipv6: number };
  /** ours only: what the daemon reports BOUND, per family */
  daemonBound?: { ipv4: number; ipv6: number };
  cpu?: Omit<CpuWindow, 'end'> & { repliesPerMin: number; rssEndKb: number };
}

interface DualStackMemoryResults {
  date: string;
  command: string;
  sizes: Sizes;
  machine: ReturnType<typeof machine>;
  versions: { node: string; dnsmasq: string; ours: string };
  load: { start: number[]; afterFill: number[]; end: number[] };
  modes: ModeResult[];
}

function parseArgs(argv: string[]): { sizes: Sizes; json: string | undefined } {
  const smoke = argv.includes('--smoke');
  const sizes: Sizes = smoke ? { smoke, leases: 5, cpuWindowS: 3, fill: 5, settleMs: 500 } : { smoke, leases: 1000, cpuWindowS: 150, fill: 100, settleMs: 5000 };
  let json: string | undefined;
  let custom = smoke;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const n = Number(argv[i + 1]);
    switch (a) {
      case '--smoke': break;
      case '--leases': sizes.leases = n; i++; custom = true; break;
      case '--cpu-window': sizes.cpuWindowS = n; i++; custom = true; break;
      case '--fill': sizes.fill = n; i++; custom = true; break;
      case '--json': json = path.resolve(argv[++i] ?? ''); break;
      default: throw new Error(`unknown option ${a} (see the comment at the top of bench/dual-stack-memory.ts)`);
    }
    if (a !== '--smoke' && a !== '--json' && !(Number.isFinite(n) && n > 0)) throw new Error(`${a} needs a positive number`);
  }
  // one bridge port per pod plus the server's: a Linux bridge takes at most 1024 ports
  if (sizes.leases > 1020) throw new Error('at most 1020 pods on one bridge');
  json ??= custom ? undefined : path.join(REPO, 'bench', `dual-stack-memory-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`);
  return { sizes, json };
}

const log = (msg: string): void => {
  process.stderr.write(`[dual-stack-memory ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** What our daemon reports BOUND per family, through the operator CLI (`leases --json`). */
async function boundByFamily(lab: BenchLab, socketPath: string): Promise<{ ipv4: number; ipv6: number }> {
  const r = await run(lab.cli, ['-s', socketPath, 'leases', '--json'], { env: CNI_ENV, timeoutMs: 20_000 });
  if (r.code !== 0) return { ipv4: -1, ipv6: -1 };
  const views = JSON.parse(r.stdout) as Array<{ state: string; address?: string; ipv6?: { state: string } }>;
  return { ipv4: views.filter((v) => v.address !== undefined && v.state === 'BOUND').length, ipv6: views.filter((v) => v.ipv6?.state === 'BOUND').length };
}

class ModeRun {
  lab!: BenchLab;
  d!: Daemon;
  pods: string[] = [];
  held: Attachment[] = [];
  res!: ModeResult;

  constructor(readonly m: Mode, readonly s: Sizes) {}

  async start(dist: ReturnType<typeof snapshotDist>): Promise<void> {
    this.lab = await BenchLab.create(this.m.tag, dist);
    // Multicast snooping with the bridge as querier, on every side's bridge alike: without a
    // querier the bridge forgets within 260 s that only the server's port listens on ff02::1:2,
    // and floods every SOLICIT, RENEW and REBIND to all 1000 pod ports, whose kernels drop them;
    // at 2000 renewals a minute that flood fills the CPUs' input backlogs and loses DHCP
    // packets of both families (measured: most IPv6 leases expired during a fill without it).
    // The hash limit is raised so that the pods' own solicited-node groups fit.
    await this.lab.inNs(this.lab.nodeNs, 'ip', 'link', 'set', this.lab.bridge, 'type', 'bridge', 'mcast_snooping', '1', 'mcast_querier', '1', 'mcast_hash_max', '16384');
    const extra: string[] = [];
    if (this.m.dual) {
      // dnsmasq needs an address in the range's /64 on its interface; no DAD, so it binds at once
      await this.lab.inNs(this.lab.serverNs, 'sysctl', '-qw', 'net.ipv6.conf.srv0.accept_dad=0');
      await this.lab.inNs(this.lab.serverNs, 'ip', 'addr', 'add', `${PREFIX6}1/64`, 'dev', 'srv0', 'nodad');
      // Router advertisements, as a DHCPv6 network has (they carry the M flag and the default
      // route). They also matter to dnsmasq's speed: for each DHCPv6 packet from a link-local
      // address its kernel has no neighbour entry for, dnsmasq sends a neighbour solicitation
      // and sleeps 100 ms, and again while no entry appears, before it answers anything of
      // either family (measured: the first SOLICIT from a new client 100.5 ms without RAs,
      // 0.2 ms with them; Kea 0.4 ms). With RAs on, the pod's router solicitation, sent when its
      // link comes up, leaves that entry behind first. Without them a fill of 100 new pods at a
      // time stalls dnsmasq for 10 s and more, and ADDs of both families time out
      // (bench/analysis.md).
      extra.push(`--dhcp-range=${PREFIX6}1000,${PREFIX6}ffff,64,2m`, '--enable-ra');
    }
    await this.lab.startDnsmasq(this.m.tag, extra);
    this.d = await this.lab.startDaemon(this.m.side, this.m.tag);
    this.pods = await this.lab.addPods(this.s.leases);
  }

  config(): Record<string, unknown> {
    const c = this.lab.netConfig(this.d.socketPath) as { ipam: Record<string, unknown> };
    return this.m.dual ? { ...c, ipam: { ...c.ipam, ipFamilies: ['ipv4', 'ipv6'] } } : c;
  }

  idleSample(): ProcSample {
    return sampleProc(this.d.pid);
  }

  async fill(idle: ProcSample): Promise<void> {
    const target = this.s.leases;
    const load = loadAvg3()[0]!;
    log(`${this.m.name}: filling to ${target} leases, ${this.s.fill} at a time (load ${load.toFixed(2)})`);
    const t0 = Date.now();
    const fulls0 = neighbourTableFulls();
    const config = this.config();
    let firstError: string | undefined;
    const f = await fillLeases(this.lab, { held: this.held, free: [...this.pods] }, target, {
      concurrency: this.s.fill,
      idPrefix: `${this.m.tag}-`,
      round: 0,
      add: (a) => this.lab.cni(this.m.side, 'bridge', 'ADD', a, this.d.socketPath, config),
      onBatch: (rs) => {
        const bad = rs.find((r) => r.code !== 0);
        firstError ??= bad ? `${bad.stdout.trim()} ${bad.stderr.trim()}`.slice(0, 300) : undefined;
      },
      pin: async (batch: Attachment[], rs: CallResult[]) => {
        await this.lab.pinNeighbours(pinList(batch, rs));
        if (this.m.dual) await this.lab.pinNeighbours6(batch.filter((_, i) => rs[i]?.code === 0));
      },
    });
    const fillSeconds = (Date.now() - t0) / 1000;
    const fulls1 = neighbourTableFulls();
    await sleep(this.s.settleMs);
    const full = sampleProc(this.d.pid);
    this.res = {
      mode: this.m.name,
      target,
      held: this.held.length,
      fillFailures: f.failed,
      fillSeconds,
      fillLoad: load,
      fillTableFulls: { arp: fulls1.arp - fulls0.arp, ndisc: fulls1.ndisc - fulls0.ndisc },
      ...(firstError ? { firstError } : {}),
      idle,
      full,
      serverLeases: { ipv4: await this.lab.serverLeases('ipv4'), ipv6: await this.lab.serverLeases('ipv6') },
      daemonBound: this.m.side === 'ours' ? await boundByFamily(this.lab, this.d.socketPath) : undefined,
    };
    log(`${this.m.name}: ${this.held.length} held in ${fillSeconds.toFixed(0)} s (${f.failed} ADDs failed and were retried; neighbour table full ${fulls1.arp - fulls0.arp} × ARP, ${fulls1.ndisc - fulls0.ndisc} × ndisc), RSS ${(full.rssKb / 1024).toFixed(1)} MB`);
  }

  async cpu(): Promise<void> {
    const replies0 = this.lab.serverLogCount(/DHCPREPLY/);
    const c = await cpuOver(this.d.pid, this.s.cpuWindowS, () => this.lab.serverLogCount(/DHCPACK/));
    const { end, ...window } = c;
    this.res.cpu = { ...window, repliesPerMin: (this.lab.serverLogCount(/DHCPREPLY/) - replies0) / (c.windowS / 60), rssEndKb: end.rssKb };
  }
}

async function versions(): Promise<DualStackMemoryResults['versions']> {
  const dn = await run('/usr/sbin/dnsmasq', ['--version']);
  const git = await run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']);
  return { node: process.version, dnsmasq: (dn.stdout.split('\n')[0] ?? '').replace(/\s+Copyright.*/, ''), ours: `git ${git.stdout.trim()}` };
}

const mb = (kb: number | undefined) => (kb === undefined || kb < 0 ? '—' : (kb / 1024).toFixed(1));

function renderTable(r: DualStackMemoryResults): string {
  const rows = r.modes.map((m) => {
    const held = m.mode === 'ours dual-stack' ? `${m.held} (server: ${m.serverLeases.ipv4} v4 + ${m.serverLeases.ipv6} v6)` : `${m.held} (server: ${m.serverLeases.ipv4})`;
    const renewals = m.cpu ? `${m.cpu.acksPerMin.toFixed(0)}${m.mode === 'ours dual-stack' ? ` + ${m.cpu.repliesPerMin.toFixed(0)} v6` : ''}` : '—';
    return `| ${m.mode} | ${held} | ${mb(m.idle.rssKb)} | ${mb(m.full.rssKb)} | ${mb(m.full.rssAnonKb)} | ${mb(m.full.pssKb)} | ${m.full.fds} | ${m.cpu ? m.cpu.cpuSecondsPerMin.toFixed(2) : '—'} | ${renewals} | ${mb(m.cpu?.rssEndKb)} |`;
  });
  return [
    `${r.command}: ${r.sizes.leases} leases per side, CPU window ${r.sizes.cpuWindowS} s; load average ${r.load.start.join(' / ')} at the start, ${r.load.afterFill.join(' / ')} after the fills, ${r.load.end.join(' / ')} at the end (1 / 5 / 15 min; ${r.machine.nproc} cores)`,
    '',
    '| daemon | leases held | RSS idle MB | RSS holding MB | anonymous MB | PSS MB | fds | CPU s/min (renewing) | server answers/min | RSS after the window MB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { sizes, json } = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the bench needs root (namespaces, veths, dnsmasq)');
  installCleanupHandlers();
  const swept = await sweepStale();
  if (swept.length) log(`swept ${swept.length} stale namespaces`);
  const start = loadAvg3();
  const dist = snapshotDist();
  const measured = await versions();
  const runs = MODES.map((m) => new ModeRun(m, sizes));
  let results: DualStackMemoryResults;
  try {
    for (const r of runs) await r.start(dist);
    await sleep(sizes.settleMs);
    const idle = runs.map((r) => r.idleSample());
    // one side after the other, so that the fills do not compete with each other
    for (const [i, r] of runs.entries()) await r.fill(idle[i]!);
    const afterFill = loadAvg3();
    log(`CPU of the three daemons over one ${sizes.cpuWindowS} s window (load ${afterFill[0]})`);
    await Promise.all(runs.map((r) => r.cpu()));
    results = {
      date: new Date().toISOString(),
      command: `npx tsx bench/dual-stack-memory.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
      sizes,
      machine: machine(),
      versions: measured,
      load: { start, afterFill, end: loadAvg3() },
      modes: runs.map((r) => r.res),
    };
  } finally {
    await cleanupAll();
  }
  process.stdout.write(renderTable(results));
  if (json) {
    fs.writeFileSync(json, JSON.stringify(results, null, 2));
    log(`wrote ${json}`);
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`dual-stack-memory failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await cleanupAll();
  process.exit(1);
});
