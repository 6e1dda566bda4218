/**
 * A DHCP lab in network namespaces: a server namespace running a real DHCP server, a node
 * namespace running our daemon with a bridge that the server's veth is plugged into, and pod
 * namespaces created from the root namespace. Only 198.18.0.0/15 addresses, only inside the
 * lab's namespaces; everything is deleted by cleanup(), also after a failure.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { call } from '../../shared/rpc-client';
import { Method } from '../../shared/rpc-protocol';
import { buildSegment } from './segment';
import { run, sh, startProcess, stopProcess, waitFor, withJson, type RunResult } from './sh';

export const REPO = path.resolve(__dirname, '..', '..');
export const SHIM = path.join(REPO, 'dist', 'cni', 'dhcp');
export const REF_CNI = '/usr/lib/cni';

/**
 * The V8 flags a built executable's #! line gives node (scripts/build.mjs), for harnesses that
 * start a daemon as `node FLAGS FILE daemon` so that it runs as an installed one does.
 */
export function bundleNodeFlags(file: string): string[] {
  const first = fs.readFileSync(file, 'utf8').slice(0, 512).split('\n')[0] ?? '';
  const m = /^#!.* -u NODE_OPTIONS \S+((?: --[\w-]+(?:=\S+)?)*)$/.exec(first);
  return m?.[1] ? m[1].trim().split(' ') : [];
}

let counter = 0;

export interface DnsmasqOptions {
  leaseTime?: string;
  extra?: string[];
  rangeStart?: string;
  rangeEnd?: string;
  /** option 3; default the server's 198.18.0.1 */
  router?: string;
  /** --dhcp-authoritative (default on); off, dnsmasq NAKs a renewal of a lease it does not know */
  authoritative?: boolean;
}

export interface CniCall {
  plugin: string;
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
  pod?: string;
  containerId?: string;
  ifname?: string;
  config: Record<string, unknown>;
  args?: string;
}

export class Lab {
  readonly id: string;
  readonly dir: string;
  readonly serverNs: string;
  readonly nodeNs: string;
  readonly bridge: string;
  readonly cniPath: string;
  readonly socketPath: string;
  readonly stateDir: string;
  readonly serverIp = '198.18.0.1';
  private readonly pods = new Set<string>();
  private podSeq = 0;
  private vethSeq = 0;
  private readonly procs = new Set<ChildProcess>();
  daemon: ChildProcess | undefined;
  server: ChildProcess | undefined;
  leaseFile: string;

