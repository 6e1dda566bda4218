/** A ConfigMap volume as the kubelet writes it (its AtomicWriter): timestamped dir, ..data_tmp, renamed over ..data. */
import * as fs from 'node:fs';
import * as path from 'node:path';

let seq = 0;

/** Writes `files` as the new content of the mount at `dir` (created if need be), exactly as the kubelet swaps it. */
export function kubeletWrite(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  const ts = `..2026_03_01_00_00_00.${process.pid}${seq++}`;
  fs.mkdirSync(path.join(dir, ts));
  for (const [k, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, ts, k), v);
  const data = path.join(dir, '..data');
  const old = fs.existsSync(data) ? fs.readlinkSync(data) : undefined;
  fs.symlinkSync(ts, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), data);
  for (const k of Object.keys(files)) if (!fs.existsSync(path.join(dir, k))) fs.symlinkSync(path.join('..data', k), path.join(dir, k));
  if (old) fs.rmSync(path.join(dir, old), { recursive: true });
}
