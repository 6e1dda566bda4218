/**
 * sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a Unix datagram socket,
 * which Node's dgram cannot open, so through the same libc binding the packet edge uses).
 * Sent from the main PID, so the unit can keep NotifyAccess=main. Without NOTIFY_SOCKET this
 * does nothing; a failure is logged, never fatal.
 */
import * as libc from './io/libc';
import type { Logger } from './log';

const SUN_PATH_MAX = 108;

export function notifySystemd(state: string, log: Logger, env: NodeJS.ProcessEnv = process.env): boolean {
  const target = env.NOTIFY_SOCKET;
  if (!target) return false;
  // "@name" is the abstract namespace: a leading NUL byte on the wire
  const pathBytes = target.startsWith('@') ? Buffer.concat([Buffer.from([0]), Buffer.from(target.slice(1))]) : Buffer.from(target);
  if ((target[0] !== '/' && target[0] !== '@') || pathBytes.length >= SUN_PATH_MAX) {
    log.warn('NOTIFY_SOCKET is not a usable socket path', { notifySocket: target });
    return false;
  }
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(libc.AF_UNIX, 0);
  pathBytes.copy(addr, 2);
  const addrLen = 2 + pathBytes.length + (target.startsWith('@') ? 0 : 1);
  const fd = libc.socket(libc.AF_UNIX, libc.SOCK_DGRAM | libc.SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log.warn('sd_notify: socket() failed', { errno: libc.errno() });
    return false;
  }
  try {
    const msg = Buffer.from(state);
    if (libc.sendto(fd, msg, msg.length, 0, addr, addrLen) < 0) {
      log.warn('sd_notify: sendto failed', { errno: libc.errno(), notifySocket: target });
      return false;
    }
    return true;
  } finally {
    libc.close(fd);
  }
}
