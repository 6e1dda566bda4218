/**
 * How a shim finds its daemon's code for `<shim> daemon`, without loading it for CNI calls:
 * the bundle beside the installed shim (dist/lib/<bundle>), or the TypeScript source when the
 * shim runs from source (tests via tsx).
 */
// named imports, as in cni-skel.ts: no copy of each module's exports on every CNI call
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface DaemonModule {
  main(argv: string[]): void;
}

/** `shimFile`/`shimDir`: the caller's __filename and __dirname; `source` is relative to the repo root. */
export function loadDaemon(shimFile: string, shimDir: string, bundle: string, source: string): DaemonModule {
  const built = join(dirname(realpathSync(shimFile)), '..', 'lib', bundle);
  const modulePath = existsSync(built) ? built : join(shimDir, '..', source);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(modulePath) as DaemonModule;
}
