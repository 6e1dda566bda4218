/**
 * A node for the whereabouts tests: a namespace with a bridge and a macvlan master, our
 * whereabouts daemon running in it on a file store, and pods (namespaces) attached through
 * the reference bridge or macvlan plugin, which exec dist/cni/whereabouts as a runtime has
 * them do. Everything lives in namespaces made here and is removed by cleanupNetns().
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { call } from '../../shared/rpc-client';
import { WB_DAEMON, WbMethod, type WbAllocationView } from '../../shared/whereabouts-protocol';
import { cleanupNetns, createBridge, createNetns, type TestNetns } from './netns';
import { bundleNodeFlags, REF_CNI, REPO } from './lab';
import { requireRootTools, run, stopProcess, waitFor, withJson, type RunResult } from './sh';

export const WB_SHIM = path.join(REPO, 'dist', 'cni', 'whereabouts');

export interface WbCall {
  plugin: 'whereabouts' | 'bridge' | 'macvlan';
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC';
  pod?: TestNetns;
  containerId?: string;
  ifname?: string;
  args?: string;
  config: Record<string, unknown> | string;
}

export interface WhereaboutsLabOptions {
  /** names every namespace and link (default "wac") */
  prefix?: string;
  /** more daemon flags */
  daemonArgs?: string[];
}

export class WhereaboutsLab {
  readonly dir: string;
  readonly node: TestNetns;
  readonly bridge: string;
  readonly master: string;
  readonly prefix: string;
  daemonArgs: string[];
  readonly socketPath: string;
  readonly stateDir: string;
  readonly cniPath: string;
  daemon: ChildProcess | undefined;
  private podSeq = 0;

