/**
 * Long-running fuzz of the DHCP decoder: `npx tsx fuzz/run-codec-fuzz.ts [cases] [seed]`.
 * The property is the one in test/unit/dhcp4-properties.test.ts: decodeMessage (then
 * parseReplyParams on success) either returns or throws MalformedPacketError.
 * Exit code 1 if any case failed.
 */
import { decodeMessage, parseReplyParams } from '../daemon/dhcp4';
import { arbPacketBytes } from '../test/fixtures/dhcp4/arbitraries';
import { runFuzz } from './fuzz-runner';

process.exitCode = runFuzz('run-codec-fuzz.ts', process.argv.slice(2), arbPacketBytes, (bytes) => {
  parseReplyParams(decodeMessage(bytes).options);
});
