/** Talks to a lab's daemon over its socket, through the same client the shim and CLI use. */
import * as fs from 'node:fs';
import { call } from '../../shared/rpc-client';
import { Method, type LeaseView } from '../../shared/rpc-protocol';
import type { Lab } from './lab';

export function leases(lab: Lab): Promise<LeaseView[]> {
  return call<LeaseView[]>(lab.socketPath, Method.Leases, {}, { timeoutMs: 10_000 });
}

export function stateFiles(lab: Lab): string[] {
  return fs.existsSync(lab.stateDir) ? fs.readdirSync(lab.stateDir).filter((f) => f.endsWith('.json')) : [];
}

export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * The process's anonymous memory (RssAnon): heap, stacks, buffers, what a leak grows. Unlike
 * VmRSS it does not move when the daemon trims its executable's file pages (daemon/resident-trim.ts).
 */
export function anonKb(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
