/**
 * One daemon per state directory: an exclusive flock(2) on `<dir>/lock`, held open for the
 * daemon's life. The kernel drops it when the process dies, even by kill -9, so a crash never
 * leaves a stale lock; a second daemon on the same directory is refused, naming the holder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeErrno, errno, flock, LOCK_EX, LOCK_NB } from '../io/libc';

export class DirLockedError extends Error {
  static override readonly name = 'DirLockedError';
}

export interface DirLock {
  release(): void;
}

export function lockDir(dir: string): DirLock {
  const file = path.join(dir, 'lock');
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const why = describeErrno(errno());
    let holder = '';
    try {
      holder = fs.readFileSync(file, 'utf8').trim();
    } catch {
      // unreadable: say nothing about the holder
    }
    fs.closeSync(fd);
    if (why.name === 'EWOULDBLOCK' || why.name === 'EAGAIN') {
      throw new DirLockedError(`another whereabouts daemon${holder ? ` (pid ${holder})` : ''} holds the state directory ${dir}; refusing to share it`);
    }
    throw new Error(`cannot lock ${file}: ${why.text}`);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      fs.closeSync(fd);
    },
  };
}
