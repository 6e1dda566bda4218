/**
 * The one way to enter a pod network namespace: `withNetns(path, fn)` runs `fn`
 * synchronously with the calling thread in that namespace, and always switches back.
 *
 * setns() moves only the calling thread, and a socket belongs to the namespace it was
 * created in, so everything between the two setns calls must be synchronous: no await,
 * no callbacks that could let the event loop run other code while we are in the pod.
 */
import fs from 'node:fs';
import * as libc from './libc';
import { PacketIoError } from './errors';

/** "dev:ino" of the calling thread's network namespace. */
export function threadNetnsId(): string {
  const st = fs.statSync('/proc/thread-self/ns/net');
  return `${st.dev}:${st.ino}`;
}

type NetnsProbe =
  | { ok: true; fd: number }
  | { ok: false; reason: 'missing' | 'not-netns' | 'error'; error: PacketIoError };

/** Opens `path` and checks that it is a network namespace. On success the caller owns fd. */
export function probeNetns(path: string): NetnsProbe {
  const what = `netns ${JSON.stringify(path)}`;
  if (path.length === 0 || path.includes('\0')) {
    return { ok: false, reason: 'missing', error: new PacketIoError(`${what}: invalid path`, 'ENOENT', 'open') };
  }
  const fd = libc.open(path, libc.O_RDONLY | libc.O_CLOEXEC);
  if (fd < 0) {
    const code = libc.errno();
    const missing = code === libc.ENOENT || code === libc.ENOTDIR;
    const err = libc.sysError('open', missing ? `no such network namespace: ${path}` : what, code);
    return { ok: false, reason: missing ? 'missing' : 'error', error: err };
  }
  const problem = checkNetnsFd(fd);
  if (problem !== undefined) {
    libc.close(fd);
    return {
      ok: false,
      reason: 'not-netns',
      error: new PacketIoError(`not a network namespace: ${path} (${problem})`, 'EINVAL', 'fstatfs'),
    };
  }
  return { ok: true, fd };
}

/** undefined when fd is an nsfs file of type CLONE_NEWNET, else why not. */
function checkNetnsFd(fd: number): string | undefined {
  // struct statfs starts with f_type (a long); the rest does not matter here.
  const st = Buffer.alloc(256);
  if (libc.fstatfs(fd, st) !== 0) return `fstatfs: ${libc.describeErrno(libc.errno()).text}`;
  const magic = Number(st.readBigInt64LE(0));
  if (magic !== libc.NSFS_MAGIC) return `filesystem magic 0x${magic.toString(16)} is not nsfs`;
  const type = libc.ioctl(fd, libc.NS_GET_NSTYPE);
  if (type < 0) return `NS_GET_NSTYPE: ${libc.describeErrno(libc.errno()).text}`;
  if (type !== libc.CLONE_NEWNET) return `namespace type 0x${type.toString(16)} is not CLONE_NEWNET`;
  return undefined;
}

/**
 * Throws a PacketIoError unless `path` is a network namespace file (nsfs, NS_GET_NSTYPE ==
 * CLONE_NEWNET). The RPC takes these paths from callers, so this is a security check.
 */
export function assertNetworkNamespace(path: string): void {
  const probe = probeNetns(path);
  if (!probe.ok) throw probe.error;
  libc.close(probe.fd);
}

/** Opens and validates `path`, runs fn inside it, closes the fd. */
export function withNetns<T>(path: string, fn: () => T): T {
  const probe = probeNetns(path);
  if (!probe.ok) throw probe.error;
  try {
    return withNetnsFd(probe.fd, path, fn);
  } finally {
    libc.close(probe.fd);
  }
}

/** Runs fn with the calling thread in the network namespace `nsFd` (already validated). */
export function withNetnsFd<T>(nsFd: number, label: string, fn: () => T): T {
  // /proc/self would name the main thread; thread-self is the thread that calls setns.
  const homeFd = libc.open('/proc/thread-self/ns/net', libc.O_RDONLY | libc.O_CLOEXEC);
  if (homeFd < 0) throw libc.sysError('open', 'save current netns /proc/thread-self/ns/net');
  let result: T;
  try {
    if (libc.setns(nsFd, libc.CLONE_NEWNET) !== 0) throw libc.sysError('setns', `enter netns ${label}`);
    try {
      result = fn();
    } finally {
      returnHome(homeFd, label);
    }
  } finally {
    libc.close(homeFd);
  }
  if (isThenable(result)) {
    throw new TypeError('withNetns: fn must be synchronous (it returned a promise)');
  }
  return result;
}

function returnHome(homeFd: number, label: string): void {
  if (libc.setns(homeFd, libc.CLONE_NEWNET) === 0) return;
  // Carrying on would open every later socket, and serve every later request, in a pod's
  // namespace. Nothing can be trusted after that, so stop here.
  const err = libc.describeErrno(libc.errno()).text;
  try {
    fs.writeSync(2, `cni-dhcp: FATAL: cannot return from netns ${label} to the daemon's netns: ${err}; aborting\n`);
  } finally {
    process.abort();
  }
}

function isThenable(v: unknown): boolean {
  return (typeof v === 'object' || typeof v === 'function') && v !== null &&
    typeof (v as { then?: unknown }).then === 'function';
}
