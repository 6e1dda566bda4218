/**
 * A scriptable, deliberately misbehaving DHCP server for the rogue-server tests, plus the lab
 * plumbing around it (a second server namespace on the lab bridge, pods plugged into it).
 *
 * The server half of this file is a script: `ip netns exec <ns> node --require tsx/cjs
 * fake-dhcp-server.ts <config.json>`. It binds UDP 0.0.0.0:67 inside its own namespace, decodes
 * each request with our codec and answers by broadcast to 255.255.255.255:68, as the config's
 * behaviour says (wrong xid, wrong chaddr, NAK everything, options left out, delays, silence...).
 * Every packet it receives or sends is logged as one JSON line, so a test can check that the
 * rogue really did send what the daemon is expected to ignore.
 */
import type { ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeMessage, encodeMessage } from '../../daemon/dhcp4/message-codec';
import { bufferToIp, ipToBuffer, ipToUint32, uint32ToIp } from '../../daemon/dhcp4/addr';
import { BootOp, MessageType, Opt, type DhcpMessage } from '../../daemon/dhcp4/types';
import type { Lab } from './lab';
import { run, sh, startProcess, stopProcess, waitFor } from './sh';

export interface FakeBehaviour {
  /** answer a DISCOVER with an OFFER */
  offer: boolean;
  offerDelayMs?: number;
  /** what a REQUEST gets */
  request: 'ack' | 'nak' | 'ignore';
  /** 'mine' (default): only REQUESTs naming us in option 54, or without 54; 'any': every REQUEST */
  requestScope?: 'mine' | 'any';
  requestDelayMs?: number;
  /** every reply carries the client's xid + 1 */
  wrongXid?: boolean;
  /** every reply carries a chaddr that is not the client's */
  wrongChaddr?: boolean;
  /** option codes left out of OFFERs / ACKs */
  omitFromOffer?: number[];
  omitFromAck?: number[];
}

export const BEHAVIOURS = {
  normal: { offer: true, request: 'ack' },
  silent: { offer: false, request: 'ignore' },
  'wrong-xid': { offer: true, request: 'ack', wrongXid: true },
  'wrong-chaddr': { offer: true, request: 'ack', wrongChaddr: true },
  'nak-everything': { offer: false, request: 'nak', requestScope: 'any' },
  'offer-then-nak': { offer: true, request: 'nak' },
  'ack-without-mask': { offer: true, request: 'ack', omitFromAck: [Opt.SUBNET_MASK] },
  'ack-without-server-id': { offer: true, request: 'ack', omitFromAck: [Opt.SERVER_ID] },
  /** offers late and NAKs every REQUEST, also those meant for another server */
  'late-offer-nak-all': { offer: true, offerDelayMs: 300, request: 'nak', requestScope: 'any' },
} satisfies Record<string, FakeBehaviour>;
export type BehaviourName = keyof typeof BEHAVIOURS;

export interface FakeServerConfig {
  /** option 54, and the address of the server's interface */
  serverId: string;
  /** first address handed out; each new chaddr gets the next one */
  poolStart: string;
  subnetMask?: string;
  router?: string;
  leaseTime?: number;
  behaviour: FakeBehaviour;
}

export interface FakeEvent {
  t: number;
  ev: 'listening' | 'rx' | 'tx' | 'error';
  type?: number;
  xid?: number;
  chaddr?: string;
  yiaddr?: string;
  requested?: string;
  serverId?: string;
  err?: string;
}

