/**
 * Runs one DAD probe (dad-probe.ts) for a newly leased IPv6 address on a pod's interface: opens
 * the ND socket, sends the Neighbour Solicitations on the probe's schedule, feeds it what the
 * socket reads, and reports the verdict once, like the ARP probe (conflict-check.ts). A probe
 * that cannot run reports no conflict with the error: it must not cost the pod its lease.
 */
import type { ConflictVerdict } from '../conflict-check';
import type { ProbeStep, ProbeTiming } from '../arp/probe';
import { openNdSocket } from '../io/nd-socket';
import type { ProbeSocket } from '../io/probe-socket';
import { DadProbe } from './dad-probe';
import { buildDadProbe, decodeNd } from './nd-packet';

export interface DadCheckOptions {
  netnsPath: string;
  ifname: string;
  mac: Buffer;
  address: string;
  timing: ProbeTiming;
  now: () => number;
  onDone: (verdict: ConflictVerdict) => void;
  /** tests: another socket */
  openSocket?: typeof openNdSocket;
}

/** Starts the probe; the returned function cancels it (onDone is then never called). */
export function startDadCheck(opts: DadCheckOptions): () => void {
  const probe = new DadProbe(opts.address, opts.mac, opts.timing);
  const ns = buildDadProbe(probe.address);
  let socket: ProbeSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const cancel = () => {
    finished = true;
    if (timer) clearTimeout(timer);
    socket?.close();
  };
  const finish = (v: ConflictVerdict) => {
    if (finished) return;
    cancel();
    opts.onDone(v);
  };
  const step = (s: ProbeStep): void => {
    if (finished) return;
    if (s.type === 'clear') return finish({ conflict: false });
    if (s.type === 'conflict') return finish({ conflict: true, mac: s.mac, reason: s.reason });
    if (s.type === 'send-probe') {
      try {
        socket?.send(ns.packet, ns.dstMac);
      } catch (err) {
        return finish({ conflict: false, error: (err as Error).message });
      }
    }
    const at = s.type === 'wait' ? s.until : s.next;
    timer = setTimeout(() => step(probe.onTimer(opts.now())), Math.max(0, at - opts.now()));
  };
  try {
    socket = (opts.openSocket ?? openNdSocket)({
      netnsPath: opts.netnsPath,
      ifname: opts.ifname,
      address: probe.address,
      onPacket: (packet, srcMac) => {
        let verdict: ProbeStep | undefined;
        try {
          verdict = probe.onNd(decodeNd(packet), srcMac);
        } catch {
          return; // not a valid NS/NA (RFC 4861 §7.1): never a conflict
        }
        if (verdict) step(verdict);
      },
      onError: (err) => finish({ conflict: false, error: err.message }),
    });
  } catch (err) {
    // reported asynchronously, as every other verdict is
    setImmediate(() => finish({ conflict: false, error: (err as Error).message }));
    return () => { finished = true; };
  }
  step(probe.start(opts.now()));
  return () => {
    if (!finished) cancel();
  };
}
