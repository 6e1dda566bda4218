/**
 * The `dhcp` executable. As a CNI plugin it forwards one verb to the daemon; as
 * `dhcp daemon [flags]` it runs the daemon, which is loaded only then, so a CNI call never
 * pays for the daemon's code.
 */
import { processIo, runCni } from '../shared/cni-skel';
import { loadDaemon } from '../shared/daemon-loader';
import { dhcpHandlers } from './dhcp-plugin';

if (process.argv[2] === 'daemon') {
  loadDaemon(__filename, __dirname, 'daemon.js', 'daemon/main').main(process.argv.slice(3));
} else {
  runCni(processIo(), dhcpHandlers).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`dhcp: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
