/**
 * The DAD experiment: how long from bringing a pod's link up to a DHCPv6 lease, against
 * dnsmasq through a bridge, with the pod's interface as the kernel leaves it, with
 * optimistic_dad=1 (and use_optimistic=1) set before link up, and with accept_dad=0. Run as
 * root: npx tsx bench/dhcpv6-dad.ts [trials per mode, default 7]. Prints one line per trial
 * and the median per mode; docs/dhcpv6.md has the numbers and the decision.
 *
 * The client is a UDP socket in the pod namespace (the kernel's own stack, which is what decides
 * when the link-local address may be used and answers the server's Neighbour Solicitation); it
 * sends a Rapid Commit SOLICIT every 20 ms until one goes out and is answered, so the figure is
 * the earliest lease each setting allows, not a retransmission schedule.
 */
import * as dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import {
  ALL_DHCP_SERVERS, MessageType6, Opt6, decodeMessage6, encodeDuid, encodeElapsed, encodeIaNa, encodeMessage6, encodeOro, option6, parseReply6,
} from '../daemon/dhcp6';
import { addPod6, serverPort6, serverSegment6, startDnsmasq6 } from '../test/helpers/v6-lab';
import { cleanupNetns } from '../test/helpers/netns';

type Mode = 'default' | 'optimistic_dad' | 'accept_dad=0';
const MODES: Mode[] = ['default', 'optimistic_dad', 'accept_dad=0'];

/** In the pod namespace: link up, then SOLICIT until a REPLY; prints the ms it took. */
async function trial(ifname: string, n: number): Promise<void> {
  const sock = dgram.createSocket({ type: 'udp6', reuseAddr: true });
  await new Promise<void>((resolve) => sock.bind(546, '::', resolve));
  const duid = encodeDuid({ type: 'en', enterprise: 32473, identifier: Buffer.from(`d6-dad-${process.pid}-${n}`) });
  const xid = (process.pid * 7919 + n) & 0xffffff;
  const msg = encodeMessage6({
    kind: 'message', type: MessageType6.SOLICIT, xid,
    options: [option6(Opt6.CLIENTID, duid), option6(Opt6.IA_NA, encodeIaNa({ iaid: n, t1: 0, t2: 0, addresses: [] })), option6(Opt6.ORO, encodeOro([23, 24])), option6(Opt6.RAPID_COMMIT), option6(Opt6.ELAPSED_TIME, encodeElapsed(0))],
  });
  let firstSendOk: number | undefined;
  let sendErrors = 0;
  const errors = new Set<string>();
  const t0 = performance.now();
  execFileSync('ip', ['link', 'set', ifname, 'up']);
  const done = new Promise<string>((resolve) => {
    sock.on('message', (buf) => {
      const m = decodeMessage6(buf);
      if (m.kind !== 'message' || m.xid !== xid) return;
      const r = parseReply6(m);
      resolve(r.iaNa[0]?.addresses[0]?.address ?? 'none');
    });
  });
  const timer = setInterval(() => {
    send();
  }, 20);
  function send(): void {
    sock.send(msg, 547, `${ALL_DHCP_SERVERS}%${ifname}`, (err) => {
      if (err) {
        sendErrors++;
        errors.add((err as NodeJS.ErrnoException).code ?? err.message);
      } else {
        firstSendOk ??= performance.now() - t0;
      }
    });
  }
  send();
  const address = await Promise.race([done, new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000))]);
  const ms = performance.now() - t0;
  clearInterval(timer);
  sock.close();
  process.stdout.write(JSON.stringify({ ms, firstSendOk, sendErrors, errors: [...errors].join(','), address }) + '\n');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'trial') return trial(process.argv[3] ?? 'eth0', Number(process.argv[4] ?? 0));
  const trials = Number(process.argv[2] ?? 7);
  const srv = await serverSegment6('d6x');
  const results = new Map<Mode, number[]>();
  try {
    await serverPort6(srv);
    await startDnsmasq6(srv);
    let n = 0;
    for (let i = 0; i < trials; i++) {
      for (const mode of MODES) {
        n++;
        const pod = addPod6(srv, 'd6x', n, (p) => {
          if (mode === 'optimistic_dad') {
            p.sysctl('net.ipv6.conf.eth0.optimistic_dad', 1);
            p.sysctl('net.ipv6.conf.eth0.use_optimistic', 1);
          }
          if (mode === 'accept_dad=0') p.sysctl('net.ipv6.conf.eth0.accept_dad', 0);
        });
        const tsx = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');
        const out = pod.exec(tsx, [__filename, 'trial', 'eth0', String(n)]).trim().split('\n').at(-1) ?? '{}';
        const r = JSON.parse(out) as { ms: number; firstSendOk?: number; sendErrors: number; errors: string; address: string };
        console.log(`${mode.padEnd(15)} trial ${i + 1}: lease ${r.address} after ${r.ms.toFixed(1)} ms (first send accepted at ${r.firstSendOk?.toFixed(1) ?? '-'} ms, ${r.sendErrors} sends refused${r.errors ? `: ${r.errors}` : ''})`);
        if (r.address !== 'timeout') results.set(mode, [...(results.get(mode) ?? []), r.ms]);
      }
    }
  } finally {
    await cleanupNetns();
  }
  for (const mode of MODES) {
    const xs = results.get(mode) ?? [];
    console.log(`${mode.padEnd(15)} median ${xs.length ? median(xs).toFixed(1) : '-'} ms, min ${xs.length ? Math.min(...xs).toFixed(1) : '-'}, max ${xs.length ? Math.max(...xs).toFixed(1) : '-'} (${xs.length}/${trials} leases)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
