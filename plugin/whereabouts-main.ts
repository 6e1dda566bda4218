/**
 * The `whereabouts` executable. As a CNI plugin it forwards one verb to the node's daemon; as
 * `whereabouts daemon [flags]` it runs that daemon, whose code is loaded only then.
 */
import { processIo, runCni } from '../shared/cni-skel';
import { lazyHandlers } from '../shared/lazy-handlers';
import { loadDaemon } from '../shared/daemon-loader';

// as in plugin/main.ts: VERSION never loads the handlers' code (config, RPC client, results)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const handlers = lazyHandlers(() => (require('./whereabouts-plugin') as typeof import('./whereabouts-plugin')).whereaboutsHandlers);

if (process.argv[2] === 'daemon') {
  loadDaemon(__filename, __dirname, 'whereabouts-daemon.js', 'daemon/whereabouts/main').main(process.argv.slice(3));
} else {
  runCni(processIo(), handlers).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`whereabouts: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
