/**
 * Long-running fuzz of the DHCPv6 decoder: `npx tsx fuzz/run-dhcp6-fuzz.ts [cases] [seed]`.
 * The property is the one in test/unit/dhcp6-properties.test.ts: decodeMessage6 (then
 * parseReply6 on a client/server message) either returns or throws MalformedPacketError; every
 * tenth case is also wrapped in IPv6/UDP, damaged, and run through decodeIp6Udp first.
 * Exit code 1 if any case failed.
 */
import { decodeIp6Udp, decodeMessage6, encodeIp6Udp, parseReply6 } from '../daemon/dhcp6';
import { arbPacketBytes6 } from '../test/fixtures/dhcp6/arbitraries';
import { runFuzz } from './fuzz-runner';

let n = 0;
process.exitCode = runFuzz('run-dhcp6-fuzz.ts', process.argv.slice(2), arbPacketBytes6, (bytes) => {
  let payload = bytes;
  if (n++ % 10 === 0) {
    const frame = encodeIp6Udp({ srcIp: 'fe80::1', dstIp: 'fe80::2', srcPort: 547, dstPort: 546, payload: bytes });
    const at = bytes.length === 0 ? 0 : bytes[0]! % frame.length;
    if (bytes.length % 3 === 0) frame[at] = bytes.length & 0xff;
    payload = decodeIp6Udp(frame.subarray(0, frame.length - (bytes.length % 5))).payload;
  }
  const m = decodeMessage6(payload);
  if (m.kind === 'message') parseReply6(m);
});
