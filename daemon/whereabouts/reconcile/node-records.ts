/**
 * What this node's daemon remembers for its reconciler, in `<state-dir>/reconciler.json`: the
 * network namespace each ADD named (CNI_NETNS, and the namespace's dev:ino when the daemon
 * could see it then), the runtime's most recent CNI GC list per network, and the ipam config
 * of each network on a shared (etcd) store, so a restarted daemon reconciles those stores too.
 *
 * Written in the background, without fsync: losing the latest version in a crash only makes
 * some allocations "unknown" to the next run, which keeps them. Mode 0600: an etcd ipam config
 * can hold credentials, as the network config it came from does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../log';

export const RECORDS_FILE = 'reconciler.json';
const FORMAT = 1;
const SAVE_DELAY_MS = 200;

export interface NetnsRecord {
  containerId: string;
  ifnames: string[];
  /** CNI_NETNS as the runtime sent it */
  path: string;
  /** `dev:ino` of the namespace at ADD; absent when the daemon could not see the path then */
  id?: string;
  at: number;
}

export interface GcRecord {
  network: string;
  /** ms since the epoch the GC arrived */
  at: number;
  valid: Array<{ containerId: string; ifname: string }>;
}

interface Doc {
  format: number;
  netns: NetnsRecord[];
  gc: GcRecord[];
  sharedIpam: Record<string, Record<string, unknown>>;
}

/** `dev:ino` of the namespace a path names, or undefined when it cannot be seen from here */
export function namespaceId(p: string): string | undefined {
  try {
    const st = fs.statSync(p);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export class NodeRecords {
  private readonly file: string;
  private netns = new Map<string, NetnsRecord>();
  private gc = new Map<string, GcRecord>();
  private sharedIpam = new Map<string, Record<string, unknown>>();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.file = path.join(stateDir, RECORDS_FILE);
  }

  load(): void {
    let doc: Doc;
    try {
      doc = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Doc;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        // records are hints: without them allocations are "unknown" and kept, never freed
        this.log.warn('reconciler: records unreadable, starting without them', { file: this.file, err: (err as Error).message });
      }
      return;
    }
    if (doc.format !== FORMAT) return;
    for (const r of doc.netns ?? []) this.netns.set(r.containerId, r);
    for (const g of doc.gc ?? []) this.gc.set(g.network, g);
    for (const [n, ipam] of Object.entries(doc.sharedIpam ?? {})) this.sharedIpam.set(n, ipam);
  }

  /** an ADD answered: remember its namespace (and, for a shared store, its ipam config) */
  added(a: { containerId: string; ifname: string; netns: string; network: string }, at: number, sharedIpam?: Record<string, unknown>): void {
    if (a.netns !== '') {
      const prev = this.netns.get(a.containerId);
      const ifnames = prev && prev.path === a.netns ? [...new Set([...prev.ifnames, a.ifname])] : [a.ifname];
      const id = namespaceId(a.netns);
      this.netns.set(a.containerId, { containerId: a.containerId, ifnames, path: a.netns, ...(id === undefined ? {} : { id }), at });
    }
    if (sharedIpam) this.sharedIpam.set(a.network, sharedIpam);
    this.save();
  }

  /** a DEL answered: that interface's record goes */
  deleted(containerId: string, ifname: string): void {
    const r = this.netns.get(containerId);
    if (!r) return;
    r.ifnames = r.ifnames.filter((i) => i !== ifname);
    if (r.ifnames.length === 0) this.netns.delete(containerId);
    this.save();
  }

  gcArrived(network: string, valid: GcRecord['valid'], at: number): void {
    this.gc.set(network, { network, at, valid });
    this.save();
  }

  netnsRecords(): NetnsRecord[] {
    return [...this.netns.values()];
  }

  gcList(network: string): GcRecord | undefined {
    return this.gc.get(network);
  }

  sharedIpamConfigs(): Array<Record<string, unknown>> {
    return [...this.sharedIpam.values()];
  }

  /** forgets the namespaces of containers that hold nothing any more (after a run read every pool) */
  prune(holding: ReadonlySet<string>, olderThan: number): void {
    let changed = false;
    for (const [id, r] of this.netns) {
      if (!holding.has(id) && r.at < olderThan) {
        this.netns.delete(id);
        changed = true;
      }
    }
    if (changed) this.save();
  }

  /** writes what is pending now (stop) */
  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.write();
  }

  private save(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.write();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  private write(): void {
    const doc: Doc = { format: FORMAT, netns: [...this.netns.values()], gc: [...this.gc.values()], sharedIpam: Object.fromEntries(this.sharedIpam) };
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(doc) + '\n', { mode: 0o600 });
      fs.renameSync(tmp, this.file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      this.log.warn('reconciler: cannot save records', { file: this.file, err: (err as Error).message });
    }
  }
}
