/**
 * Captures real DHCP replies from dnsmasq and Kea into test/fixtures/dhcp4/captured.json, the
 * seed corpus of the codec tests: a lab per server, three pods attached through the bridge
 * plugin with our IPAM (so OFFER, ACK, renewal ACK and a NAK-free release all happen), tcpdump
 * on the server's interface. Run as root: npx tsx scripts/capture-dhcp-replies.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeIpUdp, decodeMessage, describeMessageType } from '../daemon/dhcp4';
import { Lab, REPO } from '../test/helpers/lab';
import { startKea } from '../test/helpers/kea';
import { startProcess, stopProcess, waitFor } from '../test/helpers/sh';

interface Captured {
  server: string;
  type: string;
  hex: string;
}

/** Minimal pcap reader: Ethernet frames → IPv4 payloads. */
function pcapIpPackets(file: string): Buffer[] {
  const b = fs.readFileSync(file);
  const out: Buffer[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const incl = b.readUInt32LE(off + 8);
    const frame = b.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (frame.length > 14 && frame.readUInt16BE(12) === 0x0800) out.push(frame.subarray(14));
  }
  return out;
}

async function captureFrom(server: 'dnsmasq' | 'kea'): Promise<Captured[]> {
  const lab = await Lab.create(`cap${server.slice(0, 1)}`);
  try {
    if (server === 'dnsmasq') await lab.startDnsmasq({ extra: ['--dhcp-option=option:domain-search,lab.example,example.test', '--dhcp-option=121,198.19.0.0/16,198.18.0.1'] });
    else await startKea(lab, { validLifetime: 8, renewTimer: 3, rebindTimer: 6 });
    await lab.startDaemon();
    const pcap = path.join(lab.dir, 'cap.pcap');
    const td = startProcess('ip', ['netns', 'exec', lab.serverNs, 'tcpdump', '-i', 'srv0', '-U', '-w', pcap, 'udp port 67 or udp port 68'], path.join(lab.dir, 'td.log'));
    lab.track(td);
    await waitFor('tcpdump', () => (fs.existsSync(pcap) ? true : undefined));
    const pods = await lab.attachBridgePods(3);
    if (server === 'kea') await new Promise((r) => setTimeout(r, 4000)); // one renewal ACK
    for (const pod of pods) await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: lab.bridgeConfig() });
    await new Promise((r) => setTimeout(r, 500));
    await stopProcess(td);
    const out: Captured[] = [];
    for (const ip of pcapIpPackets(pcap)) {
      // captured where the sender's kernel left the UDP checksum to the (virtual) card: clear it,
      // which IPv4 UDP allows, so the capture decodes
      const ihl = ((ip[0] ?? 0) & 0x0f) * 4;
      if (ip.length > ihl + 8) ip.writeUInt16BE(0, ihl + 6);
      const udp = decodeIpUdp(ip);
      if (udp.srcPort !== 67) continue;
      const msg = decodeMessage(udp.payload);
      const t = msg.options.get(53)?.[0] ?? 0;
      out.push({ server, type: describeMessageType(t), hex: udp.payload.toString('hex') });
    }
    return out;
  } finally {
    await lab.cleanup();
  }
}

async function main(): Promise<void> {
  const all = [...(await captureFrom('dnsmasq')), ...(await captureFrom('kea'))];
  const file = path.join(REPO, 'test', 'fixtures', 'dhcp4', 'captured.json');
  fs.writeFileSync(file, JSON.stringify({ capturedWith: 'scripts/capture-dhcp-replies.ts', replies: all }, null, 1) + '\n');
  console.log(`${all.length} replies written to ${file}: ${all.map((c) => `${c.server}/${c.type}`).join(', ')}`);
}

void main();