const TYPE: Record<number, string> = { 1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM' };
export const typeName = (t: number | undefined): string => TYPE[t ?? 0] ?? String(t);

// ---- the server (runs in its namespace) ---------------------------------------------------

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function emit(e: Omit<FakeEvent, 't'>): void {
  process.stdout.write(JSON.stringify({ t: Date.now(), ...e }) + '\n');
}

function serve(config: FakeServerConfig): void {
  const b = config.behaviour;
  const leases = new Map<string, string>();
  let next = ipToUint32(config.poolStart);
  const addressFor = (chaddr: Buffer): string => {
    const k = chaddr.toString('hex');
    let a = leases.get(k);
    if (a === undefined) {
      a = uint32ToIp(next++);
      leases.set(k, a);
    }
    return a;
  };
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  sock.on('error', (err) => emit({ ev: 'error', err: err.message }));

  const reply = (req: DhcpMessage, type: number, yiaddr: string, omit: number[] = []): void => {
    const options = new Map<number, Buffer>();
    options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
    options.set(Opt.SERVER_ID, ipToBuffer(config.serverId));
    if (type === MessageType.NAK) {
      options.set(Opt.MESSAGE, Buffer.from('fake server says no'));
    } else {
      options.set(Opt.SUBNET_MASK, ipToBuffer(config.subnetMask ?? '255.255.255.0'));
      if (config.router) options.set(Opt.ROUTERS, ipToBuffer(config.router));
      options.set(Opt.LEASE_TIME, u32(config.leaseTime ?? 3600));
    }
    for (const o of omit) options.delete(o);
    const chaddr = Buffer.from(req.chaddr);
    if (b.wrongChaddr) chaddr[chaddr.length - 1] = (chaddr[chaddr.length - 1]! ^ 0x5a) & 0xff;
    const msg: DhcpMessage = {
      op: BootOp.REPLY,
      htype: 1,
      hlen: chaddr.length,
      hops: 0,
      xid: b.wrongXid ? (req.xid + 1) >>> 0 : req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: '0.0.0.0',
      yiaddr: type === MessageType.NAK ? '0.0.0.0' : yiaddr,
      siaddr: config.serverId,
      giaddr: '0.0.0.0',
      chaddr,
      sname: '',
      file: '',
      options,
    };
    sock.send(encodeMessage(msg), 68, '255.255.255.255', (err) => {
      if (err) emit({ ev: 'error', err: err.message });
      else emit({ ev: 'tx', type, xid: msg.xid, chaddr: chaddr.toString('hex'), yiaddr: msg.yiaddr });
    });
  };
  const later = (ms: number | undefined, fn: () => void): void => {
    if (ms) setTimeout(fn, ms);
    else fn();
  };

  sock.on('message', (buf) => {
    let req: DhcpMessage;
    try {
      req = decodeMessage(buf);
    } catch (err) {
      emit({ ev: 'error', err: `undecodable request: ${(err as Error).message}` });
      return;
    }
    if (req.op !== BootOp.REQUEST) return;
    const type = req.options.get(Opt.MESSAGE_TYPE)?.[0];
    const sid = req.options.get(Opt.SERVER_ID);
    const rq = req.options.get(Opt.REQUESTED_IP);
    const e: Omit<FakeEvent, 't'> = { ev: 'rx', xid: req.xid, chaddr: req.chaddr.toString('hex') };
    if (type !== undefined) e.type = type;
    if (sid?.length === 4) e.serverId = bufferToIp(sid);
    if (rq?.length === 4) e.requested = bufferToIp(rq);
    emit(e);
    if (type === MessageType.DISCOVER) {
      if (b.offer) later(b.offerDelayMs, () => reply(req, MessageType.OFFER, addressFor(req.chaddr), b.omitFromOffer));
    } else if (type === MessageType.REQUEST) {
      const forUs = e.serverId === undefined || e.serverId === config.serverId;
      if (b.request === 'ignore' || (!forUs && (b.requestScope ?? 'mine') === 'mine')) return;
      const address = e.requested ?? (req.ciaddr !== '0.0.0.0' ? req.ciaddr : addressFor(req.chaddr));
      later(b.requestDelayMs, () => reply(req, b.request === 'ack' ? MessageType.ACK : MessageType.NAK, address, b.omitFromAck));
    }
  });
  sock.bind(67, '0.0.0.0', () => {
    sock.setBroadcast(true);
    emit({ ev: 'listening' });
  });
  const stop = () => sock.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: fake-dhcp-server.ts <config.json>\n');
    process.exit(2);
  }
  serve(JSON.parse(fs.readFileSync(file, 'utf8')) as FakeServerConfig);
}

// ---- the test side ------------------------------------------------------------------------

let serial = 0;

export class FakeDhcpServer {
  private constructor(
    readonly name: string,
    readonly config: FakeServerConfig,
    private readonly proc: ChildProcess,
    private readonly logFile: string,
  ) {}

