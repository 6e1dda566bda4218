/**
 * Network namespace harness for @root tests. Everything it creates is registered and
 * removed by `cleanupNetns()` (call it from `after`, or use `useNetnsCleanup()`), and, as a
 * last resort, when the process exits. It never touches the root namespace's links,
 * addresses or routes, and it kills only processes it started, by PID.
 *
 * Namespaces are named `cdt-<prefix>-<pid>-<n>`, so parallel runs cannot collide and
 * leftovers of a crashed run (whose PID is dead) are swept on first use.
 * Addresses used inside them should come from 198.18.0.0/15 (RFC 2544 benchmarking).
 */
import { ChildProcess, execFileSync, spawn, spawnSync, SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestNetns {
  readonly name: string;
  /** /run/netns/<name>, what CNI_NETNS would be */
  readonly path: string;
  /** `ip -n <name> ...`; returns stdout, throws with stderr on failure */
  ip(...args: string[]): string;
  /** runs a command inside the namespace (nsenter --net), synchronously */
  exec(cmd: string, args?: string[]): string;
  /** starts a process inside the namespace; it is killed (by PID) at cleanup */
  spawn(cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess;
  sysctl(key: string, value: string | number): void;
  /** MAC of an interface in this namespace, "aa:bb:.." */
  mac(ifname: string): string;
}

const created: { netns: string[]; links: Array<{ ns: string; ifname: string }>; procs: ChildProcess[]; files: string[] } = {
  netns: [],
  links: [],
  procs: [],
  files: [],
};
let counter = 0;
let swept = false;

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Deletes cdt-* namespaces left by test processes that no longer exist. */
export function sweepStaleNetns(): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^cdt-.+-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || fs.existsSync(`/proc/${pid}`)) continue;
    deleteNetns(name);
  }
}

/**
 * PIDs of processes whose network namespace is the one mounted at /run/netns/<name>.
 * Only test processes live in cdt-* namespaces, so these are ours even when we did not
 * start them directly (a daemon that forked, or a process of a run that was SIGKILLed).
 */
function pidsInNetns(name: string): number[] {
  let ns: fs.Stats;
  try {
    ns = fs.statSync(`/run/netns/${name}`);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const st = fs.statSync(`/proc/${entry}/ns/net`);
      if (st.ino === ns.ino && st.dev === ns.dev) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to look at
    }
  }
  return pids;
}

