/**
 * The Internet checksum (RFC 1071), the one implementation behind IPv4 header, UDP over IPv4
 * and UDP over IPv6 checksums, on send (the codecs) and on receive (completing checksums the
 * kernel left partial).
 */

/** One's complement sum over `parts`, folded to 16 bits (not yet inverted). */
export function onesComplementSum(parts: readonly Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined; // a byte left over from an odd-length part pairs with the next
  for (const part of parts) {
    for (const b of part) {
      if (odd === undefined) {
        odd = b;
      } else {
        sum += (odd << 8) | b;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

export function internetChecksum(...parts: Uint8Array[]): number {
  return ~onesComplementSum(parts) & 0xffff;
}

/** A UDP checksum as sent: RFC 768 sends a computed 0 as 0xffff, since 0 means "none". */
export function udpChecksum(...parts: Uint8Array[]): number {
  const sum = internetChecksum(...parts);
  return sum === 0 ? 0xffff : sum;
}
