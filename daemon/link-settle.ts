/**
 * The wait before an acquisition's first send, for both families. A main plugin calls IPAM right
 * after it creates the pod's link: the pod end may not be running yet (we may just have brought
 * it up; bridge leaves it down), and the kernel's link watcher sets the far end of a veth (bridge's
 * port) up and forwarding separately, sometimes after the pod end. A DISCOVER or SOLICIT sent
 * before both is dropped, and only the retransmission (2 s for DHCPv4, 1 s for DHCPv6) gets
 * through. docs/architecture.md, "Packet I/O".
 */
import type { LinkReadiness } from './io/link';
import type { MachineTimer } from './machine-timer';

/** the kernel's link watcher runs at most once a second; past this, send anyway */
export const LINK_SETTLE_MAX_MS = 2000;
export const LINK_SETTLE_POLL_MS = 5;

/**
 * Runs `begin` at once when the link is settled, else polls every LINK_SETTLE_POLL_MS on `timer`
 * (the machine's own timer: nothing else is armed before the first send) until it is or
 * LINK_SETTLE_MAX_MS have passed. Never runs `begin` once `closed()` holds.
 */
export function beginWhenSettled(link: LinkReadiness | undefined, timer: MachineTimer, now: () => number, closed: () => boolean, begin: () => void): void {
  const settled = () => link === undefined || (link.isRunning() && link.peerSettled());
  if (settled()) {
    begin();
    return;
  }
  const giveUpAt = now() + LINK_SETTLE_MAX_MS;
  const poll = () => {
    if (closed()) return;
    if (settled() || now() >= giveUpAt) begin();
    else timer.after(LINK_SETTLE_POLL_MS, poll);
  };
  timer.after(LINK_SETTLE_POLL_MS, poll);
}
