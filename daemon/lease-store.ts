/**
 * One JSON file per attachment under the state dir, written atomically (temp file, fsync,
 * rename, fsync of the directory), so a kill -9 at any instant leaves either the old or the
 * new file. Leftover temp files and unreadable files are moved to quarantine/, never fatal.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LeaseRecord } from './client/machine-types';
import type { AddressChangePolicy } from '../shared/dhcp-config';
import type { ArpProbeConfig } from '../shared/dhcp-config';

export const STORE_FORMAT = 1;

export interface StoredAttachment {
  format: number;
  containerId: string;
  netName: string;
  ifname: string;
  netns: string;
  /** dev:ino of the namespace when it was opened, to notice a reused path */
  netnsId?: string;
  podName?: string;
  podNamespace?: string;
  mac: string;
  clientId: string; // hex
  provide: Array<{ code: number; value: string }>;
  requestList: number[];
  /** ipam.onAddressChange at ADD; absent means "move" */
  onAddressChange?: AddressChangePolicy;
  /** ipam.arpProbe as given at ADD; absent: the default */
  arpProbe?: ArpProbeConfig;
  lease: LeaseRecord;
}

export interface LoadReport {
  entries: StoredAttachment[];
  quarantined: Array<{ file: string; reason: string }>;
}

export function attachmentKey(containerId: string, netName: string, ifname: string): string {
  return `${containerId}/${netName}/${ifname}`;
}

export class LeaseStore {
  constructor(readonly dir: string) {}

  init(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  fileFor(key: string): string {
    return path.join(this.dir, `${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  }

  /**
   * `durable` fsyncs the file and the directory: for a new lease, which must survive a crash.
   * A renewal skips both (they block the event loop, and under a burst they add up): a crash
   * that loses it leaves the previous version, still a valid lease that the restart renews.
   */
  save(entry: StoredAttachment, durable = true): void {
    const file = this.fileFor(attachmentKey(entry.containerId, entry.netName, entry.ifname));
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(entry, null, 1) + '\n');
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    if (durable) this.syncDir();
  }

  remove(key: string): void {
    try {
      fs.unlinkSync(this.fileFor(key));
      this.syncDir();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  load(): LoadReport {
    const report: LoadReport = { entries: [], quarantined: [] };
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
      throw err;
    }
    for (const name of names.sort()) {
      const file = path.join(this.dir, name);
      if (!fs.statSync(file).isFile()) continue;
      if (!name.endsWith('.json')) {
        this.quarantine(file, report, name.endsWith('.tmp') ? 'leftover temp file from an interrupted write' : 'not a lease file');
        continue;
      }
      try {
        const entry = validateEntry(JSON.parse(fs.readFileSync(file, 'utf8')));
        if (this.fileFor(attachmentKey(entry.containerId, entry.netName, entry.ifname)) !== file) throw new Error('file name does not match its attachment');
        report.entries.push(entry);
      } catch (err) {
        this.quarantine(file, report, `unreadable: ${(err as Error).message}`);
      }
    }
    return report;
  }

  private quarantine(file: string, report: LoadReport, reason: string): void {
    const qdir = path.join(this.dir, 'quarantine');
    fs.mkdirSync(qdir, { recursive: true, mode: 0o700 });
    const dest = path.join(qdir, `${path.basename(file)}.${Date.now()}`);
    fs.renameSync(file, dest);
    report.quarantined.push({ file: dest, reason });
  }

  private syncDir(): void {
    const fd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

function req<T>(cond: boolean, what: string, v: T): T {
  if (!cond) throw new Error(`bad or missing ${what}`);
  return v;
}

export function validateEntry(raw: unknown): StoredAttachment {
  const o = req(!!raw && typeof raw === 'object', 'object', raw as Record<string, unknown>);
  req(o.format === STORE_FORMAT, 'format', 0);
  for (const k of ['containerId', 'netName', 'ifname', 'netns', 'mac', 'clientId']) req(typeof o[k] === 'string' && o[k] !== '', k, 0);
  req(Array.isArray(o.provide) && Array.isArray(o.requestList), 'provide/requestList', 0);
  const l = req(!!o.lease && typeof o.lease === 'object', 'lease', o.lease as Record<string, unknown>);
  for (const k of ['address', 'serverId']) req(typeof l[k] === 'string', `lease.${k}`, 0);
  for (const k of ['prefixLength', 'boundAt', 'leaseTime', 't1', 't2']) req(typeof l[k] === 'number' && Number.isFinite(l[k]), `lease.${k}`, 0);
  req(!!l.params && typeof l.params === 'object', 'lease.params', 0);
  return o as unknown as StoredAttachment;
}
