/**
 * Runs one DAD probe (dad-probe.ts) for a newly leased IPv6 address on a pod's interface, on the
 * ARP probe's runner (conflict-check.ts): the ND socket, Neighbour Solicitations on the probe's
 * schedule, every NS/NA it reads fed to the decision, the verdict once. A probe that cannot run
 * reports no conflict with the error: it must not cost the pod its lease.
 */
import { runProbe, type ConflictCheckOptions } from '../conflict-check';
import type { ProbeStep } from '../arp/probe';
import { openNdSocket } from '../io/nd-socket';
import { DadProbe } from './dad-probe';
import { buildDadProbe, decodeNd } from './nd-packet';

/** Starts the probe; the returned function cancels it (onDone is then never called). */
export function startDadCheck(opts: ConflictCheckOptions): () => void {
  const probe = new DadProbe(opts.address, opts.mac, opts.timing);
  const ns = buildDadProbe(probe.address);
  return runProbe({
    schedule: probe,
    now: opts.now,
    onDone: opts.onDone,
    open: (onStep, onError) => {
      const socket = openNdSocket({
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
          if (verdict) onStep(verdict);
        },
        onError,
      });
      return { sendProbe: () => socket.send(ns.packet, ns.dstMac), close: () => socket.close() };
    },
  });
}