function deleteNetns(name: string): void {
  for (const pid of pidsInNetns(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

export function createNetns(prefix: string): TestNetns {
  if (!/^[a-z0-9][a-z0-9-]{0,20}$/.test(prefix)) throw new Error(`bad netns prefix ${prefix}`);
  if (!swept) {
    swept = true;
    sweepStaleNetns();
  }
  const name = `cdt-${prefix}-${process.pid}-${counter++}`;
  run('ip', ['netns', 'add', name]);
  created.netns.push(name);
  const nsPath = `/run/netns/${name}`;
  const ns: TestNetns = {
    name,
    path: nsPath,
    ip: (...args) => run('ip', ['-n', name, ...args]),
    exec: (cmd, args = []) => run('nsenter', [`--net=${nsPath}`, '--', cmd, ...args]),
    spawn: (cmd, args = [], opts = {}) => {
      // nsenter execs the command, so the child's PID is the command's PID.
      const child = spawn('nsenter', [`--net=${nsPath}`, '--', cmd, ...args], { stdio: 'pipe', ...opts });
      created.procs.push(child);
      return child;
    },
    sysctl: (key, value) => {
      run('nsenter', [`--net=${nsPath}`, '--', 'sysctl', '-q', '-w', `${key}=${value}`]);
    },
    mac: (ifname) => {
      const out = run('ip', ['-n', name, '-j', 'link', 'show', 'dev', ifname]);
      const info = JSON.parse(out) as Array<{ address: string }>;
      const addr = info[0]?.address;
      if (!addr) throw new Error(`no MAC for ${ifname} in ${name}`);
      return addr;
    },
  };
  ns.ip('link', 'set', 'lo', 'up');
  return ns;
}

export interface VethEnd {
  ns: TestNetns;
  ifname: string;
  mac?: string;
  /** default true */
  up?: boolean;
}

/** A veth pair whose ends are created directly inside the two namespaces. */
export function createVeth(a: VethEnd, b: VethEnd): void {
  const args = ['link', 'add', a.ifname];
  if (a.mac) args.push('address', a.mac);
  args.push('type', 'veth', 'peer', 'name', b.ifname);
  if (b.mac) args.push('address', b.mac);
  args.push('netns', b.ns.name);
  a.ns.ip(...args);
  created.links.push({ ns: a.ns.name, ifname: a.ifname });
  for (const end of [a, b]) if (end.up ?? true) end.ns.ip('link', 'set', end.ifname, 'up');
}

export function createBridge(ns: TestNetns, name: string, ports: string[] = []): void {
  ns.ip('link', 'add', name, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  created.links.push({ ns: ns.name, ifname: name });
  for (const port of ports) ns.ip('link', 'set', port, 'master', name);
  ns.ip('link', 'set', name, 'up');
}

/** A fresh path under the temp directory, removed at cleanup (also when made a directory). */
export function tempFile(prefix: string): string {
  const file = path.join(os.tmpdir(), `cdt-${prefix}-${process.pid}-${counter++}`);
  created.files.push(file);
  return file;
}

function alive(p: ChildProcess): boolean {
  return p.pid !== undefined && p.exitCode === null && p.signalCode === null;
}

/** Kills one harness process by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(p: ChildProcess, graceMs = 2000): Promise<void> {
  if (!alive(p) || p.pid === undefined) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  process.kill(p.pid, 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
  if ((await Promise.race([exited, timer])) === 'timeout' && alive(p)) {
    process.kill(p.pid, 'SIGKILL');
    await exited;
  }
}

/** Removes everything created so far: processes, then links, then namespaces, then files. */
export async function cleanupNetns(): Promise<void> {
  const procs = created.procs.splice(0);
  await Promise.all(procs.map((p) => stopProcess(p)));
  cleanupSync();
}

function cleanupSync(): void {
  for (const p of created.procs.splice(0)) if (alive(p) && p.pid !== undefined) process.kill(p.pid, 'SIGKILL');
  // Links first: a namespace kept alive by an open socket would otherwise keep its veth.
  for (const l of created.links.splice(0).reverse()) {
    spawnSync('ip', ['-n', l.ns, 'link', 'del', l.ifname], { stdio: 'ignore' });
  }
  for (const ns of created.netns.splice(0).reverse()) deleteNetns(ns);
  for (const f of created.files.splice(0)) fs.rmSync(f, { force: true, recursive: true });
}

/** Registers `after(cleanupNetns)` in the calling describe block. */
export function useNetnsCleanup(): void {
  after(cleanupNetns);
}

process.on('exit', cleanupSync);

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface CapturedFrame {
  dstMac: string;
  srcMac: string;
  ethertype: number;
  /** everything after the Ethernet header */
  payload: Buffer;
}

export interface Capture {
  /** stops tcpdump and returns the frames it saw */
  stop(): Promise<CapturedFrame[]>;
}

/** `spawn` inside a namespace this helper did not create (a Lab's); the process is killed at cleanup. */
export function spawnerIn(name: string): Pick<TestNetns, 'spawn'> {
  return {
    spawn: (cmd, args = [], opts = {}) => {
      const child = spawn('nsenter', [`--net=/run/netns/${name}`, '--', cmd, ...args], { stdio: 'pipe', ...opts });
      created.procs.push(child);
      return child;
    },
  };
}

/** Starts tcpdump on `ifname` inside `ns`; resolves once it is listening. */
export async function startCapture(ns: Pick<TestNetns, 'spawn'>, ifname: string, filter: string[] = []): Promise<Capture> {
  const file = tempFile('pcap');
  const child = ns.spawn('tcpdump', ['-i', ifname, '-n', '-U', '--immediate-mode', '-s', '2048', '-w', file, ...filter]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(() => stderr.includes('listening on') || !alive(child), 10000, `tcpdump on ${ifname}`);
  if (!alive(child)) throw new Error(`tcpdump failed: ${stderr}`);
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 100));
      await stopProcess(child);
      return parsePcap(fs.readFileSync(file));
    },
  };
}

const hex = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** Ethernet frames from a classic little-endian pcap file. */
export function parsePcap(buf: Buffer): CapturedFrame[] {
  if (buf.length < 24) return [];
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('not a little-endian microsecond pcap file');
  if (buf.readUInt32LE(20) !== 1) throw new Error(`pcap link type ${buf.readUInt32LE(20)} is not Ethernet`);
  const frames: CapturedFrame[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const incl = buf.readUInt32LE(off + 8);
    const data = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (data.length < 14) continue;
    frames.push({
      dstMac: hex(data.subarray(0, 6)),
      srcMac: hex(data.subarray(6, 12)),
      ethertype: data.readUInt16BE(12),
      payload: Buffer.from(data.subarray(14)),
    });
  }
  return frames;
}
