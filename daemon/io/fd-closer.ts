/**
 * Closing an AF_PACKET socket blocks for an RCU grace period: packet_release() calls
 * synchronize_net() unconditionally. Measured here: 15 ms per close(), so closing 200
 * sockets on the main thread would stall the event loop for about 3 s. We close them on
 * libuv's thread pool instead (fs.close works on any fd), where several grace periods
 * overlap; the fd stays allocated, never reused, until the close has happened.
 */
import fs from 'node:fs';

let pending = 0;
let waiters: Array<() => void> = [];

export function closeFdAsync(fd: number): void {
  pending++;
  fs.close(fd, () => {
    pending--;
    if (pending === 0) {
      const ws = waiters;
      waiters = [];
      for (const w of ws) w();
    }
  });
}

/** Resolves once every close started so far has completed (tests, graceful shutdown). */
export function allClosed(): Promise<void> {
  if (pending === 0) return Promise.resolve();
  return new Promise((resolve) => waiters.push(resolve));
}
