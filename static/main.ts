/** The `static` executable: the reference static IPAM plugin's behaviour on the shared CNI frame. */
import { processIo, runCni } from '../shared/cni-skel';
import { staticHandlers, staticRunOptions } from './static-plugin';

runCni(processIo(), staticHandlers, staticRunOptions).then(
  (code) => {
    // exitCode, not process.exit(): let a piped stdout drain before the process ends
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`static: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
