import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedPacketError } from '../../shared/errors';
import { encodeDnsNames, parseDomainSearch } from '../../daemon/wire/dns-name';
import {
  decodeDuid, decodeIaNa, decodeIp6Udp, decodeMessage6, encodeDuid, encodeIaNa, encodeIp6Udp, encodeMessage6, parseReply6,
  option6, Opt6, encodeAddressList6, encodeStatus, type Dhcp6Message,
} from '../../daemon/dhcp6';
import { arbDuid, arbIaNa, arbIp6, arbPacket6, arbPacketBytes6, arbStatus, fuzzRuns } from '../fixtures/dhcp6/arbitraries';
import { bufferToIp6 } from '../../daemon/dhcp6/addr6';

const MAIN_RUNS = fuzzRuns(10_000);
const SECONDARY_RUNS = Math.max(200, Math.floor(MAIN_RUNS / 10));

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
const arbName = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));

describe('dhcp6 codec properties (fast-check)', function () {
  this.timeout(600_000);

  it(`decodeMessage6 then parseReply6 on arbitrary bytes returns or throws MalformedPacketError (${MAIN_RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbPacketBytes6, (bytes) => {
        try {
          const m = decodeMessage6(bytes);
          if (m.kind === 'message') parseReply6(m);
        } catch (err) {
          if (!(err instanceof MalformedPacketError)) throw err;
        }
      }),
      { numRuns: MAIN_RUNS },
    );
  });

  it(`decodeMessage6(encodeMessage6(m)) equals m, and re-encodes to the same bytes (${SECONDARY_RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbPacket6, (m) => {
        const bytes = encodeMessage6(m);
        const back = decodeMessage6(bytes);
        assert.deepEqual(back, m);
        assert.deepEqual(encodeMessage6(back), bytes);
      }),
      { numRuns: SECONDARY_RUNS },
    );
  });

  it(`typed options round-trip: DUID, IA_NA with nested IA Address and Status Code, DNS, search list (${SECONDARY_RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbDuid, arbIaNa, fc.array(arbIp6, { minLength: 1, maxLength: 4 }), fc.array(arbName, { minLength: 1, maxLength: 5 }), arbStatus, fc.nat(0xffffff), (duid, ia, dns, search, status, xid) => {
        assert.deepEqual(decodeDuid(encodeDuid(duid)), duid);
        assert.deepEqual(decodeIaNa(encodeIaNa(ia)), ia);
        assert.deepEqual(parseDomainSearch(encodeDnsNames(search), { compression: false }), search);
        const dnsText = dns.map((b) => bufferToIp6(b));
        const msg: Dhcp6Message = {
          kind: 'message', type: 7, xid,
          options: [
            option6(Opt6.SERVERID, encodeDuid(duid)), option6(Opt6.IA_NA, encodeIaNa(ia)), option6(Opt6.STATUS_CODE, encodeStatus(status)),
            option6(Opt6.DNS_SERVERS, encodeAddressList6(dnsText)), option6(Opt6.DOMAIN_LIST, encodeDnsNames(search)),
          ],
        };
        const r = parseReply6(decodeMessage6(encodeMessage6(msg)) as Dhcp6Message);
        assert.deepEqual(r.rejected, []);
        assert.deepEqual(r.iaNa, [ia]);
        assert.deepEqual(r.status, status);
        assert.deepEqual(r.dnsServers, dnsText);
        assert.deepEqual(r.domainSearch, search);
        assert.deepEqual(r.serverId, encodeDuid(duid));
      }),
      { numRuns: SECONDARY_RUNS },
    );
  });

  it(`decodeIp6Udp(encodeIp6Udp(p)) equals p; any bit flip in the UDP part is caught (${SECONDARY_RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbIp6, arbIp6, fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(7), (s, d, sp, dp, payload, at, bit) => {
        const p = { srcIp: bufferToIp6(s), dstIp: bufferToIp6(d), srcPort: sp, dstPort: dp, payload: Buffer.from(payload) };
        const b = encodeIp6Udp(p);
        assert.deepEqual(decodeIp6Udp(b), p);
        const i = 8 + (at % (b.length - 8)); // addresses, UDP header or payload: all checksummed
        if (i >= 40 + 6 && i < 40 + 8) return; // flipping the checksum itself could make it 0 = "none"
        b[i]! ^= 1 << bit;
        if (i === 44 || i === 45) return; // UDP length: caught, but by the length check
        assert.throws(() => decodeIp6Udp(b), MalformedPacketError);
      }),
      { numRuns: SECONDARY_RUNS },
    );
  });
});
