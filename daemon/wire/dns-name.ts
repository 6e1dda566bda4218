/**
 * DNS names for DHCPv4 options 12, 15 and 119 and DHCPv6 option 24, the one codec of RFC 1035
 * names in the code base. These values end up in resolv.conf, in logs
 * and possibly in hook scripts, so only plain hostname characters pass: a value such as
 * "x$(reboot)" or "a;b" is refused whole (CVE-2018-1111, where dhclient hooks ran such values
 * through a shell). We never pass them to a shell either.
 */
import { MalformedPacketError } from '../../shared/errors';

const MAX_NAME = 253;
const MAX_LABEL = 63;
/** Letters, digits, underscore (SRV-style names), hyphen except first and last (RFC 1123). */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;
/** Bound on compression pointers followed for one name; each must also jump strictly backwards. */
const MAX_POINTERS = 64;
/** Names accepted in one option 119; a longer list is rejected whole. */
export const MAX_SEARCH_NAMES = 32;

/** Why `label` is not a valid label, or undefined if it is. */
function labelProblem(label: string): string | undefined {
  if (label.length === 0) return 'empty label';
  if (label.length > MAX_LABEL) return `label longer than ${MAX_LABEL}`;
  if (!LABEL.test(label)) return `invalid characters in label ${JSON.stringify(label)}`;
  return undefined;
}

/**
 * Validates a textual DNS name from an option value and returns it without the trailing NUL or
 * dot that some servers append (one of each is tolerated). Throws MalformedPacketError.
 */
export function parseDnsNameText(value: Buffer): string {
  let end = value.length;
  if (end > 0 && value[end - 1] === 0) end--;
  if (end > 0 && value[end - 1] === 0x2e) end--;
  const bytes = value.subarray(0, end);
  // Checked on bytes first so that NUL or non-ASCII cannot be hidden by a lossy decode.
  for (const b of bytes) {
    if (b < 0x21 || b > 0x7e) {
      throw new MalformedPacketError(`name contains byte 0x${b.toString(16).padStart(2, '0')}`);
    }
  }
  const name = bytes.toString('ascii');
  checkName(name.split('.'));
  return name;
}

function checkName(labels: string[]): void {
  for (const label of labels) {
    const problem = labelProblem(label);
    if (problem) throw new MalformedPacketError(problem);
  }
  const length = labels.reduce((n, l) => n + l.length, 0) + labels.length - 1;
  if (length > MAX_NAME) throw new MalformedPacketError(`name longer than ${MAX_NAME}`);
}

/**
 * Decodes option 119 (RFC 3397): a sequence of RFC 1035 wire-format names, where a compression
 * pointer refers to an earlier offset in the same (concatenated) option. Every pointer must land
 * before both the start of the name being read and the previous pointer's target, so the walk
 * always moves backwards and terminates; MAX_POINTERS bounds it further. DHCPv6 option 24
 * (RFC 8415 §10) forbids compression: pass `compression: false` and any pointer is malformed.
 */
export function parseDomainSearch(value: Buffer, opts: { compression?: boolean } = {}): string[] {
  const compression = opts.compression ?? true;
  if (value.length === 0) throw new MalformedPacketError('empty domain search list');
  const names: string[] = [];
  let pos = 0;
  while (pos < value.length) {
    if (names.length === MAX_SEARCH_NAMES) {
      throw new MalformedPacketError(`more than ${MAX_SEARCH_NAMES} search domains`);
    }
    const { labels, next } = readWireName(value, pos, compression);
    if (labels.length === 0) throw new MalformedPacketError('root name in search list');
    checkName(labels);
    names.push(labels.join('.'));
    pos = next;
  }
  return names;
}

function readWireName(value: Buffer, start: number, compression: boolean): { labels: string[]; next: number } {
  const labels: string[] = [];
  let p = start;
  let barrier = start;
  let next: number | undefined;
  let hops = 0;
  let wireLength = 0;
  for (;;) {
    const len = value[p];
    if (len === undefined) throw new MalformedPacketError(`name at ${start} runs past the option`);
    if (len === 0) {
      return { labels, next: next ?? p + 1 };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (!compression) throw new MalformedPacketError(`compression pointer at ${p} where names must be uncompressed`);
      const low = value[p + 1];
      if (low === undefined) throw new MalformedPacketError(`truncated pointer at ${p}`);
      const target = ((len & 0x3f) << 8) | low;
      if (target >= barrier) {
        throw new MalformedPacketError(`compression pointer at ${p} to ${target} does not point backwards`);
      }
      if (++hops > MAX_POINTERS) throw new MalformedPacketError('too many compression pointers');
      next ??= p + 2;
      barrier = target;
      p = target;
      continue;
    }
    if (kind !== 0) throw new MalformedPacketError(`reserved label type 0x${kind.toString(16)} at ${p}`);
    if (p + 1 + len > value.length) throw new MalformedPacketError(`label at ${p} runs past the option`);
    const raw = value.subarray(p + 1, p + 1 + len);
    wireLength += len + 1;
    if (wireLength > MAX_NAME + 1) throw new MalformedPacketError(`name longer than ${MAX_NAME}`);
    for (const b of raw) {
      if (b < 0x21 || b > 0x7e) {
        throw new MalformedPacketError(`name contains byte 0x${b.toString(16).padStart(2, '0')}`);
      }
    }
    labels.push(raw.toString('ascii'));
    p += 1 + len;
  }
}

/**
 * Names → concatenated uncompressed wire format (each label length-prefixed, a 0 after each
 * name). Invalid names are programming errors and throw RangeError.
 */
export function encodeDnsNames(names: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const name of names) {
    const labels = name.replace(/\.$/, '').split('.');
    try {
      checkName(labels);
    } catch (err) {
      throw new RangeError(`invalid DNS name ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    for (const label of labels) parts.push(Buffer.from([label.length]), Buffer.from(label, 'ascii'));
    parts.push(Buffer.from([0]));
  }
  return Buffer.concat(parts);
}
