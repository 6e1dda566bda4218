/**
 * `npm run bench [-- --quick | --smoke] [--out FILE] [--json FILE] [--only ours|ref] [--keep] [--profile]`
 * (`npm run bench -- --help` lists every option)
 *
 * Runs our daemon and the reference daemon (/usr/lib/cni/dhcp) in turn, in the same topology
 * (bench/lab-extra.ts), each against a freshly started dnsmasq with an empty lease file, and
 * writes BENCHMARKS.md (full run only; quick/smoke/custom runs write to /tmp): bench/preamble.md,
 * the generated tables, then bench/analysis.md. The raw results of a full run go to
 * bench/results-full.json; `--from-json FILE` re-renders the Markdown from such a file.
 * Needs root, dnsmasq and containernetworking-plugins, and a built dist/ (`npm run build`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, SHIM } from '../test/helpers/lab';
import { run, waitFor } from '../test/helpers/sh';
import {
  BenchLab,
  CLK_TCK,
  snapshotDist,
  REF_DHCP,
  cleanupAll,
  installCleanupHandlers,
  keepLogs,
  sampleProc,
  sweepStale,
  timed,
  type Attachment,
  type CallResult,
  type Daemon,
  type Side,
} from './lab-extra';
import { CNI_ENV, boundViaCli, cpuOver, failures, fillLeases, loadAvg3, machine, neighbourTableFulls, pinList } from './held-leases';
import { renderMarkdown, type BenchResults, type SideResults } from './report';
import { commitOf, recordedRuns, renderRunsSummary } from './runs-summary';
import { p50, p95, pool, sleep } from './stats';

export interface Sizes {
  /** custom: a full run with changed sizes, one side only, --profile or --node-args (never rewrites BENCHMARKS.md by default) */
  mode: 'full' | 'quick' | 'smoke' | 'custom';
  /** (a) sequential bridge ADDs */
  seq: number;
  /** (b) IPAM-alone ADD/DEL pairs */
  ipam: number;
  /** (c) concurrent burst sizes; the last one's leases are kept for (d) */
  bursts: number[];
  /** (d) lease counts at which RSS is read; the largest is used by (e) and (g) */
  leases: number[];
  /** (e) CPU window, seconds */
  cpuWindowS: number;
  /** (g) window after a restart in which server ACKs are counted */
  forgetWindowS: number;
  /** (f) runs per start-up figure */
  startupRuns: number;
  /** concurrency when filling up to the lease counts */
  fill: number;
  /** pause before reading RSS (idle, and after the last ADD of a fill) */
  settleMs: number;
}

const PRESETS: Record<'full' | 'quick' | 'smoke', Sizes> = {
  full: { mode: 'full', seq: 20, ipam: 30, bursts: [50, 200], leases: [200, 1000], cpuWindowS: 150, forgetWindowS: 15, startupRuns: 40, fill: 200, settleMs: 5000 },
  quick: { mode: 'quick', seq: 5, ipam: 10, bursts: [20, 50], leases: [50, 150], cpuWindowS: 60, forgetWindowS: 8, startupRuns: 12, fill: 150, settleMs: 3000 },
  smoke: { mode: 'smoke', seq: 2, ipam: 2, bursts: [3, 5], leases: [5, 10], cpuWindowS: 4, forgetWindowS: 2, startupRuns: 3, fill: 10, settleMs: 500 },
};

interface Cli {
  sizes: Sizes;
  out: string;
  json: string | undefined;
  only: Side[];
  keep: boolean;
  profile: boolean;
  /** extra node flags for our daemon (tuning experiments), e.g. --max-semi-space-size=1 */
  nodeArgs: string[];
  /** re-render the Markdown from a saved --json file (after editing preamble.md or analysis.md) */
  fromJson: string | undefined;
  /** --dist: our side runs this built tree instead of ./dist (e.g. an older commit's, to compare) */
  dist: string | undefined;
  argv: string[];
}

