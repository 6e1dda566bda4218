/**
 * Where a unicast DHCP message leaves the pod: through a UDP socket bound in the pod to the
 * leased address (udp-socket.ts), so the pod's routes and neighbours choose the next hop.
 * Created at the first unicast send, not at ADD: the main plugin puts the address on the
 * interface only after IPAM ADD returns. When it cannot be made or used, send() says so and
 * the caller falls back to the packet socket (the ACK's source MAC), which still works when
 * the server or a relay that is also the gateway answered us directly.
 */
import { openUdpSender, type UdpSender } from './io/udp-socket';
import type { Logger } from './log';

export class UnicastPath {
  private sender: UdpSender | undefined;

  constructor(
    private readonly netnsPath: string,
    private readonly ifname: string,
    private readonly log: Logger,
    private readonly open: typeof openUdpSender = openUdpSender,
  ) {}

  /** true when sent through the pod's routing; false: use the fallback path. */
  send(payload: Buffer, srcIp: string, dstIp: string): boolean {
    try {
      if (this.sender?.address !== srcIp) {
        // a new address (the lease moved) needs a socket bound to it
        this.close();
        this.sender = this.open(this.netnsPath, this.ifname, srcIp);
      }
      this.sender.send(payload, dstIp);
      return true;
    } catch (err) {
      // the address left the interface, the interface went away, :68 is taken in the pod:
      // try again at the next unicast send
      this.close();
      this.log.debug('unicast through the pod\'s routing unavailable; sending to the server\'s MAC', { err: (err as Error).message, address: srcIp });
      return false;
    }
  }

  close(): void {
    this.sender?.close();
    this.sender = undefined;
  }
}
