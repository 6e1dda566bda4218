/**
 * One JSON file per attachment under the state dir. Every write goes to a temp file that is
 * flushed (fsync/fdatasync) before it is renamed over the old one, so a crash at any instant
 * leaves the old file or the new one on every Linux filesystem: without the flush, ext4 with
 * nodelalloc, XFS and btrfs may show the renamed name over a zero-length file after a power
 * loss. A new lease also fsyncs the directory, so that the name itself survives; a renewal
 * does not need to (losing its rename leaves the previous, still valid, version).
 *
 * A new lease is on disk before the ADD answers. A flush costs ~5 ms on a virtual disk
 * (bench/store-sync.ts), which neither renewals nor a burst of ADDs can pay on the event loop
 * (1000 leases renewing at once would stall it for 5 s; 200 ADDs at once, 1 s, during which no
 * other pod's DHCP reply is read), so the ADD's write (saveNew, which the ADD awaits), a DEL's
 * delete (removeDurably, which the DEL awaits) and a renewal's write run on libuv's thread pool, where concurrent fdatasyncs share a
 * journal commit (group commit). A newer write, a new lease or a remove of the same file
 * supersedes a write still in flight, which then never renames over them.
 * Files that cannot be read back are moved to quarantine/ at start-up and reported, never fatal.
 * See docs/architecture.md, "Persistence".
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateEntry, type StoredAttachment } from './stored-attachment';

export { STORE_FORMAT, validateEntry, type StoredAttachment } from './stored-attachment';

export interface QuarantinedFile {
  /** where the file was (its name in the state dir) */
  name: string;
  /** where it is now; undefined when it could not be moved */
  movedTo?: string;
  reason: string;
}

export interface LoadReport {
  entries: StoredAttachment[];
  quarantined: QuarantinedFile[];
}

export type RenewalWrites =
  /** the default: flushed, off the event loop, group-committed */
  | 'async-flush'
  /** flushed on the event loop (bench/store-sync.ts compares) */
  | 'sync-flush'
  /** not flushed: the behaviour before, which a crash can leave as an empty file (bench only) */
  | 'no-flush';

export interface LeaseStoreOptions {
  renewalWrites?: RenewalWrites;
  /** a renewal that could not be written (its previous version stays on disk) */
  onRenewalError?: (err: Error, file: string) => void;
}

export const QUARANTINE_DIR = 'quarantine';

export function attachmentKey(containerId: string, netName: string, ifname: string): string {
  return `${containerId}/${netName}/${ifname}`;
}

export class LeaseStore {
  private readonly renewalWrites: RenewalWrites;
  private readonly onRenewalError: (err: Error, file: string) => void;
  /** file → the write that may still rename over it; any other write in flight is superseded */
  private readonly latest = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  private seq = 0;

  constructor(
    readonly dir: string,
    opts: LeaseStoreOptions = {},
  ) {
    this.renewalWrites = opts.renewalWrites ?? 'async-flush';
    this.onRenewalError = opts.onRenewalError ?? (() => {});
  }

