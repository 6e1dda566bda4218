import assert from 'node:assert/strict';
import { parseReplyParams, type ReplyParams } from '../../daemon/dhcp4';
import { opts } from '../fixtures/dhcp4/bytes';

function rejectedCodes(p: ReplyParams): number[] {
  return p.rejected.map((r) => r.option);
}

describe('dhcp4 parseReplyParams: scalar and address options', () => {
  it('an empty option map gives no fields and no rejections', () => {
    assert.deepEqual(parseReplyParams(new Map()), { rejected: [] });
  });

  it('4-byte options must be exactly 4 bytes (busybox CVE-2018-20679)', () => {
    for (const code of [1, 28, 51, 54, 58, 59]) {
      for (const len of [0, 1, 3, 5, 8]) {
        const p = parseReplyParams(opts([code, new Array<number>(len).fill(255)]));
        assert.deepEqual(rejectedCodes(p), [code], `option ${code} with ${len} bytes`);
        assert.match(p.rejected[0]?.reason ?? '', /exactly 4/);
        assert.deepEqual(Object.keys(p), ['rejected'], `option ${code} left no field behind`);
      }
    }
  });

  it('one bad option does not poison the others', () => {
    const p = parseReplyParams(opts([54, [10, 0, 0]], [53, [5]], [3, [10, 0, 0, 1]], [51, [0, 0, 1]]));
    assert.equal(p.messageType, 5);
    assert.deepEqual(p.routers, ['10.0.0.1']);
    assert.equal(p.serverId, undefined);
    assert.equal(p.leaseTime, undefined);
    assert.deepEqual(rejectedCodes(p).sort(), [51, 54]);
  });

  it('lease, T1 and T2 accept 0, 1 and 0xffffffff as plain numbers', () => {
    for (const v of [0, 1, 0xfffffffe, 0xffffffff]) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(v);
      const p = parseReplyParams(new Map([[51, b], [58, b], [59, b]]));
      assert.deepEqual(p, { leaseTime: v, renewalTime: v, rebindingTime: v, rejected: [] });
    }
  });

  it('message type must be one byte 1..8', () => {
    for (let t = 1; t <= 8; t++) assert.equal(parseReplyParams(opts([53, [t]])).messageType, t);
    for (const v of [[0], [9], [255], [], [5, 5]]) {
      assert.deepEqual(rejectedCodes(parseReplyParams(opts([53, v]))), [53]);
    }
  });

  it('a contiguous subnet mask yields the prefix length', () => {
    assert.deepEqual(parseReplyParams(opts([1, [255, 255, 240, 0]])), {
      subnetMask: '255.255.240.0', prefixLength: 20, rejected: [],
    });
    assert.equal(parseReplyParams(opts([1, [255, 255, 255, 255]])).prefixLength, 32);
  });

  it('a non-contiguous subnet mask is rejected with no prefix length', () => {
    const p = parseReplyParams(opts([1, [255, 0, 255, 0]]));
    assert.equal(p.subnetMask, undefined);
    assert.equal(p.prefixLength, undefined);
    assert.match(p.rejected[0]?.reason ?? '', /not contiguous/);
  });

  it('router and DNS lists must be a non-empty multiple of 4 bytes', () => {
    assert.deepEqual(parseReplyParams(opts([6, [1, 1, 1, 1, 8, 8, 4, 4]])).dnsServers, ['1.1.1.1', '8.8.4.4']);
    for (const len of [0, 3, 5, 7]) {
      assert.deepEqual(rejectedCodes(parseReplyParams(opts([3, new Array<number>(len).fill(1)]))), [3]);
      assert.deepEqual(rejectedCodes(parseReplyParams(opts([6, new Array<number>(len).fill(1)]))), [6]);
    }
  });

  it('MTU must be 2 bytes and at least 68', () => {
    assert.equal(parseReplyParams(opts([26, [0, 68]])).mtu, 68);
    assert.equal(parseReplyParams(opts([26, [0x23, 0x28]])).mtu, 9000);
    for (const v of [[0, 67], [0, 0], [5], [0, 5, 220]]) {
      assert.deepEqual(rejectedCodes(parseReplyParams(opts([26, v]))), [26]);
    }
  });

  it('the server message keeps printable ASCII and replaces everything else', () => {
    assert.equal(parseReplyParams(opts([56, 'lease ok'])).message, 'lease ok');
    assert.equal(parseReplyParams(opts([56, [0x61, 0x0a, 0x1b, 0x62, 0xc3, 0xa9, 0x7f, 0, 0x63, 0, 0]])).message, 'a??b????c');
    assert.equal(parseReplyParams(opts([56, 'x'.repeat(600)])).message, 'x'.repeat(255));
    assert.equal(parseReplyParams(opts([56, []])).message, '');
  });

  it('options it does not interpret are ignored', () => {
    assert.deepEqual(parseReplyParams(opts([43, [1, 2, 3]], [252, 'http://wpad/'])), { rejected: [] });
  });
});

describe('dhcp4 parseReplyParams: host name and domain name (CVE-2018-1111)', () => {
  const hostile = [
    '$(reboot)', 'a;reboot', 'a`id`', 'x|nc', 'a&b', 'a b', "it's", 'a\nb', 'a\\b', 'a/b', 'a>b',
    '${IFS}', 'a\u0000b', 'caf\u00e9', 'a..b', '.a', '-rf', 'a-.b', '', '.',
  ];
  for (const code of [12, 15]) {
    for (const value of hostile) {
      it(`option ${code} ${JSON.stringify(value)} is rejected`, () => {
        const p = parseReplyParams(new Map([[code, Buffer.from(value, 'utf8')]]));
        assert.deepEqual(rejectedCodes(p), [code]);
        assert.equal(code === 12 ? p.hostName : p.domainName, undefined);
      });
    }
  }

  it('plain names, underscores and digits are accepted', () => {
    assert.equal(parseReplyParams(opts([15, 'cluster.local'])).domainName, 'cluster.local');
    assert.equal(parseReplyParams(opts([12, 'web-0'])).hostName, 'web-0');
    assert.equal(parseReplyParams(opts([15, '_srv.3com.example'])).domainName, '_srv.3com.example');
  });

  it('one trailing NUL and one trailing dot are tolerated and stripped', () => {
    assert.equal(parseReplyParams(opts([15, 'example.org\0'])).domainName, 'example.org');
    assert.equal(parseReplyParams(opts([15, 'example.org.'])).domainName, 'example.org');
    assert.equal(parseReplyParams(opts([15, 'example.org.\0'])).domainName, 'example.org');
    assert.deepEqual(rejectedCodes(parseReplyParams(opts([15, 'example.org\0\0']))), [15]);
    assert.deepEqual(rejectedCodes(parseReplyParams(opts([15, 'example.org..']))), [15]);
  });

  it('labels are 1..63 characters and names at most 253', () => {
    assert.equal(parseReplyParams(opts([15, `${'a'.repeat(63)}.b`])).domainName?.length, 65);
    assert.deepEqual(rejectedCodes(parseReplyParams(opts([15, `${'a'.repeat(64)}.b`]))), [15]);
    const name253 = [...Array(4)].map(() => 'a'.repeat(62)).join('.') + '.b'; // 4*63 - 1 + 2
    assert.equal(name253.length, 253);
    assert.equal(parseReplyParams(opts([15, name253])).domainName, name253);
    assert.deepEqual(rejectedCodes(parseReplyParams(opts([15, `${name253}c`]))), [15]);
  });
});
