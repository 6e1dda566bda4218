/**
 * An AF_PACKET socket for ICMPv6 Neighbour Discovery (ETH_P_IPV6) on a pod's interface, opened
 * for one DAD probe and closed after it (probe-socket.ts). A packet socket, not a raw ICMPv6
 * one, for the reason the ARP probe uses one: the probe must be sent from :: (RFC 4862 §5.4.2),
 * which a raw socket would replace with the kernel's link-local source, and an NS to the
 * solicited-node group of an address the pod does not hold is not delivered to a raw socket
 * unless the pod joins that group. The socket joins the group's Ethernet address
 * (33:33:ff:XX:XX:XX) itself, so another host's DAD probe for the same address reaches it.
 */
import * as libc from './libc';
import { ndConflictFilter } from './nd-filter';
import { openProbeSocket, type ProbeSocket } from './probe-socket';
import { solicitedNodeMac } from '../nd/nd-packet';


export interface OpenNdSocketOptions {
  netnsPath: string;
  ifname: string;
  /** only NS/NA whose target is this address reach onPacket */
  address: string;
  /** the IPv6 packet and its Ethernet source */
  onPacket: (ipv6: Buffer, srcMac: Buffer) => void;
  onError: (err: Error) => void;
}

export function openNdSocket(opts: OpenNdSocketOptions): ProbeSocket {
  return openProbeSocket({
    netnsPath: opts.netnsPath,
    ifname: opts.ifname,
    protocol: libc.ETH_P_IPV6,
    filter: ndConflictFilter(opts.address),
    joinMac: solicitedNodeMac(opts.address),
    what: 'ND socket',
    onFrame: opts.onPacket,
    onError: opts.onError,
  });
}