  /**
   * Starts a fake server in namespace `ns`, whose interface `iface` holds config.serverId. A
   * default route via that interface is added there: without one, Linux refuses to send to
   * 255.255.255.255 from a socket bound to 0.0.0.0 (ENETUNREACH).
   */
  static async start(lab: Lab, ns: string, iface: string, config: FakeServerConfig): Promise<FakeDhcpServer> {
    const name = `fake${serial++}`;
    await sh('ip', '-n', ns, 'route', 'replace', 'default', 'dev', iface);
    const cfgFile = path.join(lab.dir, `${name}.json`);
    const logFile = path.join(lab.dir, `${name}.log`);
    fs.writeFileSync(cfgFile, JSON.stringify(config));
    const proc = startProcess('ip', ['netns', 'exec', ns, process.execPath, '--require', require.resolve('tsx/cjs'), __filename, cfgFile], logFile);
    lab.track(proc);
    const server = new FakeDhcpServer(name, config, proc, logFile);
    await waitFor(`${name} to listen`, () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}: ${fs.readFileSync(logFile, 'utf8')}`);
      return server.events().some((e) => e.ev === 'listening') || undefined;
    });
    return server;
  }

  events(): FakeEvent[] {
    if (!fs.existsSync(this.logFile)) return [];
    const out: FakeEvent[] = [];
    for (const line of fs.readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as FakeEvent);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** replies sent, optionally of one message type */
  sent(type?: number): FakeEvent[] {
    return this.events().filter((e) => e.ev === 'tx' && (type === undefined || e.type === type));
  }

  received(type?: number): FakeEvent[] {
    return this.events().filter((e) => e.ev === 'rx' && (type === undefined || e.type === type));
  }

  rawLog(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc, 2000);
  }
}

/** A second server namespace (`srv0` with `ip`/24) plugged into the lab bridge; delete() removes it. */
export interface ServerNs {
  ns: string;
  iface: string;
  ip: string;
  delete(): Promise<void>;
}

export async function addServerNs(lab: Lab, ip: string, tag = 'b'): Promise<ServerNs> {
  const ns = `cdt-${lab.id}-srv${tag}`;
  const v = `cr${lab.id}`.slice(0, 13) + tag.slice(0, 1);
  await sh('ip', 'netns', 'add', ns);
  const del = async () => {
    await run('ip', ['netns', 'del', ns]);
  };
  try {
    await sh('ip', 'link', 'add', `${v}n`, 'netns', lab.nodeNs, 'type', 'veth', 'peer', 'name', `${v}s`, 'netns', ns);
    await sh('ip', '-n', ns, 'link', 'set', `${v}s`, 'name', 'srv0');
    await sh('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'srv0');
    await sh('ip', '-n', ns, 'link', 'set', 'srv0', 'up');
    await sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    await sh('ip', '-n', lab.nodeNs, 'link', 'set', `${v}n`, 'master', lab.bridge);
    await sh('ip', '-n', lab.nodeNs, 'link', 'set', `${v}n`, 'up');
    await waitFor('second server port forwarding', async () => /state forwarding/.test(await sh('bridge', '-n', lab.nodeNs, 'link', 'show', 'dev', `${v}n`)) || undefined, 5000, 20);
    await waitFor('second server link UP', async () => /state UP/.test(await sh('ip', '-n', ns, 'link', 'show', 'srv0')) || undefined, 5000, 20);
  } catch (err) {
    await del();
    throw err;
  }
  return { ns, iface: 'srv0', ip, delete: del };
}

/**
 * Gives `pod` an `eth1` whose peer is in the node namespace: on the lab bridge, or, with
 * onBridge false, on no segment at all (nobody answers). Unlike a main plugin, this sets the
 * link up and waits until the kernel's link watcher has settled both ends (operstate UP, bridge
 * port forwarding), so each ADD starts on a settled link: these tests are about the servers'
 * replies, not about link bring-up (cni-verbs and the bridge tests cover that).
 */
export async function plugPod(lab: Lab, pod: string, n: number, onBridge = true): Promise<void> {
  const host = `cy${lab.id}${n}`.slice(0, 15);
  await sh('ip', 'link', 'add', host, 'netns', lab.nodeNs, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', pod);
  if (onBridge) await sh('ip', '-n', lab.nodeNs, 'link', 'set', host, 'master', lab.bridge);
  await sh('ip', '-n', lab.nodeNs, 'link', 'set', host, 'up');
  await sh('ip', '-n', pod, 'link', 'set', 'eth1', 'up');
  await waitFor(`${host} and its peer operstate UP`, async () => {
    const both = /state UP/.test(await sh('ip', '-n', lab.nodeNs, 'link', 'show', host)) && /state UP/.test(await sh('ip', '-n', pod, 'link', 'show', 'eth1'));
    if (!both || !onBridge) return both || undefined;
    return /state forwarding/.test(await sh('bridge', '-n', lab.nodeNs, 'link', 'show', 'dev', host)) || undefined;
  }, 5000, 10);
}
