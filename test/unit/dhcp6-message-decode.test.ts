import assert from 'node:assert/strict';
import { MalformedPacketError } from '../../shared/errors';
import { decodeMessage6, parseReply6, Opt6, Status6, MAX_OPTIONS6, type Dhcp6Message } from '../../daemon/dhcp6';
import {
  ADDR, CLIENT_DUID, LINK_LOCAL_1, SERVER_DUID, advertise, iaAddr, iaNa, msg6, names, status, tlv6, u16,
} from '../fixtures/dhcp6/bytes';

function message(b: Buffer): Dhcp6Message {
  const m = decodeMessage6(b);
  assert.equal(m.kind, 'message');
  return m as Dhcp6Message;
}

const reply = (...options: number[][]) => parseReply6(message(msg6(7, 0xabcdef, ...options)));
const malformed = (b: Buffer, re: RegExp) => assert.throws(() => decodeMessage6(b), (e: unknown) => e instanceof MalformedPacketError && re.test(e.message));

describe('dhcp6 message decode', () => {
  it('decodes a hand-built ADVERTISE field by field', () => {
    const m = message(advertise());
    assert.equal(m.type, 2);
    assert.equal(m.xid, 0x123456);
    assert.deepEqual(m.options.map((o) => o.code), [1, 2, 7, 3, 23, 24]);
    const r = parseReply6(m);
    assert.deepEqual(r.rejected, []);
    assert.deepEqual(r.clientId, Buffer.from(CLIENT_DUID));
    assert.deepEqual(r.serverId, Buffer.from(SERVER_DUID));
    assert.equal(r.preference, 10);
    assert.deepEqual(r.iaNa, [{ iaid: 0xa1b2c3d4, t1: 1800, t2: 2880, addresses: [{ address: '2001:db8:5::142', preferredLifetime: 3600, validLifetime: 7200 }] }]);
    assert.deepEqual(r.dnsServers, ['2001:db8:5::53', '2001:db8:5::54']);
    assert.deepEqual(r.domainSearch, ['lab.example', 'example.test']);
    assert.equal(r.rapidCommit, false);
    assert.equal(r.status, undefined);
  });

  it('reads status codes at message, IA and address level', () => {
    const r = reply(status(Status6.USE_MULTICAST, 'use multicast'), iaNa(1, 0, 0, status(Status6.NO_ADDRS_AVAIL, 'none left')), iaNa(2, 0, 0, iaAddr(5, 1, 2, status(0, 'ok\x01'))));
    assert.deepEqual(r.status, { code: 5, message: 'use multicast' });
    assert.deepEqual(r.iaNa[0], { iaid: 1, t1: 0, t2: 0, addresses: [], status: { code: 2, message: 'none left' } });
    assert.deepEqual(r.iaNa[1]?.addresses[0]?.status, { code: 0, message: 'ok?' }, 'control bytes become ?');
  });

  it('reads Server Unicast, Rapid Commit and Reconfigure Accept', () => {
    const r = reply(tlv6(12, LINK_LOCAL_1), tlv6(14), tlv6(20));
    assert.equal(r.serverUnicast, 'fe80::1');
    assert.equal(r.rapidCommit, true);
    assert.equal(r.reconfigureAccept, true);
    const bad = reply(tlv6(12, LINK_LOCAL_1.slice(0, 15)), tlv6(14, [0]), tlv6(7, [1, 2]));
    assert.deepEqual(bad.rejected.map((x) => x.option).sort((a, b) => a - b), [7, 12, 14]);
    assert.equal(bad.rapidCommit, false);
    assert.equal(bad.serverUnicast, undefined);
  });

  it('recognises RELAY-FORW and RELAY-REPL', () => {
    const inner = [...advertise()];
    const b = Buffer.from([13, 3, ...ADDR(1), ...LINK_LOCAL_1, ...tlv6(9, inner)]);
    const m = decodeMessage6(b);
    assert.equal(m.kind, 'relay');
    if (m.kind !== 'relay') return;
    assert.equal(m.hopCount, 3);
    assert.equal(m.linkAddress, '2001:db8:5::1');
    assert.equal(m.peerAddress, 'fe80::1');
    assert.deepEqual(m.options[0]?.data, Buffer.from(inner));
    malformed(Buffer.from([12, 0, ...ADDR(1)]), /relay message is 18 bytes/);
  });

  describe('malformed input', () => {
    it('truncated headers and unknown types', () => {
      malformed(Buffer.alloc(0), /minimum is 4/);
      malformed(Buffer.from([7, 0, 0]), /minimum is 4/);
      malformed(Buffer.from([0, 0, 0, 0]), /unknown message type 0/);
      malformed(Buffer.from([14, 0, 0, 0]), /unknown message type 14/);
    });

    it('an option length that overruns the message, and stray bytes after the last option', () => {
      const b = advertise();
      malformed(b.subarray(0, b.length - 1), /claims \d+ bytes/);
      malformed(msg6(7, 1, [...u16(1), ...u16(0xffff), 1, 2, 3]), /option 1 at offset 4 claims 65535 bytes, only 3 left/);
      malformed(msg6(7, 1, tlv6(14), [0, 1, 0]), /3 stray byte\(s\)/);
    });

    it('a nested option that overruns its IA_NA or IA Address is rejected, the rest of the reply kept', () => {
      // IA_NA of 20 bytes whose nested IAADDR claims 24
      const overrun = tlv6(3, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, ...u16(5), ...u16(24), 1, 2, 3, 4]);
      const r = reply(tlv6(2, SERVER_DUID), overrun, tlv6(23, ADDR(0x53)));
      assert.deepEqual(r.iaNa, []);
      assert.equal(r.rejected.length, 1);
      assert.match(r.rejected[0]!.reason, /IA_NA 1 options: option 5 at offset 12 claims 24 bytes, only 4 left/);
      assert.deepEqual(r.serverId, Buffer.from(SERVER_DUID));
      assert.deepEqual(r.dnsServers, ['2001:db8:5::53']);
      // IAADDR whose nested status overruns
      const deep = iaNa(1, 0, 0, tlv6(5, [...ADDR(1), 0, 0, 0, 1, 0, 0, 0, 2, ...u16(13), ...u16(9), 0]));
      assert.match(reply(deep).rejected[0]!.reason, /IA Address options: option 13 at offset 24 claims 9 bytes/);
      assert.match(reply(tlv6(3, [0, 0, 0, 1, 0, 0])).rejected[0]!.reason, /IA_NA of 6 bytes/);
      assert.match(reply(iaNa(1, 0, 0, tlv6(5, ADDR(1)))).rejected[0]!.reason, /IA Address of 16 bytes/);
    });

    it('an IA_NA nested in an IA_NA is skipped, not recursed into', () => {
      const inner = iaNa(2, 0, 0, iaAddr(7, 1, 2));
      const r = reply(iaNa(1, 10, 20, inner, iaAddr(8, 3, 4)));
      assert.deepEqual(r.rejected, []);
      assert.deepEqual(r.iaNa.map((ia) => [ia.iaid, ia.addresses.map((a) => a.address)]), [[1, ['2001:db8:5::8']]]);
    });

    it(`huge option counts: ${MAX_OPTIONS6} options decode, one more is malformed, nested too`, () => {
      const many = (n: number) => new Array<number[]>(n).fill(tlv6(0xfff0));
      assert.equal(message(msg6(7, 1, ...many(MAX_OPTIONS6))).options.length, MAX_OPTIONS6);
      malformed(msg6(7, 1, ...many(MAX_OPTIONS6 + 1)), new RegExp(`more than ${MAX_OPTIONS6} options`));
      const r = reply(iaNa(1, 0, 0, ...many(MAX_OPTIONS6 + 1)));
      assert.match(r.rejected[0]!.reason, /IA_NA 1 options: more than/);
      // 16,000 empty options in one 64 KB message: refused at once
      malformed(msg6(7, 1, ...many(16_000)), /more than/);
    });

    it('duplicate options: a repeated singleton is rejected whole, a repeated IAID is dropped', () => {
      const r = reply(tlv6(2, SERVER_DUID), tlv6(2, CLIENT_DUID), tlv6(7, [1]), tlv6(7, [1]), iaNa(9, 0, 0, iaAddr(1, 1, 2)), iaNa(9, 0, 0, iaAddr(2, 1, 2)), iaNa(10, 0, 0));
      assert.equal(r.serverId, undefined);
      assert.equal(r.preference, undefined);
      assert.deepEqual(r.rejected.map((x) => [x.option, x.reason]), [[2, '2 instances where one is allowed'], [7, '2 instances where one is allowed'], [3, 'IA_NA 9 repeated']]);
      assert.deepEqual(r.iaNa.map((ia) => ia.iaid), [9, 10]);
      assert.equal(r.iaNa[0]!.addresses[0]!.address, '2001:db8:5::1', 'the first IA_NA 9 is kept');
      assert.match(reply(iaNa(1, 0, 0, status(0), status(2))).rejected[0]!.reason, /2 status codes/);
    });

    it('bad DUIDs, DNS lists and search lists', () => {
      const r = reply(tlv6(1, [0, 3]), tlv6(2, [0, 4, 1, 2, 3]), tlv6(23, [1, 2, 3]), tlv6(24, [3, 0x61, 0x62, 0x63, 0xc0, 0]));
      assert.deepEqual(r.rejected.map((x) => x.option), [1, 2, 23, 24]);
      assert.match(r.rejected[3]!.reason, /compression pointer/);
      assert.match(reply(tlv6(2, new Array<number>(131).fill(1))).rejected[0]!.reason, /DUID of 131 bytes/);
      assert.match(reply(tlv6(24, names('x$(reboot).example'))).rejected[0]!.reason, /invalid characters/);
      assert.deepEqual(reply(tlv6(2, [0, 9, 1])).serverId, Buffer.from([0, 9, 1]), 'an unknown DUID type is still an identifier');
    });
  });

  it('Opt6 codes match RFC 8415 §24.3', () => {
    assert.deepEqual([Opt6.CLIENTID, Opt6.SERVERID, Opt6.IA_NA, Opt6.IAADDR, Opt6.ORO, Opt6.PREFERENCE, Opt6.ELAPSED_TIME, Opt6.UNICAST, Opt6.STATUS_CODE, Opt6.RAPID_COMMIT, Opt6.RECONF_ACCEPT, Opt6.DNS_SERVERS, Opt6.DOMAIN_LIST], [1, 2, 3, 5, 6, 7, 8, 12, 13, 14, 20, 23, 24]);
  });
});
