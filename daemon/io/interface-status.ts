/**
 * A cheap presence check, for noticing pods that went away. A pod's namespace file can be
 * gone while our packet socket still holds the namespace (and its links) alive, so the
 * lease manager asks by path, not through the socket.
 */
import * as libc from './libc';
import { PacketIoError } from './errors';
import { getIfindex, assertIfname } from './link';
import { probeNetns, withNetnsFd } from './netns';

export type InterfaceStatus = 'present' | 'no-netns' | 'no-interface';

export function interfaceStatus(netnsPath: string, ifname: string): InterfaceStatus {
  assertIfname(ifname);
  const probe = probeNetns(netnsPath);
  if (!probe.ok) {
    if (probe.reason === 'error') throw probe.error;
    return 'no-netns';
  }
  try {
    return withNetnsFd(probe.fd, netnsPath, () => {
      // Any socket will do: the kernel answers SIOCGIFINDEX in the socket's namespace.
      const fd = libc.socket(libc.AF_UNIX, libc.SOCK_DGRAM | libc.SOCK_CLOEXEC, 0);
      if (fd < 0) throw libc.sysError('socket', `interface status of ${ifname}`);
      try {
        getIfindex(fd, ifname);
        return 'present' as const;
      } catch (err) {
        if (err instanceof PacketIoError && err.errno === 'ENODEV') return 'no-interface' as const;
        throw err;
      } finally {
        libc.close(fd);
      }
    });
  } finally {
    libc.close(probe.fd);
  }
}
