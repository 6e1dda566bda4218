/**
 * The benchmark's topology, a larger sibling of test/helpers/lab.ts:
 *
 *   server ns `cdb-<pid>-<tag>-srv`   : dnsmasq on veth srv0, 198.18.0.1/21 (pool
 *                                       198.18.0.10–198.18.7.250, 2-minute leases, --dhcp-lease-max=4000)
 *   node ns   `cdb-<pid>-<tag>-node`  : bridge cdbbr0 holding the server's veth peer; the daemon under
 *                                       test runs here, and every CNI plugin is exec'd here
 *   pod nss   `cdb-<pid>-<tag>-p<i>`  : created from the root ns, one per pod, one interface each
 *
 * built twice (tag `o` for our daemon, `r` for the reference): separate L2 segments, the same
 * addresses.
 *
 * The /21 is needed because 1000 leases do not fit the lab's /24, and dnsmasq's default
 * --dhcp-lease-max is 1000. Only 198.18.0.0/15, only inside our own namespaces. Every namespace
 * and process this file creates is registered and removed by cleanupAll(), which also runs on
 * SIGINT/SIGTERM and on an uncaught error. Processes are stopped by PID only.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleNodeFlags, REF_CNI, SHIM } from '../test/helpers/lab';
import { buildSegment } from '../test/helpers/segment';
import { run, sh, startProcess, stopProcess, waitFor } from '../test/helpers/sh';

export const REF_DHCP = path.join(REF_CNI, 'dhcp');
export const DIST = path.resolve(path.dirname(SHIM), '..');
export type Side = 'ours' | 'ref';

/**
 * Every namespace, interface and temp dir the bench creates starts with this tag (default `cdb`;
 * CNI_DHCP_BENCH_PREFIX=xy gives `xy-<pid>-…`), so that concurrent runs on one machine, e.g.
 * one per developer, never collide. At most 3 characters (a letter, then letters or digits):
 * interface names are limited to 15 bytes.
 */
const TAG = process.env.CNI_DHCP_BENCH_PREFIX ?? 'cdb';
if (!/^[a-z][a-z0-9]{0,2}$/.test(TAG)) throw new Error('CNI_DHCP_BENCH_PREFIX must be 1-3 lowercase letters or digits, starting with a letter');
const PREFIX = `${TAG}-${process.pid}`;
const namespaces = new Set<string>();
const processes = new Set<ChildProcess>();
const dirs = new Set<string>();
let keepDirs = false;

export function keepLogs(keep: boolean): void {
  keepDirs = keep;
}

async function addNs(name: string): Promise<void> {
  await sh('ip', 'netns', 'add', name);
  namespaces.add(name);
}

async function delNs(name: string): Promise<void> {
  await run('ip', ['netns', 'del', name]);
  namespaces.delete(name);
}

