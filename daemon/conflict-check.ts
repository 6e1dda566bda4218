/**
 * Runs one ARP probe (daemon/arp/probe.ts) on a pod's interface: opens the ARP socket, sends
 * the probes on the probe's schedule, feeds it what the socket receives, and reports the
 * verdict once. A probe that cannot run (no socket, send failing) reports 'clear' with the
 * error: it must not cost the pod its lease.
 */
import { buildProbe, decodeArp } from './arp/arp-packet';
import { AddressProbe, type ProbeStep, type ProbeTiming } from './arp/probe';
import { openArpSocket, type ArpSocket } from './io/arp-socket';

export type ConflictVerdict =
  | { conflict: false; error?: string }
  | { conflict: true; mac: Buffer; reason: string };

export interface ConflictCheckOptions {
  netnsPath: string;
  ifname: string;
  mac: Buffer;
  address: string;
  timing: ProbeTiming;
  now: () => number;
  onDone: (verdict: ConflictVerdict) => void;
}

/** Starts the probe; the returned function cancels it (onDone is then never called). */
export function startConflictCheck(opts: ConflictCheckOptions): () => void {
  const probe = new AddressProbe(opts.address, opts.mac, opts.timing);
  let socket: ArpSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const finish = (v: ConflictVerdict) => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    socket?.close();
    opts.onDone(v);
  };
  const step = (s: ProbeStep): void => {
    if (finished) return;
    switch (s.type) {
      case 'clear':
        return finish({ conflict: false });
      case 'conflict':
        return finish({ conflict: true, mac: s.mac, reason: s.reason });
      case 'wait':
      case 'send-probe': {
        if (s.type === 'send-probe') {
          try {
            socket?.send(buildProbe(opts.mac, opts.address));
          } catch (err) {
            return finish({ conflict: false, error: (err as Error).message });
          }
        }
        const at = s.type === 'wait' ? s.until : s.next;
        timer = setTimeout(() => step(probe.onTimer(opts.now())), Math.max(0, at - opts.now()));
        return;
      }
    }
  };
  try {
    socket = openArpSocket({
      netnsPath: opts.netnsPath,
      ifname: opts.ifname,
      address: opts.address,
      onArp: (frame) => {
        let verdict: ProbeStep | undefined;
        try {
          verdict = probe.onArp(decodeArp(frame));
        } catch {
          return; // not Ethernet/IPv4 ARP
        }
        if (verdict) step(verdict);
      },
      onError: (err) => finish({ conflict: false, error: err.message }),
    });
  } catch (err) {
    // report asynchronously, as every other verdict is
    setImmediate(() => finish({ conflict: false, error: (err as Error).message }));
    return () => { finished = true; };
  }
  step(probe.start(opts.now()));
  return () => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    socket?.close();
  };
}
