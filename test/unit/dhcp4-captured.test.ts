/**
 * Real replies captured from dnsmasq and Kea (scripts/capture-dhcp-replies.ts) as the seed
 * corpus: each decodes with no option rejected, round-trips, and every mutation of it (byte
 * flips, truncation, splices) either decodes or throws MalformedPacketError.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedPacketError } from '../../shared/errors';
import { decodeMessage, encodeMessage, parseReplyParams } from '../../daemon/dhcp4';
import { fuzzRuns } from '../fixtures/dhcp4/arbitraries';
import { arbMutation } from '../fixtures/mutations';
import captured from '../fixtures/dhcp4/captured.json';

const replies = captured.replies.map((r) => ({ ...r, bytes: Buffer.from(r.hex, 'hex') }));

describe('dhcp4 codec on replies captured from real servers', function () {
  this.timeout(300_000);

  it('the corpus holds OFFERs and ACKs from both dnsmasq and Kea', () => {
    for (const server of ['dnsmasq', 'kea']) {
      for (const type of ['OFFER', 'ACK']) assert.ok(replies.some((r) => r.server === server && r.type === type), `${server} ${type}`);
    }
  });

  for (const [i, r] of replies.entries()) {
    it(`#${i} ${r.server} ${r.type} decodes with every option accepted and round-trips`, () => {
      const m = decodeMessage(r.bytes);
      const p = parseReplyParams(m.options);
      assert.deepEqual(p.rejected, []);
      assert.ok(p.serverId && p.subnetMask && p.leaseTime, 'server id, mask and lease time present');
      assert.deepEqual(decodeMessage(encodeMessage(m)), m);
    });
  }

  it(`mutated captured replies decode or throw MalformedPacketError (${fuzzRuns(10_000)} runs)`, () => {
    fc.assert(
      fc.property(arbMutation(replies.map((r) => r.bytes)), (b) => {
        try {
          parseReplyParams(decodeMessage(b).options);
        } catch (err) {
          if (!(err instanceof MalformedPacketError)) throw err;
        }
      }),
      { numRuns: fuzzRuns(10_000) },
    );
  });
});
