/**
 * Keeps the daemon's resident set to the pages it uses. A Node process maps its 99 MB
 * executable, and start-up alone (the built-in snapshot, ICU data, start-up code) leaves about
 * 35 MB of it resident, nearly all of which a running daemon never touches again: with it, our
 * idle daemon was 50 MB RSS, of which 39 MB file-backed (docs/packaging.md, "Daemon memory").
 * MADV_DONTNEED on a private file mapping drops this process's page-table entries; the pages
 * stay in the page cache, shared, and the ones still used fault back in from it (minor faults,
 * no I/O). That is correct only for a mapping with no private (copy-on-write) copy of a page,
 * which would be lost: so only read-only private file mappings whose smaps says
 * `Anonymous: 0 kB` are trimmed (a RELRO segment the dynamic linker relocated has anonymous
 * pages and is left alone).
 */
import * as fs from 'node:fs';
import * as libc from './io/libc';
import type { Logger } from './log';

export interface Mapping {
  start: number;
  length: number;
  file: string;
}

/** The mappings of an smaps text that can be dropped safely (see the file comment). Pure. */
export function trimmableMappings(smaps: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: { m: Mapping; ok: boolean; anonymous: number | undefined } | undefined;
  const close = () => {
    if (cur?.ok && cur.anonymous === 0) out.push(cur.m);
  };
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      close();
      const [, from = '', to = '', perms = '', inode = '', file = ''] = head;
      const start = parseInt(from, 16);
      const length = parseInt(to, 16) - start;
      // private, not writable, backed by a file (inode ≠ 0, a path, not "(deleted)")
      const ok = perms[1] === '-' && perms[3] === 'p' && inode !== '0' && file.startsWith('/') && !file.endsWith(' (deleted)') && length > 0;
      cur = { m: { start, length, file }, ok, anonymous: undefined };
      continue;
    }
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon && cur) cur.anonymous = Number(anon[1]);
  }
  close();
  return out;
}

/** Drops the trimmable mappings' pages from this process's page tables; returns how many bytes of mappings it covered. */
export function trimResident(): { mappings: number; bytes: number } {
  let mappings = 0;
  let bytes = 0;
  for (const m of trimmableMappings(fs.readFileSync('/proc/self/smaps', 'utf8'))) {
    if (libc.madvise(m.start, m.length, libc.MADV_DONTNEED) !== 0) continue;
    mappings++;
    bytes += m.length;
  }
  return { mappings, bytes };
}

/**
 * Trims once the daemon has settled after its start (restore, first renewals), then every
 * `intervalMs`, dropping what start-up and bursts touched once. Each run costs well under a
 * millisecond plus the minor faults of the pages still in use. Never fatal.
 */
export function startResidentTrim(log: Logger, firstMs = 2000, intervalMs = 60_000): () => void {
  const run = () => {
    try {
      trimResident();
    } catch (err) {
      log.debug('could not trim resident file pages', { err: (err as Error).message });
    }
  };
  const first = setTimeout(run, firstMs);
  const every = setInterval(run, intervalMs);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
