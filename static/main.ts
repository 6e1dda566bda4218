/** The `static` executable: the reference static IPAM plugin's behaviour on the shared CNI frame. */
import { processIo, runCni } from '../shared/cni-skel';
import { lazyHandlers } from '../shared/lazy-handlers';
import { staticRunOptions } from './static-options';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const handlers = lazyHandlers(() => (require('./static-plugin') as typeof import('./static-plugin')).staticHandlers);

runCni(processIo(), handlers, staticRunOptions).then(
  (code) => {
    // exitCode, not process.exit(): let a piped stdout drain before the process ends
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`static: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