/** Stops every process and deletes every namespace we created. Safe to call twice. */
export async function cleanupAll(): Promise<void> {
  for (const p of [...processes]) {
    await stopProcess(p, 2000).catch(() => undefined);
    processes.delete(p);
  }
  for (const ns of [...namespaces]) await delNs(ns);
  if (!keepDirs) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

let handlersInstalled = false;
/** Cleans up on ctrl-C / SIGTERM / crash, then exits. */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let busy = false;
  const bail = (why: string, code: number) => {
    if (busy) return;
    busy = true;
    process.stderr.write(`\nbench: ${why}: cleaning up namespaces and processes\n`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => bail('SIGINT', 130));
  process.on('SIGTERM', () => bail('SIGTERM', 143));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${String(err.stack ?? err)}\n`);
    bail('uncaught exception', 1);
  });
}

/** Deletes `<tag>-<pid>-…` namespaces left by an earlier bench run whose process is gone. */
export async function sweepStale(): Promise<string[]> {
  const swept: string[] = [];
  const dir = '/var/run/netns';
  if (!fs.existsSync(dir)) return swept;
  for (const name of fs.readdirSync(dir)) {
    const m = new RegExp(`^${TAG}-(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    let alive = false;
    try {
      alive = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bench');
    } catch {
      alive = false;
    }
    if (alive) continue;
    await run('ip', ['netns', 'del', name]);
    swept.push(name);
  }
  return swept;
}

export interface CallResult {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Spawns a command and times it from spawn to exit (hrtime). */
export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, input: string, timeoutMs = 120_000): Promise<CallResult> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr: stderr + String(err) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * The link-local address and MAC of one link from `ip -j addr show dev X` (all families: with
 * `-6` this ip leaves out the MAC, and the IPv4 slot of addr_info is an empty object).
 */
export function linkLocalOf(json: string): { ip: string; mac: string } | undefined {
  const links = JSON.parse(json || '[]') as Array<{ address?: string; addr_info?: Array<{ family?: string; local?: string; scope?: string }> }>;
  const ll = links[0]?.addr_info?.find((a) => a.family === 'inet6' && a.scope === 'link' && a.local);
  const mac = links[0]?.address;
  return ll?.local && mac ? { ip: ll.local, mac } : undefined;
}

export interface Attachment {
  pod: string;
  containerId: string;
  ifname: string;
}

/** The pod's address and MAC from a bridge ADD result (cniVersion 1.0.0). */
export function leaseOf(r: CallResult): { ip: string; mac: string } | undefined {
  try {
    const j = JSON.parse(r.stdout) as { ips?: Array<{ address: string; interface?: number }>; interfaces?: Array<{ mac?: string }> };
    const ip = j.ips?.[0];
    const mac = ip?.interface !== undefined ? j.interfaces?.[ip.interface]?.mac : undefined;
    return ip && mac ? { ip: ip.address.split('/')[0] as string, mac } : undefined;
  } catch {
    return undefined;
  }
}

export interface Daemon {
  side: Side;
  proc: ChildProcess;
  pid: number;
  socketPath: string;
  stateDir: string;
  logFile: string;
}

export interface ProcSample {
  rssKb: number;
  /** VmRSS split: anonymous (heap, stacks) and file-backed (the mapped executable and libraries, shared with other processes) */
  rssAnonKb: number;
  rssFileKb: number;
  /** proportional set size (smaps_rollup): each shared page divided among the processes mapping it; what the daemon costs the node */
  pssKb: number;
  cpuTicks: number;
  fds: number;
}

export function sampleProc(pid: number): ProcSample {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "pid (comm) ": fields[0] is state (field 3), so utime (14) is [11] and stime (15) is [12]
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  let fds = 0;
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    fds = -1;
  }
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? -1);
  let pssKb = -1;
  try {
    pssKb = Number(/^Pss:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? -1);
  } catch {
    // a kernel without smaps_rollup (< 4.14): no PSS
  }
  return { rssKb: rss ? Number(rss[1]) : -1, rssAnonKb: kb('RssAnon'), rssFileKb: kb('RssFile'), pssKb, cpuTicks, fds };
}

export const CLK_TCK = 100;

/** Our build, copied once at start so that a concurrent `npm run build` cannot pull it away mid-run. */
export interface DistSnapshot {
  root: string;
  shim: string;
  cli: string;
  built: Date;
}

