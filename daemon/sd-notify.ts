/**
 * sd_notify(3) without libsystemd: NOTIFY_SOCKET is a Unix datagram socket, which Node's
 * dgram cannot open, so we hand the message to `systemd-notify` (the unit sets
 * NotifyAccess=all for it). Without NOTIFY_SOCKET this does nothing.
 */
import { spawn } from 'node:child_process';
import type { Logger } from './log';

export function notifySystemd(state: string, log: Logger): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const child = spawn('systemd-notify', [`--pid=${process.pid}`, state], { stdio: 'ignore' });
  child.on('error', (err) => log.warn('systemd-notify failed', { err: err.message }));
}
