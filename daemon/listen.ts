/**
 * Where the RPC socket comes from: systemd socket activation (LISTEN_FDS=1 → fd 3), or our
 * own socket file (mode 0600 in a 0700 directory), replacing a stale file left by a crash
 * but never a socket that another live daemon is serving.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface Listener {
  server: net.Server;
  /** false when systemd owns the socket file */
  ownsSocketFile: boolean;
  activated: boolean;
}

function isLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection({ path: socketPath });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function listen(socketPath: string, env: NodeJS.ProcessEnv = process.env): Promise<Listener> {
  const server = net.createServer();
  const fds = Number(env.LISTEN_FDS ?? '0');
  const forUs = env.LISTEN_PID === undefined || Number(env.LISTEN_PID) === process.pid;
  if (fds >= 1 && forUs) {
    delete env.LISTEN_FDS;
    delete env.LISTEN_PID;
    delete env.LISTEN_FDNAMES;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd: 3 }, () => resolve());
    });
    return { server, ownsSocketFile: false, activated: true };
  }
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  if (fs.existsSync(socketPath)) {
    if (!fs.lstatSync(socketPath).isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
    if (await isLive(socketPath)) throw new Error(`another daemon is already serving ${socketPath}`);
    fs.unlinkSync(socketPath);
  }
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  fs.chmodSync(socketPath, 0o600);
  return { server, ownsSocketFile: true, activated: false };
}