/** `from`: another built tree (a checkout's dist/, with node_modules beside it), e.g. an older commit to compare with. */
export function snapshotDist(from = DIST): DistSnapshot {
  const shim = path.join(from, 'cni', 'dhcp');
  if (!fs.existsSync(shim)) throw new Error(`${shim} is missing: run \`npm run build\` first`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-dist-`));
  dirs.add(root);
  const built = fs.statSync(shim).mtime;
  fs.cpSync(from, path.join(root, 'dist'), { recursive: true });
  // the daemon bundle requires koffi (external): resolve it from the tree's node_modules
  fs.symlinkSync(path.join(path.dirname(from), 'node_modules'), path.join(root, 'node_modules'));
  const snap = { root, shim: path.join(root, 'dist', 'cni', 'dhcp'), cli: path.join(root, 'dist', 'bin', 'cni-dhcp'), built };
  for (const f of [snap.shim, snap.cli, path.join(root, 'dist', 'lib', 'daemon.js')]) if (!fs.existsSync(f)) throw new Error(`${f} missing from the copy of dist/ (a build running?)`);
  return snap;
}

/**
 * One copy of the topology. The bench builds two identical ones, `o` for our daemon and `r`
 * for the reference, so the two sides can take turns phase by phase (and share the CPU window
 * of (e)) without one DHCP server answering the other side's clients.
 */
export class BenchLab {
  readonly dir: string;
  readonly serverNs: string;
  readonly nodeNs: string;
  readonly bridge = 'cdbbr0';
  readonly serverIp = '198.18.0.1';
  readonly netName = 'cdb-bench';
  readonly cniPath: Record<Side, string>;
  readonly shim: string;
  readonly cli: string;
  serverMac = '';
  private serverLinkLocal: { ip: string; mac: string } | undefined;
  server: ChildProcess | undefined;
  serverLog = '';
  serverLeaseFile = '';
  private vethCounter = 0;

  private constructor(readonly tag: string, readonly dist: DistSnapshot) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-${tag}-`));
    dirs.add(this.dir);
    this.serverNs = `${PREFIX}-${tag}-srv`;
    this.nodeNs = `${PREFIX}-${tag}-node`;
    this.cniPath = { ours: path.join(this.dir, 'cni-ours'), ref: path.join(this.dir, 'cni-ref') };
    this.shim = dist.shim;
    this.cli = dist.cli;
  }

  static async create(tag: string, dist: DistSnapshot): Promise<BenchLab> {
    const lab = new BenchLab(tag, dist);
    await lab.build();
    return lab;
  }

  private async build(): Promise<void> {
    // one CNI_PATH per side: the real bridge plugin, and `dhcp` = our shim or the reference
    for (const side of ['ours', 'ref'] as const) {
      const d = this.cniPath[side];
      fs.mkdirSync(d);
      fs.symlinkSync(side === 'ours' ? this.shim : REF_DHCP, path.join(d, 'dhcp'));
      for (const p of ['bridge', 'host-local', 'loopback']) fs.symlinkSync(path.join(REF_CNI, p), path.join(d, p));
    }
    // registered first, so that the cleanup deletes them even if the build fails halfway
    namespaces.add(this.serverNs);
    namespaces.add(this.nodeNs);
    await buildSegment({ serverNs: this.serverNs, nodeNs: this.nodeNs, bridge: this.bridge, vethPrefix: `${TAG}${this.tag}${process.pid}`, serverCidr: `${this.serverIp}/21` });
    this.serverMac = (JSON.parse(await sh('ip', '-n', this.serverNs, '-j', 'link', 'show', 'srv0')) as Array<{ address: string }>)[0]?.address ?? '';
  }

  inNs(ns: string, cmd: string, ...args: string[]): Promise<string> {
    return sh('ip', 'netns', 'exec', ns, cmd, ...args);
  }

  podPath(pod: string): string {
    return `/var/run/netns/${pod}`;
  }

  /** Pod namespaces `cdb-<pid>-<tag>-p<i>`, each with lo up. */
  async addPods(n: number): Promise<string[]> {
    const pods: string[] = [];
    for (let i = 0; i < n; i++) {
      const pod = `${PREFIX}-${this.tag}-p${i}`;
      await addNs(pod);
      await sh('ip', '-n', pod, 'link', 'set', 'lo', 'up');
      pods.push(pod);
    }
    return pods;
  }

  /** Deletes every interface but lo from the pods, so the next side starts from empty pods. */
  async resetPods(pods: string[]): Promise<void> {
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < pods.length; i += 8) {
          const pod = pods[i] as string;
          const links = await run('ip', ['-n', pod, '-o', 'link', 'show']);
          for (const m of links.stdout.matchAll(/^\d+: ([^:@]+)[@:]/gm)) if (m[1] !== 'lo') await run('ip', ['-n', pod, 'link', 'del', m[1] as string]);
        }
      }),
    );
  }

  async deletePods(pods: string[]): Promise<void> {
    for (const p of pods) await delNs(p);
  }

  /** Fresh dnsmasq with an empty lease file; `extra` arguments (a DHCPv6 range) are appended. */
  async startDnsmasq(tag: string, extra: string[] = []): Promise<void> {
    await this.stopServer();
    this.serverLeaseFile = path.join(this.dir, `${tag}-dnsmasq.leases`);
    this.serverLog = path.join(this.dir, `${tag}-dnsmasq.log`);
    fs.rmSync(this.serverLeaseFile, { force: true });
    const args = [
      'netns', 'exec', this.serverNs, '/usr/sbin/dnsmasq', '--keep-in-foreground', '--no-ping', '--port=0', '--conf-file=/dev/null', '--user=root',
      '--interface=srv0', '--bind-interfaces', '--log-facility=-', '--dhcp-authoritative',
      '--dhcp-range=198.18.0.10,198.18.7.250,255.255.248.0,2m',
      '--dhcp-lease-max=4000',
      `--dhcp-leasefile=${this.serverLeaseFile}`,
      `--pid-file=${path.join(this.dir, `${tag}-dnsmasq.pid`)}`,
      '--dhcp-option=option:router,198.18.0.1',
      '--dhcp-option=option:dns-server,198.18.0.53',
      ...extra,
    ];
    this.server = startProcess('ip', args, this.serverLog);
    processes.add(this.server);
    await waitFor('dnsmasq to listen', async () => (await this.inNs(this.serverNs, 'ss', '-ulnH', 'sport = :67')).includes(':67') || undefined);
  }

  async stopServer(): Promise<void> {
    if (this.server) {
      await stopProcess(this.server);
      processes.delete(this.server);
    }
    this.server = undefined;
  }

  /**
   * Active leases in dnsmasq's lease file (expiry in the future). dnsmasq rewrites the file in
   * place (truncate, then write) on every change, ~17 times a second with 1000 leases renewing,
   * so a single read can catch it half-written: take the largest of a few reads.
   */
  async serverLeases(family?: 'ipv4' | 'ipv6'): Promise<number> {
    const counts = (ip: string | undefined) => family === undefined || (family === 'ipv6') === (ip ?? '').includes(':');
    let best = 0;
    for (let i = 0; i < 8; i++) {
      if (this.serverLeaseFile && fs.existsSync(this.serverLeaseFile)) {
        const now = Date.now() / 1000;
        const n = fs
          .readFileSync(this.serverLeaseFile, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '' && !l.startsWith('duid') && Number(l.split(' ')[0]) > now && counts(l.split(' ')[2])).length;
        best = Math.max(best, n);
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    return best;
  }

  /** Count of dnsmasq log lines matching re (e.g. DHCPACK). */
  serverLogCount(re: RegExp): number {
    if (!fs.existsSync(this.serverLog)) return 0;
    return fs.readFileSync(this.serverLog, 'utf8').split('\n').filter((l) => re.test(l)).length;
  }

  /**
   * Starts the daemon under test in the node ns. `ip netns exec` execs (no fork), so the child's
   * PID is the daemon itself; this is checked against /proc/PID/exe.
   */
  async startDaemon(side: Side, tag: string, opts: { stateDir?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<Daemon> {
    const socketPath = path.join(this.dir, `${tag}-run`, 'dhcp.sock');
    fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
    const stateDir = opts.stateDir ?? path.join(this.dir, `${tag}-state`);
    const logFile = path.join(this.dir, `${tag}-daemon.log`);
    const bin = side === 'ours' ? this.shim : REF_DHCP;
    // nodeArgs (profiling, flag experiments): run node on the shim explicitly, since its shebang
    // drops NODE_OPTIONS; after the shebang's own flags, so that a later one overrides it
    const argv0 = side === 'ours' && opts.nodeArgs ? [process.execPath, ...bundleNodeFlags(bin), ...opts.nodeArgs, bin] : [bin];
    const args = ['netns', 'exec', this.nodeNs, ...argv0, 'daemon', '-socketpath', socketPath];
    if (side === 'ours') args.push('--state-dir', stateDir);
    // a clean environment, as a system service gets (no NODE_EXTRA_CA_CERTS)
    const env = opts.env ?? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    const proc = startProcess('ip', args, logFile, env);
    processes.add(proc);
    await waitFor(`${side} daemon socket`, () => {
      if (proc.exitCode !== null) throw new Error(`${side} daemon exited ${proc.exitCode}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      return fs.existsSync(socketPath) || undefined;
    }, 20_000, 5);
    const pid = proc.pid as number;
    const exe = fs.readlinkSync(`/proc/${pid}/exe`);
    const expectExe = side === 'ours' ? fs.realpathSync(process.execPath) : REF_DHCP;
    if (exe !== expectExe) throw new Error(`PID ${pid} is ${exe}, not the ${side} daemon (${expectExe})`);
    return { side, proc, pid, socketPath, stateDir, logFile };
  }

  async stopDaemon(d: Daemon, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    await stopProcess(d.proc, graceMs, signal);
    processes.delete(d.proc);
  }

  netConfig(socketPath: string, cniVersion = '1.0.0'): Record<string, unknown> {
    return {
      cniVersion,
      name: this.netName,
      type: 'bridge',
      bridge: this.bridge,
      isGateway: false,
      ipMasq: false,
      ipam: { type: 'dhcp', daemonSocketPath: socketPath },
    };
  }

  /** Execs a CNI plugin (bridge, or dhcp alone) in the node ns as a runtime does, timed. */
  cni(side: Side, plugin: 'bridge' | 'dhcp', command: string, a: Attachment, socketPath: string, config?: Record<string, unknown>): Promise<CallResult> {
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_PATH: this.cniPath[side],
      CNI_CONTAINERID: a.containerId,
      CNI_NETNS: this.podPath(a.pod),
      CNI_IFNAME: a.ifname,
    };
    const bin = path.join(this.cniPath[side], plugin);
    return timed('ip', ['netns', 'exec', this.nodeNs, bin], env, JSON.stringify(config ?? this.netConfig(socketPath)));
  }

  /** The bridge plugin with host-local IPAM (no DHCP at all): the floor under (a) and (c). */
  hostLocalConfig(): Record<string, unknown> {
    return {
      cniVersion: '1.0.0',
      name: 'cdb-floor',
      type: 'bridge',
      bridge: this.bridge,
      isGateway: false,
      ipMasq: false,
      ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.16.0/20' }]], dataDir: path.join(this.dir, 'host-local') },
    };
  }

  /**
   * A veth pair per pod for the IPAM-alone figure: `eth1` up in the pod, the host end on the
   * bridge and up. Resolves once every pod end reports operstate UP and every bridge port
   * forwards, so the first DISCOVER is not lost to the kernel's link watcher.
   */
  async addUpLinks(pods: string[]): Promise<string[]> {
    const hosts: string[] = [];
    for (const pod of pods) {
      const host = `${TAG}v${this.vethCounter++}`;
      await sh('ip', 'link', 'add', host, 'netns', this.nodeNs, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', pod);
      await sh('ip', '-n', this.nodeNs, 'link', 'set', host, 'master', this.bridge);
      await sh('ip', '-n', this.nodeNs, 'link', 'set', host, 'up');
      await sh('ip', '-n', pod, 'link', 'set', 'eth1', 'up');
      hosts.push(host);
    }
    await waitFor('veth pairs to forward', async () => {
      const ports = await sh('bridge', '-n', this.nodeNs, 'link', 'show');
      for (const h of hosts) if (!new RegExp(`\\b${h}@\\S+.*state forwarding`).test(ports)) return undefined;
      for (const pod of pods) if (!/state UP/.test(await sh('ip', '-n', pod, 'link', 'show', 'eth1'))) return undefined;
      return true;
    }, 15_000, 50);
    return hosts;
  }

  async delLinks(hosts: string[]): Promise<void> {
    for (const h of hosts) await run('ip', ['-n', this.nodeNs, 'link', 'del', h]);
  }

  /**
   * Pins the ARP entries of held leases as PERMANENT: the server's entry for each pod address,
   * and each pod's entry for the server. The kernel's neighbour table is shared by every
   * namespace and holds at most gc_thresh3 = 1024 non-permanent entries; 1000 leases need ~2000
   * (the server resolves each client for a unicast ACK, each client resolves the server), and
   * past that the server's unicast renewal ACKs are dropped ("table_fulls" in
   * /proc/net/stat/arp_cache), for either daemon. Permanent entries do not count. The same is
   * done for both sides, outside every timed call, and only to our namespaces.
   */
  async pinNeighbours(entries: Array<{ pod: string; ifname: string; ip: string; mac: string }>): Promise<void> {
    if (entries.length === 0) return;
    const batch = entries.map((e) => `neigh replace ${e.ip} lladdr ${e.mac} dev srv0 nud permanent`).join('\n') + '\n';
    const r = await timed('ip', ['-n', this.serverNs, '-batch', '-'], process.env, batch);
    if (r.code !== 0) throw new Error(`pinning server neighbours: ${r.stderr}`);
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < entries.length; i += 8) {
          const e = entries[i] as { pod: string; ifname: string };
          await run('ip', ['-n', e.pod, 'neigh', 'replace', this.serverIp, 'lladdr', this.serverMac, 'dev', e.ifname, 'nud', 'permanent']);
        }
      }),
    );
  }

  /**
   * The IPv6 side of pinNeighbours, both directions as for ARP: the server's Neighbour Cache
   * entry for each pod's link-local address (DHCPv6 servers reply unicast to it), and each pod's
   * entry for the server's link-local address (the pod learns it from the server's Neighbour
   * Solicitation), PERMANENT. The kernel's ndisc table has the same 1024-entry gc_thresh3, shared
   * by every namespace: without both pins a dual-stack fill stalls near 500 pods with "ndisc_cache:
   * neighbor table overflow!" in the kernel log. Read from the pod, outside timed calls.
   */
  async pinNeighbours6(entries: Array<{ pod: string; ifname: string }>): Promise<void> {
    if (entries.length === 0) return;
    this.serverLinkLocal ??= linkLocalOf(await sh('ip', '-n', this.serverNs, '-j', 'addr', 'show', 'dev', 'srv0'));
    const server = this.serverLinkLocal;
    if (!server) throw new Error(`pinning IPv6 neighbours: srv0 in ${this.serverNs} has no link-local address`);
    const lines: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < entries.length; i += 8) {
          const e = entries[i] as { pod: string; ifname: string };
          const pod = linkLocalOf((await run('ip', ['-n', e.pod, '-j', 'addr', 'show', 'dev', e.ifname])).stdout);
          if (!pod) throw new Error(`pinning IPv6 neighbours: ${e.ifname} in ${e.pod} has no link-local address`);
          lines.push(`neigh replace ${pod.ip} lladdr ${pod.mac} dev srv0 nud permanent`);
          const r = await run('ip', ['-n', e.pod, 'neigh', 'replace', server.ip, 'lladdr', server.mac, 'dev', e.ifname, 'nud', 'permanent']);
          if (r.code !== 0) throw new Error(`pinning the server's IPv6 neighbour in ${e.pod}: ${r.stderr}`);
        }
      }),
    );
    const r = await timed('ip', ['-n', this.serverNs, '-batch', '-'], process.env, `${lines.join('\n')}\n`);
    if (r.code !== 0) throw new Error(`pinning server IPv6 neighbours: ${r.stderr}`);
  }

  /** Removes an interface left in a pod by a failed DEL. */
  async dropPodLink(pod: string, ifname: string): Promise<void> {
    await run('ip', ['-n', pod, 'link', 'del', ifname]);
  }
}
