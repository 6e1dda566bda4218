/**
 * How a shim finds its daemon's code for `<shim> daemon`, without loading it for CNI calls:
 * the bundle beside the installed shim (dist/lib/<bundle>), or the TypeScript source when the
 * shim runs from source (tests via tsx).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DaemonModule {
  main(argv: string[]): void;
}

/** `shimFile`/`shimDir`: the caller's __filename and __dirname; `source` is relative to the repo root. */
export function loadDaemon(shimFile: string, shimDir: string, bundle: string, source: string): DaemonModule {
  const built = path.join(path.dirname(fs.realpathSync(shimFile)), '..', 'lib', bundle);
  const modulePath = fs.existsSync(built) ? built : path.join(shimDir, '..', source);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(modulePath) as DaemonModule;
}