  private constructor(tag: string) {
    this.id = `${tag.slice(0, 4)}${process.pid % 10000}${counter++}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `cdt-${this.id}-`));
    this.serverNs = `cdt-${this.id}-srv`;
    this.nodeNs = `cdt-${this.id}-node`;
    this.bridge = `cb${this.id}`.slice(0, 15);
    this.cniPath = path.join(this.dir, 'cni-bin');
    this.socketPath = path.join(this.dir, 'run', 'dhcp.sock');
    this.stateDir = path.join(this.dir, 'state');
    this.leaseFile = path.join(this.dir, 'dnsmasq.leases');
  }

  /** Server ns (veth `srv0`, 198.18.0.1/24) ↔ bridge in the node ns. */
  static async create(tag: string): Promise<Lab> {
    const lab = new Lab(tag);
    try {
      await lab.build();
    } catch (err) {
      await lab.cleanup();
      throw err;
    }
    return lab;
  }

  private async build(): Promise<void> {
    if (!fs.existsSync(SHIM)) throw new Error(`${SHIM} is missing: run \`npm run build\` first`);
    fs.mkdirSync(this.cniPath);
    fs.symlinkSync(SHIM, path.join(this.cniPath, 'dhcp'));
    for (const p of ['bridge', 'macvlan', 'ipvlan', 'host-device', 'loopback']) fs.symlinkSync(path.join(REF_CNI, p), path.join(this.cniPath, p));
    await buildSegment({ serverNs: this.serverNs, nodeNs: this.nodeNs, bridge: this.bridge, vethPrefix: `cv${this.id}`, serverCidr: `${this.serverIp}/24` });
  }

  /** Registers a process for cleanup (servers started by other helpers). */
  track(child: ChildProcess): void {
    this.procs.add(child);
  }

  inNs(ns: string, cmd: string, ...args: string[]): Promise<string> {
    return sh('ip', 'netns', 'exec', ns, cmd, ...args);
  }

  podPath(pod: string): string {
    return `/var/run/netns/${pod}`;
  }

  async addPod(name?: string): Promise<string> {
    const pod = name ?? `cdt-${this.id}-p${this.podSeq++}`;
    await sh('ip', 'netns', 'add', pod);
    this.pods.add(pod);
    await sh('ip', 'netns', 'exec', pod, 'ip', 'link', 'set', 'lo', 'up');
    return pod;
  }

  /**
   * Gives `pod` an `eth1` on the lab bridge, left down, as a main plugin does before it calls
   * IPAM: for tests that exec our dhcp directly. Returns the bridge end's name (in the node ns).
   */
  async plugVeth(pod: string): Promise<string> {
    const host = `cp${this.id}${this.vethSeq++}`.slice(-15);
    await sh('ip', 'link', 'add', host, 'netns', this.nodeNs, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', pod);
    await this.inNs(this.nodeNs, 'ip', 'link', 'set', host, 'master', this.bridge);
    await this.inNs(this.nodeNs, 'ip', 'link', 'set', host, 'up');
    return host;
  }

  /**
   * Sets a port of the lab bridge (a plugVeth end) to learning once the kernel has made it
   * forwarding (a carrier change after this would reset it), and returns the call that makes it
   * forward again: a port that does not forward yet, on demand. Learning (2), not blocking (4):
   * with STP off the kernel puts a port set to blocking straight back to forwarding.
   */
  async holdPort(host: string): Promise<() => Promise<void>> {
    const state = async () => (JSON.parse(await this.inNs(this.nodeNs, 'bridge', '-j', 'link', 'show', 'dev', host)) as Array<{ state?: string }>)[0]?.state;
    await waitFor(`${host} to forward`, async () => ((await state()) === 'forwarding' ? true : undefined), 5000);
    await this.inNs(this.nodeNs, 'bridge', 'link', 'set', 'dev', host, 'state', '2');
    const now = await state();
    if (now !== 'learning') throw new Error(`${host} is ${now} after being set to learning`);
    return async () => {
      await this.inNs(this.nodeNs, 'bridge', 'link', 'set', 'dev', host, 'state', '3');
    };
  }

  /** Creates `n` pods and attaches them concurrently through the bridge plugin; asserts success. */
  async attachBridgePods(n: number): Promise<string[]> {
    const pods: string[] = [];
    for (let i = 0; i < n; i++) pods.push(await this.addPod());
    const rs = await Promise.all(pods.map((pod) => this.cni({ plugin: 'bridge', command: 'ADD', pod, config: this.bridgeConfig() })));
    rs.forEach((r, i) => {
      if (r.code !== 0) throw new Error(`bridge ADD of pod ${i} failed: ${r.stdout} ${r.stderr}`);
    });
    return pods;
  }

  async deletePod(pod: string): Promise<void> {
    await run('ip', ['netns', 'del', pod]);
    this.pods.delete(pod);
  }

  async startDnsmasq(opts: DnsmasqOptions = {}): Promise<void> {
    const args = [
      'netns', 'exec', this.serverNs, 'dnsmasq', '--keep-in-foreground', '--no-ping', '--port=0', '--conf-file=/dev/null', '--user=root',
      '--interface=srv0', '--bind-interfaces', '--log-dhcp', '--log-facility=-', ...(opts.authoritative === false ? [] : ['--dhcp-authoritative']),
      `--dhcp-range=${opts.rangeStart ?? '198.18.0.10'},${opts.rangeEnd ?? '198.18.0.250'},255.255.255.0,${opts.leaseTime ?? '2m'}`,
      `--dhcp-leasefile=${this.leaseFile}`,
      `--pid-file=${path.join(this.dir, 'dnsmasq.pid')}`,
      `--dhcp-option=option:router,${opts.router ?? '198.18.0.1'}`,
      '--dhcp-option=option:dns-server,198.18.0.53',
      '--dhcp-option=option:domain-name,lab.example',
      ...(opts.extra ?? []),
    ];
    this.server = startProcess('ip', args, path.join(this.dir, 'dnsmasq.log'));
    this.procs.add(this.server);
    await waitFor('dnsmasq to listen', async () => (await this.inNs(this.serverNs, 'ss', '-ulnH', 'sport = :67')).includes(':67') || undefined);
  }

  async stopServer(): Promise<void> {
    if (this.server) await stopProcess(this.server);
    this.server = undefined;
  }

  /** dnsmasq's lease file: one entry per active lease. */
  dnsmasqLeases(): Array<{ expiry: number; mac: string; ip: string; clientId: string }> {
    if (!fs.existsSync(this.leaseFile)) return [];
    return fs
      .readFileSync(this.leaseFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('duid'))
      .map((l) => {
        const [expiry, mac, ip, , clientId] = l.split(' ');
        return { expiry: Number(expiry), mac: mac ?? '', ip: ip ?? '', clientId: clientId ?? '' };
      });
  }

  async startDaemon(extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<ChildProcess> {
    const args = ['netns', 'exec', this.nodeNs, process.execPath, ...bundleNodeFlags(SHIM), SHIM, 'daemon', '-socketpath', this.socketPath, '--state-dir', this.stateDir, '--log-level', 'debug', ...extra];
    this.daemon = startProcess('ip', args, path.join(this.dir, 'daemon.log'), env);
    this.procs.add(this.daemon);
    const d = this.daemon;
    // a kill -9 leaves the old socket file behind: wait until the new daemon answers
    await waitFor('daemon to answer', async () => {
      if (d.exitCode !== null) throw new Error(`daemon exited ${d.exitCode}: ${this.daemonLog().slice(-2000)}`);
      await call(this.socketPath, Method.Status, {}, { timeoutMs: 1000 });
      return true;
    });
    return this.daemon;
  }

  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.daemon) await stopProcess(this.daemon, 3000, signal);
    this.daemon = undefined;
  }

  daemonLog(): string {
    const f = path.join(this.dir, 'daemon.log');
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
  }

  ipamConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { type: 'dhcp', daemonSocketPath: this.socketPath, ...extra };
  }

  bridgeConfig(cniVersion = '1.0.0', ipamExtra: Record<string, unknown> = {}): Record<string, unknown> {
    return { cniVersion, name: `lab-${this.id}`, type: 'bridge', bridge: this.bridge, isGateway: false, ipMasq: false, ipam: this.ipamConfig(ipamExtra) };
  }

  /** Execs a CNI plugin in the node namespace exactly as a runtime does. */
  async cni(call: CniCall): Promise<RunResult & { json: Record<string, unknown> | undefined }> {
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: call.command,
      CNI_PATH: this.cniPath,
    };
    if (call.containerId ?? call.pod) env.CNI_CONTAINERID = call.containerId ?? call.pod;
    if (call.pod) env.CNI_NETNS = this.podPath(call.pod);
    if (call.ifname ?? call.pod) env.CNI_IFNAME = call.ifname ?? 'eth1';
    if (call.args) env.CNI_ARGS = call.args;
    const bin = call.plugin === 'dhcp' ? SHIM : path.join(REF_CNI, call.plugin);
    const r = await run('ip', ['netns', 'exec', this.nodeNs, bin], { env, input: JSON.stringify(call.config), timeoutMs: 120_000 });
    return withJson(r);
  }

  async podAddr(pod: string, ifname = 'eth1'): Promise<string> {
    return sh('ip', '-n', pod, '-4', '-o', 'addr', 'show', 'dev', ifname);
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) await stopProcess(p, 2000).catch(() => undefined);
    this.procs.clear();
    for (const pod of this.pods) await run('ip', ['netns', 'del', pod]);
    this.pods.clear();
    await run('ip', ['netns', 'del', this.serverNs]);
    await run('ip', ['netns', 'del', this.nodeNs]);
    if (process.env.CDT_KEEP_LOGS !== '1') fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
