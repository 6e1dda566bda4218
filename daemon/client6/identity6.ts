/**
 * Who we are to a DHCPv6 server. The DUID names the pod and the IAID its interface, which is
 * the RFC's own model (one client, one IA per interface), derived from the attachment's identity
 * rather than the MAC: the bridge plugin gives every ADD a new random MAC, and pods sharing a MAC
 * (ipvlan, a shared-MAC macvlan) would otherwise share a DUID and so one address. docs/dhcpv6.md
 * has the reasoning.
 */
import { createHash } from 'node:crypto';
import { encodeDuid } from '../dhcp6/option-values6';

const NAMESPACE = 'cni-dhcp/dhcpv6';

/** DUID-UUID (RFC 6355) of a name-based UUID (RFC 9562 version 8, SHA-256) of the container id. */
export function duidForContainer(containerId: string): Buffer {
  const h = createHash('sha256').update(`${NAMESPACE}\0${containerId}`).digest();
  const uuid = Buffer.from(h.subarray(0, 16));
  uuid[6] = (uuid[6]! & 0x0f) | 0x80; // version 8
  uuid[8] = (uuid[8]! & 0x3f) | 0x80; // RFC 9562 variant
  return encodeDuid({ type: 'uuid', uuid });
}

/** A stable 32-bit IAID for the interface of one network in the pod. */
export function iaidFor(netName: string, ifName: string): number {
  return createHash('sha256').update(`${NAMESPACE}\0${netName}\0${ifName}`).digest().readUInt32BE(0);
}
