import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedPacketError } from '../../shared/errors';
import {
  decodeIpUdp, decodeMessage, encodeIpUdp, encodeMessage, parseReplyParams, type DhcpMessage, type ReplyParams,
} from '../../daemon/dhcp4';
import {
  arbIp, arbMessage, arbOptionMap, arbPacketBytes, fuzzRuns,
} from '../fixtures/dhcp4/arbitraries';

const MAIN_RUNS = fuzzRuns(10_000);
const SECONDARY_RUNS = Math.max(100, Math.floor(MAIN_RUNS / 10));

/** Field names of ReplyParams set by each option, to check rejected options left nothing. */
const FIELDS_OF: Record<number, Array<keyof ReplyParams>> = {
  1: ['subnetMask', 'prefixLength'], 3: ['routers'], 6: ['dnsServers'], 12: ['hostName'],
  15: ['domainName'], 26: ['mtu'], 28: ['broadcastAddress'], 33: ['staticRoutes'], 51: ['leaseTime'],
  53: ['messageType'], 54: ['serverId'], 56: ['message'], 58: ['renewalTime'], 59: ['rebindingTime'],
  119: ['domainSearch'], 121: ['classlessRoutes'],
};

/** What decode(encode(m)) must give: m with option 53 moved first, as the encoder writes it. */
function expectedAfterRoundTrip(m: DhcpMessage): Array<[number, string]> {
  const entries = [...m.options].map(([c, v]): [number, string] => [c, v.toString('hex')]);
  return [...entries.filter(([c]) => c === 53), ...entries.filter(([c]) => c !== 53)];
}

describe('dhcp4 codec properties (fast-check)', function () {
  this.timeout(600_000);

  it(`decodeMessage on arbitrary bytes returns or throws MalformedPacketError, nothing else (${MAIN_RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbPacketBytes, (bytes) => {
        try {
          const m = decodeMessage(bytes);
          parseReplyParams(m.options);
        } catch (err) {
          if (!(err instanceof MalformedPacketError)) throw err;
        }
      }),
      { numRuns: MAIN_RUNS },
    );
  });

  it('decodeMessage(encodeMessage(m)) deep-equals m, with options up to 600 bytes', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const encoded = encodeMessage(m);
        assert.ok(encoded.length >= 300);
        const back = decodeMessage(encoded);
        assert.deepStrictEqual(back, m);
        assert.deepStrictEqual([...back.options].map(([c, v]) => [c, v.toString('hex')]), expectedAfterRoundTrip(m));
      }),
      { numRuns: SECONDARY_RUNS },
    );
  });

  it('parseReplyParams never throws, and a rejected option leaves its fields undefined', () => {
    fc.assert(
      fc.property(arbOptionMap, (options) => {
        const p = parseReplyParams(options);
        for (const { option } of p.rejected) {
          for (const field of FIELDS_OF[option] ?? []) assert.equal(p[field], undefined, `${field} of rejected ${option}`);
        }
      }),
      { numRuns: SECONDARY_RUNS },
    );
  });

  it('decodeIpUdp(encodeIpUdp(x)) gives x back', () => {
    const arbSpec = fc.record({
      srcIp: arbIp, dstIp: arbIp, srcPort: fc.nat(0xffff), dstPort: fc.nat(0xffff),
      payload: fc.uint8Array({ maxLength: 700 }).map((a) => Buffer.from(a)),
    });
    fc.assert(
      fc.property(arbSpec, (spec) => assert.deepStrictEqual(decodeIpUdp(encodeIpUdp(spec)), spec)),
      { numRuns: SECONDARY_RUNS },
    );
  });

  it('decodeIpUdp on arbitrary or damaged frames throws only MalformedPacketError', () => {
    const arbFrame = fc.oneof(
      fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.nat(255)).map(([p, at, v]) => {
        const b = encodeIpUdp({ srcIp: '0.0.0.0', dstIp: '255.255.255.255', srcPort: 68, dstPort: 67, payload: Buffer.from(p) });
        b[at % b.length] = v;
        return b;
      }),
    );
    fc.assert(
      fc.property(arbFrame, (frame) => {
        try {
          decodeIpUdp(frame);
        } catch (err) {
          if (!(err instanceof MalformedPacketError)) throw err;
        }
      }),
      { numRuns: SECONDARY_RUNS },
    );
  });
});
