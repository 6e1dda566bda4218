/**
 * Captures real DHCPv6 replies from dnsmasq and Kea v6 into test/fixtures/dhcp6/captured.json,
 * the seed corpus of the DHCPv6 codec tests. Per server: a segment in test namespaces, and a
 * scripted client (this file re-run with `client` inside the pod namespace, on a UDP socket
 * once the pod's link-local is valid) that walks SOLICIT/ADVERTISE/REQUEST/REPLY, RENEW, REBIND,
 * a second client on a one-address pool (NoAddrsAvail), RELEASE, a RENEW of the released binding
 * (NoBinding) and Rapid Commit, and prints every reply as hex.
 * Run as root: npx tsx scripts/capture-dhcp6-replies.ts
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ALL_DHCP_SERVERS, MessageType6, Opt6, decodeMessage6, describeMessageType6, encodeDuid, encodeElapsed, encodeIaNa,
  encodeMessage6, encodeOro, option6, parseReply6, type Dhcp6Message, type RawOption6, type Reply6,
} from '../daemon/dhcp6';
import { addPod6, serverPort6, serverSegment6, startDnsmasq6, startKea6, waitLinkLocal } from '../test/helpers/v6-lab';
import { cleanupNetns } from '../test/helpers/netns';

const REPO = path.resolve(__dirname, '..');

interface Captured {
  server: string;
  /** what the client did to get it */
  step: string;
  type: string;
  hex: string;
}

// ---- the client, inside the pod namespace ------------------------------------------------

interface Client {
  exchange(step: string, type: number, options: RawOption6[], waitMs?: number): Promise<Reply6[]>;
  close(): void;
}

async function openClient(ifname: string, out: Array<{ step: string; hex: string }>): Promise<Client> {
  const sock = dgram.createSocket({ type: 'udp6', reuseAddr: true });
  await new Promise<void>((resolve) => sock.bind(546, '::', resolve));
  let waiting: { xid: number; got: Reply6[]; step: string } | undefined;
  sock.on('message', (buf) => {
    const m = decodeMessage6(buf);
    if (m.kind !== 'message' || waiting === undefined || m.xid !== waiting.xid) return;
    out.push({ step: waiting.step, hex: buf.toString('hex') });
    waiting.got.push(parseReply6(m));
  });
  return {
    async exchange(step, type, options, waitMs = 1500) {
      const xid = Math.floor(Math.random() * 0xffffff);
      const msg: Dhcp6Message = { kind: 'message', type, xid, options: [...options, option6(Opt6.ELAPSED_TIME, encodeElapsed(0))] };
      waiting = { xid, got: [], step };
      const current = waiting;
      sock.send(encodeMessage6(msg), 547, `${ALL_DHCP_SERVERS}%${ifname}`);
      await new Promise((r) => setTimeout(r, waitMs));
      waiting = undefined;
      return current.got;
    },
    close: () => sock.close(),
  };
}

async function clientMain(ifname: string): Promise<void> {
  const out: Array<{ step: string; hex: string }> = [];
  const c = await openClient(ifname, out);
  const duidA = option6(Opt6.CLIENTID, encodeDuid({ type: 'll', hwType: 1, linkLayer: Buffer.from([2, 0xd6, 0, 0, 0, 0xa]) }));
  const duidB = option6(Opt6.CLIENTID, encodeDuid({ type: 'en', enterprise: 32473, identifier: Buffer.from('d6/netB/eth0') }));
  const oro = option6(Opt6.ORO, encodeOro([Opt6.DNS_SERVERS, Opt6.DOMAIN_LIST]));
  const ia = (iaid: number, address?: string, lifetimes = 0) =>
    option6(Opt6.IA_NA, encodeIaNa({ iaid, t1: 0, t2: 0, addresses: address === undefined ? [] : [{ address, preferredLifetime: lifetimes, validLifetime: lifetimes }] }));
  const server = (r: Reply6 | undefined) => option6(Opt6.SERVERID, r?.serverId ?? Buffer.alloc(0));

  const [adv] = await c.exchange('solicit', MessageType6.SOLICIT, [duidA, ia(1), oro]);
  const [rep] = await c.exchange('request', MessageType6.REQUEST, [duidA, server(adv), ia(1, adv?.iaNa[0]?.addresses[0]?.address), oro]);
  const address = rep?.iaNa[0]?.addresses[0]?.address;
  await c.exchange('renew', MessageType6.RENEW, [duidA, server(adv), ia(1, address), oro]);
  await c.exchange('rebind', MessageType6.REBIND, [duidA, ia(1, address), oro]);
  // the pool holds one address, which A holds: B is told NoAddrsAvail
  await c.exchange('solicit, pool exhausted', MessageType6.SOLICIT, [duidB, ia(7), oro]);
  await c.exchange('release', MessageType6.RELEASE, [duidA, server(adv), ia(1, address)]);
  await c.exchange('renew after release', MessageType6.RENEW, [duidA, server(adv), ia(1, address), oro]);
  await c.exchange('solicit with rapid commit', MessageType6.SOLICIT, [duidB, ia(7), oro, option6(Opt6.RAPID_COMMIT)]);
  c.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---- the lab, in the root namespace ------------------------------------------------------

async function captureFrom(name: 'dnsmasq' | 'kea'): Promise<Captured[]> {
  const srv = await serverSegment6(`d6c${name[0]}`);
  try {
    const pod = addPod6(srv, `d6c${name[0]}`, 1);
    pod.ip('link', 'set', 'eth0', 'up');
    await serverPort6(srv);
    const server = name === 'dnsmasq'
      ? await startDnsmasq6(srv, { rangeEnd: '2001:db8:5::100' })
      : await startKea6(srv, { pool: '2001:db8:5::100-2001:db8:5::100' });
    await waitLinkLocal(pod, 'eth0');
    const tsx = path.join(REPO, 'node_modules', '.bin', 'tsx');
    const child = pod.spawn(tsx, [__filename, 'client', 'eth0']);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`client exited ${code}: ${stderr}\n${server.log().slice(-2000)}`);
    const got = JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as Array<{ step: string; hex: string }>;
    return got.map((g) => {
      const m = decodeMessage6(Buffer.from(g.hex, 'hex'));
      return { server: name, step: g.step, type: describeMessageType6(m.type), hex: g.hex };
    });
  } finally {
    await cleanupNetns();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'client') return clientMain(process.argv[3] ?? 'eth0');
  const all = [...(await captureFrom('dnsmasq')), ...(await captureFrom('kea'))];
  const file = path.join(REPO, 'test', 'fixtures', 'dhcp6', 'captured.json');
  const versions = { dnsmasq: '2.90', kea: '2.2' };
  fs.writeFileSync(file, JSON.stringify({ capturedWith: 'scripts/capture-dhcp6-replies.ts', versions, replies: all }, null, 1) + '\n');
  for (const c of all) {
    const r = parseReply6(decodeMessage6(Buffer.from(c.hex, 'hex')) as Dhcp6Message);
    const st = [r.status, ...r.iaNa.map((i) => i.status)].filter((s) => s !== undefined).map((s) => s!.code);
    console.log(`${c.server.padEnd(8)} ${c.step.padEnd(26)} ${c.type.padEnd(10)} status ${JSON.stringify(st)} rapid ${r.rapidCommit} unicast ${r.serverUnicast ?? '-'} addrs ${JSON.stringify(r.iaNa.flatMap((i) => i.addresses.map((a) => a.address)))}`);
  }
  console.log(`${all.length} replies written to ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
