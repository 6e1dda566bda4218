import assert from 'node:assert/strict';
import { parseReplyParams } from '../../daemon/dhcp4';
import { ascii, opts } from '../fixtures/dhcp4/bytes';

/** RFC 1035 wire form of a dotted name, with its terminating zero. */
function wire(name: string): number[] {
  return [...name.split('.').flatMap((l) => [l.length, ...ascii(l)]), 0];
}

function search(bytes: number[]): ReturnType<typeof parseReplyParams> {
  return parseReplyParams(opts([119, bytes]));
}

function rejectedReason(bytes: number[]): string {
  const p = search(bytes);
  assert.equal(p.domainSearch, undefined);
  return p.rejected[0]?.reason ?? '';
}

describe('dhcp4 option 119, domain search list (RFC 3397)', () => {
  it('decodes a list of uncompressed names', () => {
    assert.deepEqual(search([...wire('eng.example.com'), ...wire('example.org')]).domainSearch, ['eng.example.com', 'example.org']);
  });

  it('follows a compression pointer to an earlier name (the RFC 3397 example)', () => {
    // "eng.apple.com" then "marketing" + pointer to offset 4 ("apple.com")
    const first = wire('eng.apple.com');
    const bytes = [...first, 9, ...ascii('marketing'), 0xc0, 4];
    assert.deepEqual(search(bytes).domainSearch, ['eng.apple.com', 'marketing.apple.com']);
  });

  it('follows a chain of strictly backward pointers', () => {
    // 0: "com"; 5: "example" -> 0; 15: "www" -> 5
    const bytes = [3, ...ascii('com'), 0, 7, ...ascii('example'), 0xc0, 0, 3, ...ascii('www'), 0xc0, 5];
    assert.deepEqual(search(bytes).domainSearch, ['com', 'example.com', 'www.example.com']);
  });

  it('a pointer to itself (a loop) is rejected', () => {
    assert.match(rejectedReason([...wire('a.b'), 1, 0x61, 0xc0, 5]), /does not point backwards/);
  });

  it('a pointer back into its own name (a longer loop) is rejected', () => {
    // 0: label "a" then pointer to 0: would read "a.a.a..." for ever
    assert.match(rejectedReason([1, 0x61, 0xc0, 0]), /does not point backwards/);
  });

  it('two pointers that bounce between each other are rejected', () => {
    // 0: "x" -> 6 (forward); 6: "y" -> 0
    assert.match(rejectedReason([1, 0x78, 0xc0, 6, 0, 0, 1, 0x79, 0xc0, 0]), /does not point backwards/);
  });

  it('a forward pointer is rejected', () => {
    assert.match(rejectedReason([0xc0, 2, ...wire('example.com')]), /does not point backwards/);
  });

  it('a pointer past the end of the option is rejected', () => {
    assert.match(rejectedReason([...wire('a.b'), 0xc0]), /truncated pointer/);
    assert.match(rejectedReason([...wire('a.b'), 0xff, 0xff]), /does not point backwards/);
  });

  it('a truncated label or a missing terminator is rejected', () => {
    assert.match(rejectedReason([5, 0x61, 0x62]), /runs past the option/);
    assert.match(rejectedReason([1, 0x61]), /runs past the option/);
  });

  it('reserved label types (0x40, 0x80) are rejected', () => {
    assert.match(rejectedReason([0x41, 0x61, 0]), /reserved label type/);
    assert.match(rejectedReason([0x81, 0x61, 0]), /reserved label type/);
  });

  it('names with shell metacharacters, spaces, NUL or non-ASCII are rejected (CVE-2018-1111)', () => {
    for (const label of ['$(reboot)', 'a;b', '`id`', 'a b', 'a\u0000b', 'caf\u00e9', 'a.b']) {
      const bytes = Buffer.from(label, 'utf8');
      assert.deepEqual(search([bytes.length, ...bytes, 0]).rejected.map((r) => r.option), [119], label);
    }
  });

  it('one bad name rejects the whole list', () => {
    assert.equal(search([...wire('good.example'), 3, ...ascii('a;b'), 0]).domainSearch, undefined);
  });

  it('the root name, an empty option and over-long names are rejected', () => {
    assert.match(rejectedReason([0]), /root name/);
    assert.match(rejectedReason([]), /empty/);
    assert.match(rejectedReason([64, ...new Array<number>(64).fill(0x61), 0]), /reserved label type|longer/);
    const long = [...Array(5)].map(() => 'a'.repeat(60)).join('.');
    assert.match(rejectedReason(wire(long)), /longer than 253/);
  });

  it('32 names are accepted, 33 reject the option', () => {
    const names = [...Array(33).keys()].map((i) => `d${i}.example`);
    assert.equal(search(names.slice(0, 32).flatMap(wire)).domainSearch?.length, 32);
    assert.match(rejectedReason(names.flatMap(wire)), /more than 32/);
  });
});