  constructor(opts: WhereaboutsLabOptions = {}) {
    if (!fs.existsSync(WB_SHIM)) throw new Error(`${WB_SHIM} is missing: run \`npm run build\` first`);
    this.prefix = opts.prefix ?? 'wac';
    this.daemonArgs = opts.daemonArgs ?? [];
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `cdt-${this.prefix}-`));
    this.socketPath = path.join(this.dir, 'run', 'whereabouts.sock');
    this.stateDir = path.join(this.dir, 'state');
    this.cniPath = path.join(this.dir, 'bin');
    this.bridge = `${this.prefix}br0`;
    this.master = `${this.prefix}mv0`;
    this.node = createNetns(this.prefix);
    createBridge(this.node, this.bridge);
    this.node.ip('link', 'add', this.master, 'type', 'veth', 'peer', 'name', `${this.master}p`);
    this.node.ip('link', 'set', this.master, 'up');
    this.node.ip('link', 'set', `${this.master}p`, 'up');
    fs.mkdirSync(this.cniPath);
    fs.symlinkSync(WB_SHIM, path.join(this.cniPath, 'whereabouts'));
    for (const p of ['bridge', 'macvlan', 'loopback']) fs.symlinkSync(path.join(REF_CNI, p), path.join(this.cniPath, p));
  }

  pod(): TestNetns {
    this.podSeq++;
    return createNetns(`${this.prefix}p`);
  }

  async startDaemon(): Promise<ChildProcess> {
    const log = fs.openSync(path.join(this.dir, 'daemon.log'), 'a');
    const d = this.node.spawn(process.execPath, [...bundleNodeFlags(WB_SHIM), WB_SHIM, 'daemon', '-socketpath', this.socketPath, '--state-dir', this.stateDir, '--node-name', `${this.prefix}-node`, '--log-level', 'debug', ...this.daemonArgs], {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.daemon = d;
    await waitFor('whereabouts daemon to answer', async () => {
      if (d.exitCode !== null || d.signalCode !== null) throw new Error(`daemon exited: ${this.daemonLog().slice(-2000)}`);
      await this.allocations();
      return true;
    }, 20_000, 50);
    return d;
  }

  async kill9(): Promise<void> {
    const d = this.daemon;
    if (!d?.pid) return;
    const exited = new Promise((r) => d.once('exit', r));
    process.kill(d.pid, 'SIGKILL');
    await exited;
    this.daemon = undefined;
  }

  async stopDaemon(): Promise<void> {
    if (this.daemon) await stopProcess(this.daemon);
    this.daemon = undefined;
  }

  daemonLog(): string {
    const f = path.join(this.dir, 'daemon.log');
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
  }

  allocations(): Promise<WbAllocationView[]> {
    return call<WbAllocationView[]>(this.socketPath, WbMethod.Allocations, {}, { ...WB_DAEMON, timeoutMs: 10_000 });
  }

  ipam(extra: Record<string, unknown>): Record<string, unknown> {
    return { type: 'whereabouts', daemonSocketPath: this.socketPath, configuration_path: path.join(this.dir, 'no-flat-file.conf'), ...extra };
  }

  bridgeConfig(name: string, ipam: Record<string, unknown>, cniVersion = '1.0.0'): Record<string, unknown> {
    return { cniVersion, name, type: 'bridge', bridge: this.bridge, isGateway: false, ipMasq: false, ipam: this.ipam(ipam) };
  }

  macvlanConfig(name: string, ipam: Record<string, unknown>, cniVersion = '1.0.0'): Record<string, unknown> {
    return { cniVersion, name, type: 'macvlan', master: this.master, mode: 'bridge', ipam: this.ipam(ipam) };
  }

  /** `cniVersion` 1.1.0 for GC and STATUS (the reference bridge and macvlan speak up to 1.0.0) */
  v11(config: Record<string, unknown>): Record<string, unknown> {
    return { ...config, cniVersion: '1.1.0' };
  }

  /** Execs a plugin in the node namespace as a runtime does (clean env, config on stdin). */
  async cni(c: WbCall): Promise<RunResult & { json: Record<string, unknown> | undefined }> {
    const env: NodeJS.ProcessEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: c.command, CNI_PATH: this.cniPath };
    const cid = c.containerId ?? c.pod?.name;
    if (cid) env.CNI_CONTAINERID = cid;
    // whereabouts itself never enters the netns; a direct call still needs one, as for any ADD
    env.CNI_NETNS = c.pod?.path ?? this.node.path;
    if (c.ifname ?? c.pod) env.CNI_IFNAME = c.ifname ?? 'eth1';
    if (c.args) env.CNI_ARGS = c.args;
    const bin = c.plugin === 'whereabouts' ? WB_SHIM : path.join(REF_CNI, c.plugin);
    const input = typeof c.config === 'string' ? c.config : JSON.stringify(c.config);
    const r = await run('ip', ['netns', 'exec', this.node.name, bin], { env, input, timeoutMs: 180_000 });
    return withJson(r);
  }

  cleanup(): void {
    if (process.env.CDT_KEEP_LOGS !== '1') fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function ipsOf(r: { json: Record<string, unknown> | undefined }): string[] {
  return ((r.json?.ips as Array<{ address: string }> | undefined) ?? []).map((i) => i.address);
}

export function podArgs(name: string, ns = 'default'): string {
  // as a runtime sends them: the reference plugins refuse unknown args without IgnoreUnknown
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name}`;
}

/** Registers before/after in the calling describe: a lab with its daemon running, removed afterwards. */
export function useWhereaboutsLab(opts: WhereaboutsLabOptions = {}): () => WhereaboutsLab {
  let lab: WhereaboutsLab | undefined;
  before(async function () {
    requireRootTools(this, [path.join(REF_CNI, 'bridge'), path.join(REF_CNI, 'macvlan'), '/usr/sbin/ip']);
    lab = new WhereaboutsLab(opts);
    await lab.startDaemon();
  });
  after(async () => {
    await lab?.stopDaemon();
    await cleanupNetns();
    lab?.cleanup();
  });
  return () => lab as WhereaboutsLab;
}
