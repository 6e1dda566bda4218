/**
 * Readiness for raw fds through Node's own libuv loop: uv_poll handles driven from JS via
 * koffi. Node refuses AF_PACKET fds in dgram and net.Socket (ERR_INVALID_FD_TYPE), and
 * node exports the uv_* symbols, so koffi.load(null) reaches them.
 *
 * koffi allows at most 8192 registered callbacks, so there is exactly one poll callback and
 * one close callback for the whole process; they find the watcher by the handle's address.
 */
import { isMainThread } from 'node:worker_threads';
import { koffi } from './koffi';
import * as libc from './libc';

/** uv_handle_type UV_POLL; checked against uv_handle_type_name at load */
const UV_POLL = 8;
const UV_READABLE = 1;

export type PollListener = (status: number) => void;

interface Uv {
  loop: unknown;
  handleSize: number;
  pollInit: (loop: unknown, handle: unknown, fd: number) => number;
  pollStart: (handle: unknown, events: number, cb: unknown) => number;
  pollStop: (handle: unknown) => number;
  close: (handle: unknown, cb: unknown) => void;
  strerror: (code: number) => string;
  pollCb: unknown;
  closeCb: unknown;
}

const watchers = new Map<bigint, FdWatcher>();
let uv: Uv | undefined;

function loadUv(): Uv {
  if (uv) return uv;
  if (!isMainThread) throw new Error('daemon/io poller: uv_default_loop is the main thread\'s loop only');
  const node = koffi.load(null);
  const typeName = node.func('const char *uv_handle_type_name(int type)');
  if (typeName(UV_POLL) !== 'poll') throw new Error('daemon/io poller: unexpected libuv handle type numbering');
  // Anonymous prototypes: a second copy of this module must not clash on type names.
  const pollCbPtr = koffi.pointer(koffi.proto('void', ['void *', 'int', 'int']));
  const closeCbPtr = koffi.pointer(koffi.proto('void', ['void *']));
  const defaultLoop = node.func('void *uv_default_loop(void)');
  uv = {
    loop: defaultLoop(),
    handleSize: Number(node.func('size_t uv_handle_size(int type)')(UV_POLL)),
    pollInit: node.func('int uv_poll_init(void *loop, void *handle, int fd)'),
    pollStart: node.func('uv_poll_start', 'int', ['void *', 'int', pollCbPtr]),
    pollStop: node.func('int uv_poll_stop(void *handle)'),
    close: node.func('uv_close', 'void', ['void *', closeCbPtr]),
    strerror: node.func('const char *uv_strerror(int err)'),
    // Registered once, never unregistered: they live as long as the process.
    pollCb: koffi.register(onPoll, pollCbPtr),
    closeCb: koffi.register(onClose, closeCbPtr),
  };
  return uv;
}

function onPoll(handle: unknown, status: number): void {
  const w = watchers.get(koffi.address(handle));
  if (!w) return;
  try {
    w.listener(status);
  } catch (err) {
    // Never let an exception unwind through libuv's C frames; surface it after this tick.
    process.nextTick(() => {
      throw err;
    });
  }
}

function onClose(handle: unknown): void {
  watchers.delete(koffi.address(handle));
  libc.free(handle);
}

/**
 * Watches one fd for readability on the main loop. `listener(0)` means readable; a negative
 * status is a libuv error (UV_EBADF when the fd reported POLLERR), after which libuv has
 * already stopped the handle: call `restart()` to resume.
 */
export class FdWatcher {
  private handle: unknown;
  private closed = false;

  constructor(readonly fd: number, readonly listener: PollListener) {
    const u = loadUv();
    const handle = libc.malloc(u.handleSize);
    if (handle === null) throw new Error('daemon/io poller: malloc failed');
    const rc = u.pollInit(u.loop, handle, fd);
    if (rc !== 0) {
      libc.free(handle);
      throw new Error(`uv_poll_init(fd ${fd}): ${u.strerror(rc)}`);
    }
    this.handle = handle;
    watchers.set(koffi.address(handle), this);
    this.restart();
  }

  restart(): void {
    if (this.closed) return;
    const u = loadUv();
    const rc = u.pollStart(this.handle, UV_READABLE, u.pollCb);
    if (rc !== 0) throw new Error(`uv_poll_start(fd ${this.fd}): ${u.strerror(rc)}`);
  }

  /**
   * Stops watching. The fd may be closed as soon as this returns: uv_poll_stop removes it
   * from epoll and invalidates events already fetched for it in this loop iteration. The
   * handle memory is freed in the close callback, one loop iteration later.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const u = loadUv();
    u.pollStop(this.handle);
    u.close(this.handle, u.closeCb);
    this.handle = null;
  }
}

/** Watchers whose handle memory has not been freed yet (tests use it to check for leaks). */
export function liveWatcherCount(): number {
  return watchers.size;
}
