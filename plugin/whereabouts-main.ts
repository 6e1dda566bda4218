/**
 * The `whereabouts` executable. As a CNI plugin it forwards one verb to the node's daemon; as
 * `whereabouts daemon [flags]` it runs that daemon, whose code is loaded only then.
 */
import { processIo, runCni } from '../shared/cni-skel';
import { loadDaemon } from '../shared/daemon-loader';
import { whereaboutsHandlers } from './whereabouts-plugin';

if (process.argv[2] === 'daemon') {
  loadDaemon(__filename, __dirname, 'whereabouts-daemon.js', 'daemon/whereabouts/main').main(process.argv.slice(3));
} else {
  runCni(processIo(), whereaboutsHandlers).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`whereabouts: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