function parseArgs(argv: string[]): Cli {
  let mode: 'full' | 'quick' | 'smoke' = 'full';
  if (argv.includes('--smoke')) mode = 'smoke';
  else if (argv.includes('--quick')) mode = 'quick';
  const sizes: Sizes = { ...PRESETS[mode] };
  let out: string | undefined;
  let json: string | undefined;
  let custom = false;
  let only: Side[] = ['ours', 'ref'];
  let keep = process.env.CNI_DHCP_BENCH_KEEP === '1';
  let profile = false;
  let nodeArgs: string[] = [];
  let fromJson: string | undefined;
  let dist: string | undefined;
  const num = (v: string | undefined, flag: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number`);
    return n;
  };
  const list = (v: string | undefined, flag: string): number[] => (v ?? '').split(',').map((x) => num(x, flag));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--smoke':
      case '--quick':
        break;
      case '--out': out = path.resolve(v ?? ''); i++; break;
      case '--json': json = path.resolve(v ?? ''); i++; break;
      case '--only': only = [v as Side]; custom = true; i++; break;
      case '--keep': keep = true; break;
      case '--profile': profile = true; custom = true; break;
      case '--from-json': fromJson = path.resolve(v ?? ''); i++; break;
      case '--dist': dist = path.resolve(v ?? ''); i++; custom = true; break;
      case '--node-args': nodeArgs = (v ?? '').split(/\s+/).filter(Boolean); custom = true; i++; break;
      case '--seq': sizes.seq = num(v, a); i++; custom = true; break;
      case '--ipam': sizes.ipam = num(v, a); i++; custom = true; break;
      case '--bursts': sizes.bursts = list(v, a); i++; custom = true; break;
      case '--leases': sizes.leases = list(v, a); i++; custom = true; break;
      case '--cpu-window': sizes.cpuWindowS = num(v, a); i++; custom = true; break;
      case '--startup-runs': sizes.startupRuns = num(v, a); i++; custom = true; break;
      case '-h':
      case '--help':
        process.stdout.write(
          'usage: npm run bench -- [--quick|--smoke] [--out FILE] [--json FILE] [--only ours|ref] [--keep] [--profile] [--node-args \'FLAGS\'] [--dist DIR]\n' +
            '                      [--seq N] [--ipam N] [--bursts A,B] [--leases A,B] [--cpu-window S] [--startup-runs N]\n' +
            '       npm run bench -- --from-json FILE [--out FILE]   (re-render the Markdown of a saved run)\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (sizes.leases.some((l) => l < (sizes.bursts.at(-1) ?? 0))) throw new Error('--leases must each be ≥ the last burst');
  // one bridge port per pod plus the server's: a Linux bridge takes at most 1024 ports
  if (Math.max(...sizes.leases, ...sizes.bursts) > 1020) throw new Error('at most 1020 pods on the one bridge');
  if (custom && sizes.mode === 'full') sizes.mode = 'custom';
  // only the preset full run rewrites BENCHMARKS.md, and keeps its raw results next to the code so
  // the Markdown can be re-rendered after editing bench/preamble.md or bench/analysis.md (--from-json)
  out ??= sizes.mode === 'full' ? path.join(REPO, 'BENCHMARKS.md') : path.join(os.tmpdir(), `cni-dhcp-bench-${sizes.mode}.md`);
  json ??= sizes.mode === 'full' ? path.join(REPO, 'bench', 'results-full.json') : undefined;
  return { sizes, out, json, only, keep, profile, nodeArgs, fromJson, dist, argv };
}

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** N timed runs after 3 warm-ups; returns the times of the successful ones. */
async function repeat(n: number, cmd: string, args: string[], env: NodeJS.ProcessEnv, input: string): Promise<{ ms: number[]; codes: number[] }> {
  const ms: number[] = [];
  const codes: number[] = [];
  for (let i = 0; i < n + 3; i++) {
    const r = await timed(cmd, args, env, input, 30_000);
    if (i < 3) continue;
    ms.push(r.ms);
    codes.push(r.code);
  }
  return { ms, codes };
}

function firstError(rs: CallResult[]): string | undefined {
  const r = rs.find((x) => x.code !== 0);
  return r ? `${r.stdout.trim()} ${r.stderr.trim()}`.slice(0, 300) : undefined;
}

const PROFILE_DIR = path.join(os.tmpdir(), 'cni-dhcp-bench-profiles');

/** Packets the kernel dropped because a CPU's input backlog (net.core.netdev_max_backlog) was full. */
function backlogDrops(): number {
  return fs
    .readFileSync('/proc/net/softnet_stat', 'utf8')
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + parseInt(line.split(/\s+/)[1] ?? '0', 16), 0);
}

/** utime+stime of a process, or (children) cutime+cstime: its reaped descendants'. 0 when gone. */
function procTicks(pid: number | undefined, children: boolean): number {
  if (pid === undefined) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime/stime are fields 14/15, cutime/cstime 16/17 (f[0] is field 3)
    return children ? Number(f[13]) + Number(f[14]) : Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** CPU ticks of every child process this bench has reaped (the CNI calls and what they ran). */
const childTicks = (): number => procTicks(process.pid, true);

function loadAvg(): number {
  return Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** --profile: a heap snapshot of our daemon (node writes it to --diagnostic-dir on SIGUSR2). */
async function heapSnapshot(pid: number): Promise<void> {
  const before = new Set(fs.readdirSync(PROFILE_DIR));
  process.kill(pid, 'SIGUSR2');
  const file = await waitFor('heap snapshot', () => fs.readdirSync(PROFILE_DIR).find((n) => !before.has(n) && n.endsWith('.heapsnapshot')), 120_000, 500);
  // writeHeapSnapshot is synchronous in the daemon: done once the file stops growing
  let size = -1;
  await waitFor('heap snapshot to be complete', async () => {
    await sleep(2000);
    const now = fs.statSync(path.join(PROFILE_DIR, file)).size;
    const done = now === size && now > 0;
    size = now;
    return done || undefined;
  }, 300_000, 0);
  log(`heap snapshot ${path.join(PROFILE_DIR, file)}`);
}

/**
 * (f) and the node floors, interleaved round-robin so that every command sees the same load:
 * `node -e 0` with and without NODE_EXTRA_CA_CERTS, each shim's VERSION, and each shim's STATUS
 * against its own running daemon (both daemons up, no DHCP traffic).
 */
async function startupFigures(labs: Record<Side, BenchLab>, n: number): Promise<BenchResults['startup']> {
  const ca = process.env.NODE_EXTRA_CA_CERTS ?? '/etc/ssl/certs/ca-certificates.crt';
  const lab = labs.ours;
  const ours = await labs.ours.startDaemon('ours', 'startup-ours');
  const ref = await labs.ref.startDaemon('ref', 'startup-ref');
  const version = JSON.stringify({ cniVersion: '1.0.0' });
  const cmds: Record<string, { cmd: string; args: string[]; env: NodeJS.ProcessEnv; input: string }> = {
    node: { cmd: process.execPath, args: ['-e', '0'], env: CNI_ENV, input: '' },
    nodeCa: { cmd: process.execPath, args: ['-e', '0'], env: { ...CNI_ENV, NODE_EXTRA_CA_CERTS: ca }, input: '' },
    oursVersion: { cmd: lab.shim, args: [], env: { ...CNI_ENV, CNI_COMMAND: 'VERSION' }, input: version },
    oursVersionCa: { cmd: lab.shim, args: [], env: { ...CNI_ENV, CNI_COMMAND: 'VERSION', NODE_EXTRA_CA_CERTS: ca }, input: version },
    oursStatus: { cmd: lab.shim, args: [], env: { ...CNI_ENV, CNI_COMMAND: 'STATUS', CNI_PATH: lab.cniPath.ours }, input: JSON.stringify(lab.netConfig(ours.socketPath, '1.1.0')) },
    refVersion: { cmd: REF_DHCP, args: [], env: { ...CNI_ENV, CNI_COMMAND: 'VERSION' }, input: version },
    refStatus: { cmd: REF_DHCP, args: [], env: { ...CNI_ENV, CNI_COMMAND: 'STATUS', CNI_PATH: labs.ref.cniPath.ref }, input: JSON.stringify(labs.ref.netConfig(ref.socketPath, '1.1.0')) },
  };
  const ms: Record<string, number[]> = {};
  const codes: Record<string, number> = {};
  for (let i = 0; i < n + 3; i++) {
    for (const [k, c] of Object.entries(cmds)) {
      const r = await timed(c.cmd, c.args, c.env, c.input, 30_000);
      codes[k] = r.code;
      if (i >= 3) (ms[k] ??= []).push(r.ms);
    }
  }
  await labs.ours.stopDaemon(ours);
  await labs.ref.stopDaemon(ref);
  const m = (k: string) => p50(ms[k] ?? []);
  return {
    runs: n,
    caFile: ca,
    nodeMs: m('node'),
    nodeCaMs: m('nodeCa'),
    oursVersionMs: m('oursVersion'),
    oursVersionCaMs: m('oursVersionCa'),
    oursStatusMs: m('oursStatus'),
    refVersionMs: m('refVersion'),
    refStatusMs: m('refStatus'),
    oursStatusExit: codes.oursStatus ?? -1,
    refStatusExit: codes.refStatus ?? -1,
  };
}

/**
 * One side (our daemon or the reference) in its own copy of the topology. The orchestrator in
 * main() calls the phases of both sides in turn, phase by phase, so that both meet the same
 * machine load (the machine is shared); (e) runs for both at once over the same window.
 */
class SideRun {
  readonly res: SideResults;
  private d!: Daemon;
  private held: Attachment[] = [];
  private free: string[] = [];
  private tries = 0;
  private readonly profiling: boolean;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly nodeArgs: string[] | undefined;
  private readonly s: Sizes;

  constructor(readonly lab: BenchLab, readonly side: Side, readonly pods: string[], cli: Cli) {
    this.s = cli.sizes;
    this.res = { side, errors: [], phaseSeconds: {}, phaseLoad: {} };
    this.profiling = cli.profile && side === 'ours';
    this.env = this.profiling ? { ...CNI_ENV, CNI_DHCP_BENCH_PROFILE_DIR: PROFILE_DIR } : undefined;
    const extra = side === 'ours' ? cli.nodeArgs : [];
    this.nodeArgs = this.profiling
      ? [...extra, '--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, '--require', path.join(REPO, 'bench', 'heap-signal.js')]
      : extra.length ? extra : undefined;
  }

  private async phase(name: string, fn: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    const load = loadAvg();
    const drops = backlogDrops();
    const fulls = neighbourTableFulls();
    log(`${this.side}: ${name} (load ${load.toFixed(2)})`);
    await fn();
    this.res.phaseSeconds[name] = (Date.now() - t0) / 1000;
    (this.res.phaseLoad ??= {})[name] = load;
    (this.res.phaseDrops ??= {})[name] = backlogDrops() - drops;
    const fulls1 = neighbourTableFulls();
    (this.res.phaseTableFulls ??= {})[name] = fulls1.arp - fulls.arp + fulls1.ndisc - fulls.ndisc;
  }

  private noteErrors(what: string, rs: CallResult[]): void {
    const e = firstError(rs);
    if (e) this.res.errors.push(`${what}: ${failures(rs)} failed, first: ${e}`);
  }

  private cni(plugin: 'bridge' | 'dhcp', command: string, a: Attachment): Promise<CallResult> {
    return this.lab.cni(this.side, plugin, command, a, this.d.socketPath);
  }

  /**
   * CPU ticks so far of: every CNI call this bench has waited for (cutime+cstime of this
   * process: `ip netns exec`, the bridge plugin and the IPAM plugin it runs, all reaped), the
   * daemon under test, and this side's dnsmasq.
   */
  private cpuTicks(): { calls: number; daemon: number; server: number } {
    return { calls: childTicks(), daemon: procTicks(this.d.pid, false), server: procTicks(this.lab.server?.pid, false) };
  }

  /** A fresh dnsmasq (empty lease file) and a fresh daemon. */
  async start(): Promise<void> {
    await this.lab.startDnsmasq(this.side);
    this.d = await this.lab.startDaemon(this.side, `${this.side}-1`, { env: this.env, nodeArgs: this.nodeArgs });
    this.res.daemonExe = fs.readlinkSync(`/proc/${this.d.pid}/exe`);
  }

  async idle(): Promise<void> {
    await this.phase('idle', async () => {
      await sleep(Math.max(this.s.settleMs, 1000));
      const smp = sampleProc(this.d.pid);
      this.res.rssIdleKb = smp.rssKb;
      this.res.rssIdleAnonKb = smp.rssAnonKb;
      this.res.rssIdleFileKb = smp.rssFileKb;
      this.res.pssIdleKb = smp.pssKb;
    });
  }

  async seq(): Promise<void> {
    await this.phase('(a) sequential bridge ADD', async () => {
      const atts: Attachment[] = this.pods.slice(0, this.s.seq).map((pod, i) => ({ pod, containerId: `${this.side}-a-${i}`, ifname: 'eth1' }));
      const adds: CallResult[] = [];
      for (const a of atts) adds.push(await this.cni('bridge', 'ADD', a));
      this.res.seqAddMs = adds.filter((r) => r.code === 0).map((r) => r.ms);
      this.res.seqAddFailures = failures(adds);
      this.noteErrors('(a) bridge ADD', adds);
      const dels: CallResult[] = [];
      for (const a of atts) dels.push(await this.cni('bridge', 'DEL', a));
      this.res.seqDelMs = dels.filter((r) => r.code === 0).map((r) => r.ms);
      this.noteErrors('(a) bridge DEL', dels);
      for (const a of atts) await this.lab.dropPodLink(a.pod, a.ifname);
    });
  }

  async ipam(): Promise<void> {
    await this.phase('(b) IPAM alone', async () => {
      const ps = this.pods.slice(0, this.s.ipam);
      const hosts = await this.lab.addUpLinks(ps);
      const atts: Attachment[] = ps.map((pod, i) => ({ pod, containerId: `${this.side}-b-${i}`, ifname: 'eth1' }));
      const adds: CallResult[] = [];
      // each ADD beside a VERSION of the same shim exec'd the same way (`ip netns exec`): the
      // daemon's share is ADD − this VERSION, with the exec path's own cost on both sides
      const versions: CallResult[] = [];
      for (const a of atts) {
        versions.push(await this.cni('dhcp', 'VERSION', a));
        adds.push(await this.cni('dhcp', 'ADD', a));
      }
      this.res.ipamVersionMs = versions.filter((r) => r.code === 0).map((r) => r.ms);
      const dels: CallResult[] = [];
      for (const a of atts) dels.push(await this.cni('dhcp', 'DEL', a));
      this.res.ipamAddMs = adds.filter((r) => r.code === 0).map((r) => r.ms);
      this.res.ipamDelMs = dels.filter((r) => r.code === 0).map((r) => r.ms);
      if (this.side === 'ours') {
        // the same pods again with the ARP probe off (the reference has none): the probe's cost
        // apart from the rest of the daemon's share
        const noProbe = this.lab.netConfig(this.d.socketPath);
        noProbe.ipam = { ...(noProbe.ipam as Record<string, unknown>), arpProbe: false };
        const np: CallResult[] = [];
        for (const a of atts) {
          const b = { ...a, containerId: `${a.containerId}-np` };
          np.push(await this.lab.cni(this.side, 'dhcp', 'ADD', b, this.d.socketPath, noProbe));
          dels.push(await this.lab.cni(this.side, 'dhcp', 'DEL', b, this.d.socketPath, noProbe));
        }
        this.res.ipamAddNoProbeMs = np.filter((r) => r.code === 0).map((r) => r.ms);
        adds.push(...np);
      }
      this.res.ipamFailures = failures(adds) + failures(dels);
      this.noteErrors('(b) dhcp ADD', adds);
      this.noteErrors('(b) dhcp DEL', dels);
      await this.lab.delLinks(hosts);
    });
  }

  /** Burst bi; the last burst's leases are kept for (d). */
  async burst(bi: number): Promise<void> {
    const B = this.s.bursts[bi] as number;
    const last = bi === this.s.bursts.length - 1;
    await this.phase(`(c) burst ${B}`, async () => {
      const atts: Attachment[] = this.pods.slice(0, B).map((pod, i) => ({ pod, containerId: `${this.side}-c${B}-${i}`, ifname: 'eth1' }));
      const cpu0 = this.cpuTicks();
      const t0 = process.hrtime.bigint();
      const rs = await Promise.all(atts.map((a) => this.cni('bridge', 'ADD', a)));
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu1 = this.cpuTicks();
      const cpuS = {
        callsS: (cpu1.calls - cpu0.calls) / CLK_TCK,
        daemonS: (cpu1.daemon - cpu0.daemon) / CLK_TCK,
        serverS: (cpu1.server - cpu0.server) / CLK_TCK,
      };
      (this.res.bursts ??= []).push({ size: B, wallMs, failures: failures(rs), p95Ms: p95(rs.map((r) => r.ms)), p50Ms: p50(rs.map((r) => r.ms)), cpuS });
      this.noteErrors(`(c) burst ${B} ADD`, rs);
      const ok = atts.filter((_, i) => rs[i]?.code === 0);
      if (last) await this.lab.pinNeighbours(pinList(atts, rs));
      for (const [i, a] of atts.entries()) if (rs[i]?.code !== 0) await this.lab.dropPodLink(a.pod, a.ifname);
      if (!last) {
        const dels = await pool(ok, 25, (a) => this.cni('bridge', 'DEL', a));
        this.noteErrors(`(c) burst ${B} DEL`, dels);
        for (const a of ok) await this.lab.dropPodLink(a.pod, a.ifname);
        await sleep(1000);
      } else {
        this.held = ok;
        const heldPods = new Set(ok.map((a) => a.pod));
        this.free = this.pods.filter((p) => !heldPods.has(p));
      }
    });
  }

  /** (d) more pods (eth1 each) until `target` leases are held, then RSS. */
  async fill(target: number): Promise<void> {
    await this.phase(`(d) fill to ${target} leases`, async () => {
      const pods = { held: this.held, free: this.free };
      const f = await fillLeases(this.lab, pods, target, {
        concurrency: this.s.fill,
        idPrefix: `${this.side}-d`,
        round: this.tries,
        add: (a) => this.cni('bridge', 'ADD', a),
        onBatch: (rs) => this.noteErrors(`(d) fill to ${target}`, rs),
      });
      this.tries = f.round;
      this.res.fillFailures = (this.res.fillFailures ?? 0) + f.failed;
      await sleep(this.s.settleMs);
      const smp = sampleProc(this.d.pid);
      if (this.profiling && target === this.s.leases.at(-1)) await heapSnapshot(this.d.pid);
      (this.res.rssAt ??= []).push({
        leases: this.held.length,
        target,
        rssKb: smp.rssKb,
        rssAnonKb: smp.rssAnonKb,
        rssFileKb: smp.rssFileKb,
        pssKb: smp.pssKb,
        fds: smp.fds,
        serverLeases: await this.lab.serverLeases(),
        daemonBound: this.side === 'ours' ? await boundViaCli(this.lab, this.d.socketPath) : undefined,
      });
    });
  }

  /** (e) CPU over the window; both sides run this at the same time. */
  async cpu(): Promise<void> {
    await this.phase('(e) CPU in steady renewal', async () => {
      const c = await cpuOver(this.d.pid, this.s.cpuWindowS, () => this.lab.serverLogCount(/DHCPACK/));
      this.res.cpu = {
        leases: this.held.length,
        windowS: c.windowS,
        cpuSecondsPerMin: c.cpuSecondsPerMin,
        acksPerMin: c.acksPerMin,
        rssEndKb: c.end.rssKb,
        serverLeases: await this.lab.serverLeases(),
        daemonBound: this.side === 'ours' ? await boundViaCli(this.lab, this.d.socketPath) : undefined,
      };
    });
  }

  async restart(): Promise<void> {
    await this.phase('(g) restart', async () => {
      const before = sampleProc(this.d.pid);
      const tk = process.hrtime.bigint();
      // a crash (SIGKILL); with --profile a SIGTERM, so the CPU profile gets written
      await this.lab.stopDaemon(this.d, this.profiling ? 'SIGTERM' : 'SIGKILL', this.profiling ? 180_000 : 30_000);
      const exitMs = Number(process.hrtime.bigint() - tk) / 1e6;
      const t0 = process.hrtime.bigint();
      this.d = await this.lab.startDaemon(this.side, `${this.side}-2`, { stateDir: this.d.stateDir, env: this.env, nodeArgs: this.nodeArgs });
      const socketMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const g: NonNullable<SideResults['restart']> = { leases: this.held.length, socketMs, exitMs, fdsBefore: before.fds };
      if (this.side === 'ours') {
        let last = 0;
        await waitFor(`${this.held.length} leases BOUND after restart`, async () => {
          last = await boundViaCli(this.lab, this.d.socketPath);
          return last >= this.held.length || undefined;
        }, 120_000, 100).catch((e: Error) => this.res.errors.push(`(g) ${e.message} (last ${last})`));
        g.resumeMs = Number(process.hrtime.bigint() - t0) / 1e6;
        g.boundAfter = last;
      }
      const ack0 = this.lab.serverLogCount(/DHCPACK/);
      await sleep(this.s.forgetWindowS * 1000);
      g.acksAfter = this.lab.serverLogCount(/DHCPACK/) - ack0;
      g.windowS = this.s.forgetWindowS;
      const smp = sampleProc(this.d.pid);
      g.fdsAfter = smp.fds;
      g.rssAfterKb = smp.rssKb;
      this.res.restart = g;
    });
  }

  async stop(): Promise<void> {
    await this.lab.stopDaemon(this.d, 'SIGTERM', this.profiling ? 180_000 : 30_000);
    await this.lab.stopServer();
  }
}

/** Runs the phases: each step for every side in turn, alternating which side goes first. */
async function runSides(runs: SideRun[], s: Sizes): Promise<void> {
  for (const r of runs) await r.start();
  await Promise.all(runs.map((r) => r.idle()));
  const steps: Array<(r: SideRun) => Promise<void>> = [
    (r) => r.seq(),
    (r) => r.ipam(),
    ...s.bursts.map((_, bi) => (r: SideRun) => r.burst(bi)),
    ...s.leases.map((t) => (r: SideRun) => r.fill(t)),
  ];
  for (const [i, step] of steps.entries()) for (const r of i % 2 === 0 ? runs : [...runs].reverse()) await step(r);
  await Promise.all(runs.map((r) => r.cpu()));
  for (const r of runs) await r.restart();
  for (const r of runs) await r.stop();
}

async function versions(distBuilt: Date, distFrom: string | undefined): Promise<BenchResults['versions']> {
  const dn = await run('/usr/sbin/dnsmasq', ['--version']);
  const refV = await run(REF_DHCP, [], { env: { ...CNI_ENV, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}' });
  const dpkg = await run('dpkg-query', ['-W', '-f', '${Version}', 'containernetworking-plugins']);
  const git = await run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']);
  // prose (Markdown) does not change what is measured, nor do the bench's own results (a full run
  // rewrites bench/results-full.json, so every run after the first would otherwise count as dirty)
  const dirty = await run('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)*.md', ':(exclude)bench/results-*.json']);
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  return {
    node: process.version,
    dnsmasq: (dn.stdout.split('\n')[0] ?? '').replace(/\s+Copyright.*/, ''),
    refPackage: `containernetworking-plugins ${dpkg.stdout.trim()}`,
    refVersionOutput: refV.stdout.trim(),
    ours: distFrom
      ? `the tree built in ${distFrom} (--dist), built ${distBuilt.toISOString().slice(0, 16).replace('T', ' ')} UTC`
      : `cni-dhcp ${pkg.version} (git ${git.stdout.trim()}${dirty.stdout.trim() ? ', with uncommitted changes' : ''}; dist built ${distBuilt.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
  };
}

async function floors(lab: BenchLab, pods: string[], s: Sizes): Promise<BenchResults['floors']> {
  log('floors: ip netns exec, bridge with host-local IPAM');
  const ipx = await repeat(s.startupRuns, 'ip', ['netns', 'exec', lab.nodeNs, '/bin/true'], CNI_ENV, '');
  const cfg = lab.hostLocalConfig();
  const seqAtts: Attachment[] = pods.slice(0, s.seq).map((pod, i) => ({ pod, containerId: `floor-a-${i}`, ifname: 'eth1' }));
  const seq: CallResult[] = [];
  for (const a of seqAtts) seq.push(await lab.cni('ours', 'bridge', 'ADD', a, '', cfg));
  for (const a of seqAtts) await lab.cni('ours', 'bridge', 'DEL', a, '', cfg);
  const B = s.bursts.at(-1) as number;
  const burstAtts: Attachment[] = pods.slice(0, B).map((pod, i) => ({ pod, containerId: `floor-c-${i}`, ifname: 'eth1' }));
  const c0 = childTicks();
  const t0 = process.hrtime.bigint();
  const burst = await Promise.all(burstAtts.map((a) => lab.cni('ours', 'bridge', 'ADD', a, '', cfg)));
  const burstWallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const callsS = (childTicks() - c0) / CLK_TCK;
  await pool(burstAtts, 25, (a) => lab.cni('ours', 'bridge', 'DEL', a, '', cfg));
  await lab.resetPods(pods);
  return {
    ipNetnsExecMs: p50(ipx.ms),
    hostLocalSeqP50Ms: p50(seq.filter((r) => r.code === 0).map((r) => r.ms)),
    hostLocalBurst: { size: B, wallMs: burstWallMs, failures: failures(burst), p95Ms: p95(burst.map((r) => r.ms)), callsS },
  };
}

function write(cli: Cli, results: BenchResults): void {
  const benchDir = path.join(REPO, 'bench');
  // every full run is kept (results-<date>.json): the headline is their median and spread
  if (results.sizes.mode === 'full' && !cli.fromJson) fs.writeFileSync(path.join(benchDir, `results-${results.date.slice(0, 19).replace(/:/g, '')}.json`), JSON.stringify(results, null, 2));
  const summary = results.sizes.mode === 'full' ? renderRunsSummary(recordedRuns(benchDir, commitOf(results))) : '';
  const md = renderMarkdown(results, {
    summary,
    preamble: readIf(path.join(REPO, 'bench', 'preamble.md')),
    // the Whereabouts etcd section is written by bench/whereabouts-etcd.ts; keep it on a re-render
    analysis: results.sizes.mode === 'full' ? `${readIf(path.join(REPO, 'bench', 'analysis.md'))}\n\n${readIf(path.join(REPO, 'bench', 'whereabouts-etcd.md'))}` : '',
  });
  fs.writeFileSync(cli.out, md);
  const json = cli.fromJson ? undefined : cli.json;
  if (json) fs.writeFileSync(json, JSON.stringify(results, null, 2));
  log(`wrote ${cli.out}${json ? ` and ${json}` : ''}`);
}

async function main(): Promise<void> {
  const cli = parseArgs(process.argv.slice(2));
  if (cli.fromJson) {
    const saved = JSON.parse(fs.readFileSync(cli.fromJson, 'utf8')) as BenchResults;
    if (!process.argv.includes('--out')) cli.out = saved.sizes.mode === 'full' ? path.join(REPO, 'BENCHMARKS.md') : path.join(os.tmpdir(), `cni-dhcp-bench-${saved.sizes.mode}.md`);
    write(cli, saved);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('the bench needs root (namespaces, veths, dnsmasq)');
  for (const f of ['/usr/sbin/dnsmasq', REF_DHCP, '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', SHIM]) if (!fs.existsSync(f)) throw new Error(`missing ${f}${f.startsWith(REPO) ? ' (run `npm run build`)' : ''}`);
  keepLogs(cli.keep);
  if (cli.profile) fs.mkdirSync(PROFILE_DIR, { recursive: true });
  installCleanupHandlers();
  const swept = await sweepStale();
  if (swept.length) log(`swept ${swept.length} stale cdb- namespaces`);
  const started = Date.now();
  const loadStart = loadAvg3();
  log(`mode ${cli.sizes.mode}: ${JSON.stringify(cli.sizes)}`);
  const dist = snapshotDist(cli.dist);
  // read when dist/ is copied: what this run measures, whatever is edited while it runs
  const measured = await versions(dist.built, cli.dist);
  const labs: Record<Side, BenchLab> = { ours: await BenchLab.create('o', dist), ref: await BenchLab.create('r', dist) };
  if (cli.keep) log(`logs kept in ${labs.ours.dir} and ${labs.ref.dir}`);
  let results: BenchResults;
  try {
    const sz = cli.sizes;
    const n = Math.max(sz.seq, sz.ipam, ...sz.bursts, ...sz.leases);
    const pods: Record<Side, string[]> = { ours: [], ref: [] };
    for (const side of cli.only) pods[side] = await labs[side].addPods(n);
    const fl = await floors(labs[cli.only[0] as Side], pods[cli.only[0] as Side], sz);
    log('(f) start-up, interleaved');
    const startup = await startupFigures(labs, sz.startupRuns);
    const runs = cli.only.map((side) => new SideRun(labs[side], side, pods[side], cli));
    await runSides(runs, sz);
    const sides: Partial<Record<Side, SideResults>> = {};
    for (const r of runs) sides[r.side] = r.res;
    results = {
      date: new Date().toISOString(),
      command: commandLine(cli.argv),
      sizes: cli.sizes,
      machine: machine(),
      versions: measured,
      floors: fl,
      startup,
      ours: sides.ours,
      ref: sides.ref,
      totalSeconds: (Date.now() - started) / 1000,
      load: { start: loadStart, end: loadAvg3() },
    };
  } finally {
    await cleanupAll();
  }
  log(`run took ${results.totalSeconds.toFixed(0)} s`);
  write(cli, results);
}

function readIf(f: string): string {
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
}

function commandLine(argv: string[]): string {
  const q = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
  const ev = process.env.npm_lifecycle_event;
  if (ev === 'bench') return `npm run bench${q ? ` -- ${q}` : ''}`;
  if (ev === 'bench:smoke') return `npm run bench:smoke${q.replace(/^--smoke ?/, '') ? ` -- ${q.replace(/^--smoke ?/, '')}` : ''}`;
  return `npx tsx bench/run.ts${q ? ` ${q}` : ''}`;
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await cleanupAll();
  process.exit(1);
});
