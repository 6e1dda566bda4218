/**
 * The `dhcp` executable. As a CNI plugin it forwards one verb to the daemon; as
 * `dhcp daemon [flags]` it runs the daemon, which is loaded only then, so a CNI call never
 * pays for the daemon's code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processIo, runCni } from '../shared/cni-skel';
import { lazyHandlers } from '../shared/lazy-handlers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const handlers = lazyHandlers(() => (require('./dhcp-plugin') as typeof import('./dhcp-plugin')).dhcpHandlers);

function loadDaemon(): { main(argv: string[]): void } {
  // Built layout: dist/cni/dhcp next to dist/lib/daemon.js. Source layout (tests via tsx): daemon/main.ts.
  const built = path.join(path.dirname(fs.realpathSync(__filename)), '..', 'lib', 'daemon.js');
  const modulePath = fs.existsSync(built) ? built : path.join(__dirname, '..', 'daemon', 'main');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(modulePath) as { main(argv: string[]): void };
}

if (process.argv[2] === 'daemon') {
  loadDaemon().main(process.argv.slice(3));
} else {
  runCni(processIo(), handlers).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`dhcp: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
