/**
 * An AF_PACKET socket for ARP (ETH_P_ARP) on a pod's interface, opened for one address
 * probe and closed after it (probe-socket.ts), with the kernel BPF filter of arp-filter.ts.
 */
import * as libc from './libc';
import { arpConflictFilter } from './arp-filter';
import { openProbeSocket } from './probe-socket';

const BROADCAST = Buffer.alloc(6, 0xff);

export interface ArpSocket {
  /** Broadcasts one ARP packet (the 28 bytes after the Ethernet header). */
  send(arp: Buffer): void;
  close(): void;
}

export interface OpenArpSocketOptions {
  netnsPath: string;
  ifname: string;
  /** only ARP that can conflict with this address reaches onArp */
  address: string;
  onArp: (arp: Buffer) => void;
  onError: (err: Error) => void;
}

export function openArpSocket(opts: OpenArpSocketOptions): ArpSocket {
  const s = openProbeSocket({
    netnsPath: opts.netnsPath,
    ifname: opts.ifname,
    protocol: libc.ETH_P_ARP,
    filter: arpConflictFilter(opts.address),
    what: 'ARP socket',
    onFrame: (arp) => opts.onArp(arp),
    onError: opts.onError,
  });
  return { send: (arp) => s.send(arp, BROADCAST), close: () => s.close() };
}
