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
    const mutation = fc.record({
      seed: fc.integer({ min: 0, max: replies.length - 1 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      splice: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 64 })), { nil: undefined }),
    });
    fc.assert(
      fc.property(mutation, ({ seed, flips, cut, splice }) => {
        let b = Buffer.from((replies[seed] as (typeof replies)[number]).bytes);
        for (const [at, v] of flips) b[at % b.length] = v;
        if (splice) b = Buffer.concat([b.subarray(0, splice[0] % b.length), Buffer.from(splice[1]), b.subarray(splice[0] % b.length)]);
        if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
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
