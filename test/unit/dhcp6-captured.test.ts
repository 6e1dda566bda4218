/**
 * Real DHCPv6 replies captured from dnsmasq 2.90 and Kea 2.2 (scripts/capture-dhcp6-replies.ts)
 * as the seed corpus: each decodes with no option rejected, re-encodes to the same bytes, and
 * every mutation of it (byte flips, truncation, splices) decodes or throws MalformedPacketError.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedPacketError } from '../../shared/errors';
import { decodeMessage6, encodeMessage6, parseReply6, Status6, type Dhcp6Message } from '../../daemon/dhcp6';
import { fuzzRuns } from '../fixtures/dhcp6/arbitraries';
import { arbMutation } from '../fixtures/mutations';
import captured from '../fixtures/dhcp6/captured.json';

const replies = captured.replies.map((r) => ({ ...r, bytes: Buffer.from(r.hex, 'hex') }));
const parsed = (hex: string) => parseReply6(decodeMessage6(Buffer.from(hex, 'hex')) as Dhcp6Message);
const statuses = (hex: string) => {
  const r = parsed(hex);
  return [r.status, ...r.iaNa.map((ia) => ia.status)].flatMap((s) => (s === undefined ? [] : [s.code]));
};

describe('dhcp6 codec on replies captured from real servers', function () {
  this.timeout(300_000);

  it('the corpus holds ADVERTISE, REPLY, Rapid Commit, NoAddrsAvail from both servers, NoBinding and Server Unicast', () => {
    for (const server of ['dnsmasq', 'kea']) {
      const of = replies.filter((r) => r.server === server);
      for (const type of ['ADVERTISE', 'REPLY']) assert.ok(of.some((r) => r.type === type), `${server} ${type}`);
      for (const step of ['renew', 'rebind']) assert.ok(of.some((r) => r.step === step && r.type === 'REPLY'), `${server} ${step}`);
      assert.ok(of.some((r) => parsed(r.hex).rapidCommit), `${server} rapid commit`);
      assert.ok(of.some((r) => statuses(r.hex).includes(Status6.NO_ADDRS_AVAIL)), `${server} NoAddrsAvail`);
    }
    assert.ok(replies.some((r) => statuses(r.hex).includes(Status6.NO_BINDING)), 'NoBinding');
    assert.ok(replies.some((r) => parsed(r.hex).serverUnicast !== undefined), 'Server Unicast');
  });

  for (const [i, r] of replies.entries()) {
    it(`#${i} ${r.server} ${r.step}: ${r.type} decodes with every option accepted and round-trips`, () => {
      const m = decodeMessage6(r.bytes);
      assert.equal(m.kind, 'message');
      const p = parseReply6(m as Dhcp6Message);
      assert.deepEqual(p.rejected, []);
      assert.ok(p.serverId && p.clientId, 'server and client id present');
      assert.deepEqual(encodeMessage6(m), r.bytes);
      assert.deepEqual(decodeMessage6(encodeMessage6(m)), m);
      for (const a of p.iaNa.flatMap((ia) => ia.addresses)) assert.match(a.address, /^2001:db8:5::1[0-9a-f]{2}$/);
    });
  }

  it(`mutated captured replies decode or throw MalformedPacketError (${fuzzRuns(10_000)} runs)`, () => {
    fc.assert(
      fc.property(arbMutation(replies.map((r) => r.bytes)), (b) => {
        try {
          const m = decodeMessage6(b);
          if (m.kind === 'message') parseReply6(m);
        } catch (err) {
          if (!(err instanceof MalformedPacketError)) throw err;
        }
      }),
      { numRuns: fuzzRuns(10_000) },
    );
  });
});
