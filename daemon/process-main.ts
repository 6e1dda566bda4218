/**
 * The process frame both daemons share: parse flags (exit 2 on a bad one), --help, a logger,
 * bugs logged instead of crashing, SIGTERM/SIGINT stopping cleanly once, exit 1 when the
 * start fails; once started, the resident pages it does not use are trimmed (resident-trim.ts).
 */
import { FlagError } from './go-flags';
import { createLogger, type Logger } from './log';
import { startResidentTrim } from './resident-trim';
import { notifySystemd } from './sd-notify';

export interface DaemonFrame<O> {
  /** "dhcp daemon", "whereabouts daemon" */
  name: string;
  parse: (argv: string[]) => O;
  usage: () => string;
  start: (opts: O, log: Logger) => Promise<{ stop: () => Promise<void> }>;
  /** logged on SIGTERM/SIGINT: what survives the stop */
  stoppingNote: string;
}

export function runDaemonProcess<O extends { help: boolean; logLevel: string; logFormat: 'text' | 'json' }>(argv: string[], frame: DaemonFrame<O>): void {
  let opts: O;
  try {
    opts = frame.parse(argv);
  } catch (err) {
    process.stderr.write(`${frame.name}: ${(err as Error).message}\n`);
    process.exit(err instanceof FlagError ? 2 : 1);
  }
  if (opts.help) {
    process.stdout.write(frame.usage() + '\n');
    return;
  }
  const log = createLogger({ level: opts.logLevel, format: opts.logFormat });
  process.on('uncaughtException', (err) => log.error('uncaught exception (bug); continuing', { err: String(err.stack ?? err) }));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection (bug); continuing', { err: String(err) }));
  frame.start(opts, log).then(
    ({ stop }) => {
      startResidentTrim(log);
      let stopping = false;
      const onSignal = (sig: string) => {
        if (stopping) return;
        stopping = true;
        log.info(frame.stoppingNote, { signal: sig });
        notifySystemd('STOPPING=1', log);
        stop().finally(() => process.exit(0));
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    },
    (err: Error) => {
      log.error(`${frame.name} failed to start`, { err: err.message });
      process.exit(1);
    },
  );
}
