/**
 * A real 3-member etcd cluster (Debian's etcd-server 3.4) for @root tests and the bench.
 *
 * Two layouts:
 * - default: every member on 127.0.0.1, client and peer ports found free at run time (bind
 *   port 0, so parallel runs of other tests cannot collide), in the root namespace;
 * - `isolated`: every member in its own network namespace, peers joined by veths to a bridge
 *   in a hub namespace (198.18.0.10+i), so `partition(i)` can drop one member's traffic by
 *   taking its veth down. Clients then reach each member through a Unix socket in its data
 *   directory: a socket file is reachable from any namespace, so the test process needs no
 *   route into the lab and the root namespace is never touched.
 *
 * Every process is stopped by PID and every data directory removed by `close()`, and, as a
 * last resort, when the test process exits (netns.ts removes the namespaces then).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBridge, createNetns, createVeth, type TestNetns } from './netns';
import type { TestCerts } from './tls-certs';

export const ETCD = '/usr/bin/etcd';

export interface EtcdMember {
  readonly index: number;
  readonly name: string;
  /** what a client dials: http://127.0.0.1:P, or unix:///…/client.sock:1 when isolated */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dir: string;
  proc: ChildProcess | undefined;
  readonly ns: TestNetns | undefined;
}

export interface EtcdClusterOptions {
  /** each member in its own namespace, so one can be cut off (`partition`) */
  isolated?: boolean;
  /** namespace prefix; default "wae" */
  prefix?: string;
  size?: number;
  /** clients speak TLS and must show a certificate signed by `tls.ca` (not with `isolated`) */
  tls?: TestCerts;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
});

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function unixPath(url: string): string | undefined {
  return url.startsWith('unix://') ? url.slice('unix://'.length) : undefined;
}

