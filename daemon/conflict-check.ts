/**
 * Runs one address-conflict probe on a pod's interface: opens its socket, sends the probes on
 * the probe's schedule, feeds it what the socket receives, and reports the verdict once. The
 * ARP probe of an IPv4 address is here (daemon/arp/probe.ts); the DAD probe of an IPv6 address
 * (daemon/nd/dad-check.ts) runs on the same runner. A probe that cannot run (no socket, send
 * failing) reports 'clear' with the error: it must not cost the pod its lease.
 */
import { buildProbe, decodeArp } from './arp/arp-packet';
import { AddressProbe, type ProbeStep, type ProbeTiming } from './arp/probe';
import { openArpSocket } from './io/arp-socket';

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

/** What a probe's socket does for the runner: send the next probe, close. */
export interface ProbeIo {
  sendProbe(): void;
  close(): void;
}

export interface ProbeRun {
  /** the pure probe's schedule and verdict */
  schedule: { start(now: number): ProbeStep; onTimer(now: number): ProbeStep };
  now: () => number;
  onDone: (verdict: ConflictVerdict) => void;
  /** opens the socket; it reports a received conflict with `onStep`, a dead socket with `onError` */
  open: (onStep: (s: ProbeStep) => void, onError: (err: Error) => void) => ProbeIo;
}

/** Starts a probe; the returned function cancels it (onDone is then never called). */
export function runProbe(run: ProbeRun): () => void {
  let io: ProbeIo | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const cancel = () => {
    finished = true;
    if (timer) clearTimeout(timer);
    io?.close();
  };
  const finish = (v: ConflictVerdict) => {
    if (finished) return;
    cancel();
    run.onDone(v);
  };
  const step = (s: ProbeStep): void => {
    if (finished) return;
    if (s.type === 'clear') return finish({ conflict: false });
    if (s.type === 'conflict') return finish({ conflict: true, mac: s.mac, reason: s.reason });
    if (s.type === 'send-probe') {
      try {
        io?.sendProbe();
      } catch (err) {
        return finish({ conflict: false, error: (err as Error).message });
      }
    }
    const at = s.type === 'wait' ? s.until : s.next;
    timer = setTimeout(() => step(run.schedule.onTimer(run.now())), Math.max(0, at - run.now()));
  };
  try {
    io = run.open(step, (err) => finish({ conflict: false, error: err.message }));
  } catch (err) {
    // report asynchronously, as every other verdict is
    setImmediate(() => finish({ conflict: false, error: (err as Error).message }));
    return () => { finished = true; };
  }
  step(run.schedule.start(run.now()));
  return () => {
    if (!finished) cancel();
  };
}

/** The RFC 5227 probe of an IPv4 address. */
export function startConflictCheck(opts: ConflictCheckOptions): () => void {
  const probe = new AddressProbe(opts.address, opts.mac, opts.timing);
  return runProbe({
    schedule: probe,
    now: opts.now,
    onDone: opts.onDone,
    open: (onStep, onError) => {
      const socket = openArpSocket({
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
          if (verdict) onStep(verdict);
        },
        onError,
      });
      return { sendProbe: () => socket.send(buildProbe(opts.mac, opts.address)), close: () => socket.close() };
    },
  });
}
