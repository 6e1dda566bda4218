/**
 * An in-memory packet path for unit tests of the orchestration layer (LeaseManager, Attachment)
 * without root: `openSocket` stands in for the pod-netns AF_PACKET socket and delivers every
 * frame the attachment sends to a scripted server, which answers with replies built by
 * test/helpers/dhcp-replies.ts and encoded with the real codec (DHCP + IP/UDP). Everything
 * above the socket — the real Attachment, LeaseMachine, LeaseStore and LeaseManager — runs as
 * in the daemon.
 */
import { decodeIpUdp, decodeMessage, encodeIpUdp, encodeMessage, ipToUint32, macToString, uint32ToIp } from '../../daemon/dhcp4';
import { MessageType, Opt, type DhcpMessage } from '../../daemon/dhcp4/types';
import type { OpenPacketSocketOptions, PacketSocket } from '../../daemon/io';
import { SERVER_ID, SERVER_MAC, makeAck, makeNak, makeOffer } from './dhcp-replies';

/** A network namespace path that exists for every user: the test process's own. */
export const OWN_NETNS = '/proc/self/ns/net';

export interface ServerScript {
  /** how the server tells clients apart: by option 61 (a normal server) or by chaddr (udhcpd) */
  keyBy: 'client-id' | 'mac';
  /** 'ack' (default), 'nak' every REQUEST, or 'silent' (answers nothing) */
  answer: 'ack' | 'nak' | 'silent';
  leaseTime: number;
}

export interface SeenMessage {
  type: number | undefined;
  xid: number;
  chaddr: string;
  ciaddr: string;
  requestedIp: string | undefined;
}

/** A DHCP server on the far side of every memory socket it opened. */
export class MemoryDhcpServer {
  readonly seen: SeenMessage[] = [];
  readonly script: ServerScript;
  private readonly leases = new Map<string, string>();
  private next = ipToUint32('198.18.0.10');
  private readonly sockets = new Set<MemorySocket>();

  constructor(script: Partial<ServerScript> = {}) {
    this.script = { keyBy: 'client-id', answer: 'ack', leaseTime: 3600, ...script };
  }

  /** Same signature as daemon/io openPacketSocket; every interface gets its own MAC unless `macFor` says otherwise. */
  openSocket = (opts: OpenPacketSocketOptions): PacketSocket => {
    const s = new MemorySocket(this, opts, this.macFor(opts.ifname, opts.netnsPath));
    this.sockets.add(s);
    return s;
  };

  /** Override to give two attachments one MAC (ipvlan). */
  macFor: (ifname: string, netns: string) => Buffer = (() => {
    let n = 0;
    return () => Buffer.from([0x02, 0x00, 0x00, 0x00, (n >> 8) & 0xff, n++ & 0xff]);
  })();

  count(type: number): number {
    return this.seen.filter((m) => m.type === type).length;
  }

  /** The address the server holds for a client, as its lease table would show. */
  leaseOf(key: string): string | undefined {
    return this.leases.get(key);
  }

  get openSockets(): number {
    return [...this.sockets].filter((s) => !s.closed).length;
  }

  forget(s: MemorySocket): void {
    this.sockets.delete(s);
  }

  /** One frame from a client; returns the reply frame, if any. */
  receive(frame: Buffer): Buffer | undefined {
    const udp = decodeIpUdp(frame);
    const msg = decodeMessage(udp.payload);
    const type = msg.options.get(Opt.MESSAGE_TYPE)?.[0];
    const req = msg.options.get(Opt.REQUESTED_IP);
    this.seen.push({
      type,
      xid: msg.xid,
      chaddr: macToString(msg.chaddr.subarray(0, 6)) ?? msg.chaddr.toString('hex'),
      ciaddr: msg.ciaddr,
      requestedIp: req ? [...req].join('.') : undefined,
    });
    const key = this.clientKey(msg);
    if (type === MessageType.RELEASE) {
      this.leases.delete(key);
      return undefined;
    }
    if (this.script.answer === 'silent') return undefined;
    const spec = { xid: msg.xid, chaddr: msg.chaddr, params: { leaseTime: this.script.leaseTime } };
    if (type === MessageType.DISCOVER) return this.frame(makeOffer({ ...spec, yiaddr: this.addressFor(key) }).msg);
    if (type === MessageType.REQUEST) {
      if (this.script.answer === 'nak') return this.frame(makeNak(spec).msg);
      return this.frame(makeAck({ ...spec, yiaddr: this.addressFor(key) }).msg);
    }
    return undefined;
  }

  private clientKey(msg: DhcpMessage): string {
    if (this.script.keyBy === 'mac') return msg.chaddr.toString('hex');
    return (msg.options.get(Opt.CLIENT_ID) ?? msg.chaddr).toString('hex');
  }

  private addressFor(key: string): string {
    let ip = this.leases.get(key);
    if (!ip) {
      ip = uint32ToIp(this.next++);
      this.leases.set(key, ip);
    }
    return ip;
  }

  private frame(reply: DhcpMessage): Buffer {
    return encodeIpUdp({ srcIp: SERVER_ID, dstIp: '255.255.255.255', srcPort: 67, dstPort: 68, payload: encodeMessage(reply) });
  }
}

class MemorySocket implements PacketSocket {
  readonly ifindex = 2;
  readonly broughtUp = false;
  closed = false;

  constructor(
    private readonly server: MemoryDhcpServer,
    private readonly opts: OpenPacketSocketOptions,
    readonly mac: Buffer,
  ) {}

  send(ipPacket: Buffer): void {
    if (this.closed) throw new Error('socket closed');
    const reply = this.server.receive(Buffer.from(ipPacket));
    // replies arrive later, as from the wire, never inside the send call
    if (reply) setImmediate(() => !this.closed && this.opts.onPacket(reply, SERVER_MAC));
  }

  isRunning(): boolean {
    return true;
  }

  peerSettled(): boolean {
    return true;
  }

  close(): void {
    this.closed = true;
    this.server.forget(this);
  }
}