  init(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  fileFor(key: string): string {
    return path.join(this.dir, `${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  }

  /**
   * `durable` (a new lease): written, flushed, renamed and the directory synced before this
   * returns; throws the fs error (its message names the errno and the path). Otherwise (a
   * renewal) the write completes later, see the file comment; errors go to onRenewalError.
   */
  save(entry: StoredAttachment, durable = true): void {
    const file = this.fileFor(attachmentKey(entry.containerId, entry.netName, entry.ifname));
    const data = JSON.stringify(entry, null, 1) + '\n';
    if (!durable && this.renewalWrites === 'async-flush') {
      this.saveLater(file, data);
      return;
    }
    this.latest.delete(file);
    const tmp = this.tmpFor(file);
    try {
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, data);
        if (durable) fs.fsyncSync(fd);
        else if (this.renewalWrites === 'sync-flush') fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (err) {
      discard(tmp);
      throw err;
    }
    if (durable) this.syncDir();
  }

  /**
   * A new lease, durably, off the event loop: written, flushed, renamed and the directory synced
   * when the promise resolves; rejects with the fs error (its message names the errno and the
   * path), leaving no temp file. The same guarantees as `save(entry, true)`.
   */
  async saveNew(entry: StoredAttachment): Promise<void> {
    const file = this.fileFor(attachmentKey(entry.containerId, entry.netName, entry.ifname));
    const data = JSON.stringify(entry, null, 1) + '\n';
    const tmp = this.tmpFor(file);
    const mine = this.seq;
    this.latest.set(file, mine);
    try {
      await writeFlushed(tmp, data);
      if (!this.renameIfLatest(tmp, file, mine)) return;
    } catch (err) {
      discard(tmp);
      if (this.latest.get(file) === mine) this.latest.delete(file);
      throw err;
    }
    await this.syncDirAsync();
  }

  private async syncDirAsync(): Promise<void> {
    const dh = await fs.promises.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  /** Resolves when every renewal write in flight has finished (daemon shutdown, tests). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private saveLater(file: string, data: string): void {
    const tmp = this.tmpFor(file);
    const mine = this.seq;
    this.latest.set(file, mine);
    const p = (async () => {
      try {
        await writeFlushed(tmp, data);
        this.renameIfLatest(tmp, file, mine);
      } catch (err) {
        discard(tmp);
        if (this.latest.get(file) === mine) this.latest.delete(file);
        this.onRenewalError(err as Error, file);
      }
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /**
   * Renames the flushed temp file over `file` unless a newer write or a remove superseded it
   * (then the temp file is discarded): checked and renamed in one turn of the loop, so nothing
   * can supersede in between. False when superseded.
   */
  private renameIfLatest(tmp: string, file: string, mine: number): boolean {
    if (this.latest.get(file) !== mine) {
      discard(tmp);
      return false;
    }
    this.latest.delete(file);
    fs.renameSync(tmp, file);
    return true;
  }

  private tmpFor(file: string): string {
    return `${file}.${process.pid}.${++this.seq}.tmp`;
  }

  /** Deletes the attachment's file and syncs the directory, on the event loop (start-up). */
  remove(key: string): void {
    const file = this.fileFor(key);
    this.latest.delete(file);
    try {
      fs.unlinkSync(file);
      this.syncDir();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /**
   * `remove` off the event loop (a DEL): the unlink and the directory's fsync run on the thread
   * pool, and the promise resolves once both are done, so a DEL still answers only when the file
   * is gone for good. A write in flight for the file is superseded at once, before the first await.
   */
  async removeDurably(key: string): Promise<void> {
    const file = this.fileFor(key);
    this.latest.delete(file);
    try {
      await fs.promises.unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await this.syncDirAsync();
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
      if (name === QUARANTINE_DIR) continue;
      const file = path.join(this.dir, name);
      const why = this.problemWith(file, name);
      if (why === undefined) continue;
      if (typeof why !== 'string') report.entries.push(why);
      else this.quarantine(file, why, report);
    }
    return report;
  }

  /** The entry in `file`, or why it is not one. lstat: a symlink (dangling or not) is never followed. */
  private problemWith(file: string, name: string): StoredAttachment | string | undefined {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch {
      return undefined; // gone since readdir
    }
    if (st.isSymbolicLink()) return 'a symbolic link, not a lease file';
    if (!st.isFile()) return 'not a regular file';
    if (name.endsWith('.tmp')) return 'leftover temp file from an interrupted write';
    if (!name.endsWith('.json')) return 'not a lease file';
    try {
      const entry = validateEntry(JSON.parse(fs.readFileSync(file, 'utf8')));
      if (this.fileFor(attachmentKey(entry.containerId, entry.netName, entry.ifname)) !== file) return 'file name does not match its attachment';
      return entry;
    } catch (err) {
      return `unreadable: ${(err as Error).message}`;
    }
  }

  private quarantine(file: string, reason: string, report: LoadReport): void {
    const name = path.basename(file);
    try {
      const qdir = path.join(this.dir, QUARANTINE_DIR);
      fs.mkdirSync(qdir, { recursive: true, mode: 0o700 });
      const movedTo = path.join(qdir, `${name}.${Date.now()}`);
      fs.renameSync(file, movedTo);
      report.quarantined.push({ name, movedTo, reason });
    } catch (err) {
      // a state dir we cannot write to still lets the daemon start with what it could read
      report.quarantined.push({ name, reason: `${reason}; could not move it aside: ${(err as Error).message}` });
    }
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

/** A new temp file with `data`, flushed (fdatasync: for a new file that includes its size and blocks). */
async function writeFlushed(tmp: string, data: string): Promise<void> {
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function discard(tmp: string): void {
  try {
    fs.rmSync(tmp, { force: true });
  } catch {
    // the caller's error says what is wrong with the state dir
  }
}