/** POST to etcd's JSON gateway (/v3/...) or GET /health on one member, over TCP or its socket. */
function gateway(member: EtcdMember, tls: TestCerts | undefined, urlPath: string, body?: unknown, timeoutMs = 2000): Promise<unknown> {
  const sock = unixPath(member.clientUrl);
  const u = sock ? undefined : new URL(member.clientUrl);
  const request = tls ? https.request : http.request;
  // servername '' : an IP is no SNI name (Node warns otherwise); the certificate names the IP
  const creds = tls ? { ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.clientCert), key: fs.readFileSync(tls.clientKey), servername: '' } : {};
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...creds,
        ...(sock ? { socketPath: sock } : { host: u!.hostname, port: u!.port }),
        path: urlPath,
        method: body === undefined ? 'GET' : 'POST',
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () => {
          try {
            resolve(JSON.parse(data));
          } catch {
            reject(new Error(`${member.name}: ${urlPath} answered ${res.statusCode}: ${data.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${member.name}: ${urlPath} timed out`)));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export class EtcdCluster {
  private hub: TestNetns | undefined;

  private constructor(
    readonly members: EtcdMember[],
    readonly root: string,
    private readonly initialCluster: string,
    private readonly token: string,
    private readonly tls: TestCerts | undefined,
  ) {}

  static async start(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const size = opts.size ?? 3;
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `cdt-${opts.prefix ?? 'wae'}-etcd-${process.pid}-`));
    const members: EtcdMember[] = [];
    let hub: TestNetns | undefined;
    if (opts.isolated && opts.tls) throw new Error('an isolated cluster speaks plain gRPC on its sockets');
    if (opts.isolated) {
      hub = createNetns(`${opts.prefix ?? 'wae'}-hub`);
      createBridge(hub, 'br0');
    }
    for (let i = 0; i < size; i++) {
      const dir = path.join(root, `m${i}`);
      fs.mkdirSync(dir);
      let ns: TestNetns | undefined;
      let clientUrl: string;
      let peerUrl: string;
      if (hub) {
        ns = createNetns(`${opts.prefix ?? 'wae'}-m${i}`);
        createVeth({ ns: hub, ifname: `m${i}` }, { ns, ifname: 'eth0' });
        hub.ip('link', 'set', `m${i}`, 'master', 'br0');
        ns.ip('addr', 'add', `198.18.0.${10 + i}/24`, 'dev', 'eth0');
        // etcd wants host:port even for a socket; the socket file is "client.sock:1" in its cwd
        clientUrl = `unix://${dir}/client.sock:1`;
        peerUrl = `http://198.18.0.${10 + i}:2380`;
      } else {
        clientUrl = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${await freePort()}`;
        peerUrl = `http://127.0.0.1:${await freePort()}`;
      }
      members.push({ index: i, name: `m${i}`, clientUrl, peerUrl, dir, proc: undefined, ns });
    }
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const cluster = new EtcdCluster(members, root, initialCluster, `wae-${process.pid}-${Date.now()}`, opts.tls);
    cluster.hub = hub;
    try {
      for (const m of members) cluster.launch(m);
      await cluster.waitHealthy();
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** client URLs of the given members (default all), what a store's endpoints are */
  endpoints(indices: number[] = this.members.map((m) => m.index)): string[] {
    return indices.map((i) => this.member(i).clientUrl);
  }

  member(i: number): EtcdMember {
    const m = this.members[i];
    if (!m) throw new Error(`no etcd member ${i}`);
    return m;
  }

  private launch(m: EtcdMember): void {
    const local = unixPath(m.clientUrl) ? 'unix://client.sock:1' : m.clientUrl;
    const args = [
      `--name=${m.name}`,
      `--data-dir=${path.join(m.dir, 'data')}`,
      `--listen-client-urls=${local}`,
      `--advertise-client-urls=${local}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${this.initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${this.token}`,
      '--logger=zap',
      '--log-level=warn',
    ];
    if (this.tls) {
      args.push(`--cert-file=${this.tls.serverCert}`, `--key-file=${this.tls.serverKey}`, `--trusted-ca-file=${this.tls.ca}`, '--client-cert-auth');
    }
    const log = fs.openSync(path.join(m.dir, 'etcd.log'), 'a');
    const stdio: ['ignore', number, number] = ['ignore', log, log];
    const proc = m.ns ? m.ns.spawn(ETCD, args, { cwd: m.dir, stdio }) : spawn(ETCD, args, { cwd: m.dir, stdio });
    fs.closeSync(log);
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    m.proc = proc;
  }

  running(i: number): boolean {
    const p = this.member(i).proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** every running member answers /health true (so the cluster has a leader and quorum) */
  async waitHealthy(timeoutMs = 60_000, indices?: number[]): Promise<void> {
    const want = indices ?? this.members.filter((m) => this.running(m.index)).map((m) => m.index);
    const end = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const answers = await Promise.all(
        want.map((i) =>
          gateway(this.member(i), this.tls, '/health').then(
            (r) => ((r as { health?: string }).health === 'true' ? '' : `m${i}: ${JSON.stringify(r)}`),
            (e: Error) => `m${i}: ${e.message}`,
          ),
        ),
      );
      last = answers.filter(Boolean).join('; ');
      if (!last) return;
      for (const i of want) if (!this.running(i)) throw new Error(`etcd m${i} exited: ${this.log(i).slice(-2000)}`);
      if (Date.now() > end) throw new Error(`etcd cluster not healthy after ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** the index of the member that leads now, asked of the running members */
  async leader(timeoutMs = 30_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const m of this.members) {
        if (!this.running(m.index)) continue;
        try {
          const st = (await gateway(m, this.tls, '/v3/maintenance/status', {})) as { header?: { member_id?: string }; leader?: string };
          if (st.leader && st.leader !== '0' && st.leader === st.header?.member_id) return m.index;
        } catch {
          // this member cannot answer now; ask the next
        }
      }
      if (Date.now() > end) throw new Error(`no etcd leader after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL one member; resolves once it is gone */
  async kill(i: number): Promise<void> {
    const p = this.member(i).proc;
    if (!p || !this.running(i) || p.pid === undefined) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    process.kill(p.pid, 'SIGKILL');
    await gone;
  }

  async killLeader(): Promise<number> {
    const i = await this.leader();
    await this.kill(i);
    return i;
  }

  /** starts a stopped member again on its data directory; waits until it is healthy */
  async restart(i: number): Promise<void> {
    if (this.running(i)) return;
    this.launch(this.member(i));
    await this.waitHealthy(60_000, [i]);
  }

  /** stops every member except `keep`: the cluster has no quorum until they are restarted */
  async loseQuorum(keep = 0): Promise<number[]> {
    const stopped = this.members.map((m) => m.index).filter((i) => i !== keep);
    for (const i of stopped) await this.kill(i);
    return stopped;
  }

  /** cuts member i off from the others (its veth down); isolated clusters only */
  partition(i: number): void {
    if (!this.hub) throw new Error('partition needs an isolated cluster');
    this.hub.ip('link', 'set', `m${i}`, 'down');
  }

  heal(i: number): void {
    if (!this.hub) throw new Error('heal needs an isolated cluster');
    this.hub.ip('link', 'set', `m${i}`, 'up');
  }

  /** creates `root` and a user, grants it the root role, and turns auth on */
  async enableAuth(user: string, password: string): Promise<void> {
    const m = this.members.find((x) => this.running(x.index));
    if (!m) throw new Error('no etcd member running');
    const must = async (p: string, body: unknown): Promise<void> => {
      const r = (await gateway(m, this.tls, p, body)) as { error?: string };
      if (r.error) throw new Error(`${p}: ${r.error}`);
    };
    await must('/v3/auth/user/add', { name: 'root', password: `${password}-root` });
    await must('/v3/auth/user/grant', { user: 'root', role: 'root' });
    await must('/v3/auth/user/add', { name: user, password });
    await must('/v3/auth/user/grant', { user, role: 'root' });
    await must('/v3/auth/enable', {});
  }

  log(i: number): string {
    try {
      return fs.readFileSync(path.join(this.member(i).dir, 'etcd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.index)));
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
