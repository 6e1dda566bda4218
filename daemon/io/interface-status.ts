/**
 * Cheap per-interface queries by namespace path. A pod's namespace file can be gone while our
 * packet socket still holds the namespace (and its links) alive, so the lease manager asks by
 * path, not through the socket.
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { getIfindex, getMtu, assertIfname } from './link';
import { probeNetns, withNetnsFd } from './netns';

export type InterfaceStatus = 'present' | 'no-netns' | 'no-interface';

/** Runs fn with a throwaway socket in the namespace: the kernel answers ifreq ioctls in the socket's namespace. */
function withIfSocket<T>(nsFd: number, netnsPath: string, ifname: string, fn: (fd: number) => T): T {
  return withNetnsFd(nsFd, netnsPath, () => {
    const fd = libc.socket(libc.AF_UNIX, libc.SOCK_DGRAM | libc.SOCK_CLOEXEC, 0);
    if (fd < 0) throw libc.sysError('socket', `query of ${ifname}`);
    try {
      return fn(fd);
    } finally {
      libc.close(fd);
    }
  });
}

export function interfaceStatus(netnsPath: string, ifname: string): InterfaceStatus {
  assertIfname(ifname);
  const probe = probeNetns(netnsPath);
  if (!probe.ok) {
    if (probe.reason === 'error') throw probe.error;
    return 'no-netns';
  }
  try {
    return withIfSocket(probe.fd, netnsPath, ifname, (fd) => {
      try {
        getIfindex(fd, ifname);
        return 'present' as const;
      } catch (err) {
        if (err instanceof PacketIoError && err.errno === 'ENODEV') return 'no-interface' as const;
        throw err;
      }
    });
  } finally {
    libc.close(probe.fd);
  }
}

/** The MTU of ifname in the pod namespace (SIOCGIFMTU); throws a PacketIoError when it cannot be read. */
export function interfaceMtu(netnsPath: string, ifname: string): number {
  assertIfname(ifname);
  const probe = probeNetns(netnsPath);
  if (!probe.ok) throw probe.error;
  try {
    return withIfSocket(probe.fd, netnsPath, ifname, (fd) => getMtu(fd, ifname));
  } finally {
    libc.close(probe.fd);
  }
}
