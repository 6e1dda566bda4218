/**
 * A Unix stream socket for the one-request RPC of the shims: connect, write, read, close.
 * `net` costs a CNI call 4–10 ms of CPU before it connects: it loads the stream modules
 * (about 25 of them) that a single line in and out does not need. So this drives libuv's pipe
 * handle directly, as `net.Socket` itself does underneath, through `process.binding`
 * ('pipe_wrap', 'stream_wrap': on Node's allow list, documentation-deprecated only). Where that
 * binding does not look as expected (another Node major), it falls back to `net`, with the same
 * callbacks. docs/packaging.md, "What a CNI call of ours runs before the verb".
 */
import type * as netTypes from 'node:net';

export interface StreamEvents {
  connect: () => void;
  data: (chunk: Buffer) => void;
  /** errno code name (ENOENT, ECONNREFUSED, ...) or an Error's message */
  error: (code: string | undefined, message: string) => void;
  /** the peer closed (EOF) */
  end: () => void;
}

export interface UnixStream {
  write(line: string): void;
  destroy(): void;
}

interface PipeHandle {
  connect(req: object, path: string): number;
  readStart(): number;
  writeUtf8String(req: object, s: string): number;
  close(cb?: () => void): void;
  onread: ((ab: ArrayBuffer | undefined) => void) | null;
}

interface Bindings {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => { oncomplete?: (status: number) => void; address?: string };
  WriteWrap: new () => { handle?: PipeHandle; oncomplete?: (status: number) => void; async?: boolean };
  SOCKET: number;
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
}

function bindings(): Bindings | undefined {
  try {
    const binding = (process as unknown as { binding: (name: string) => Record<string, unknown> }).binding;
    const pw = binding('pipe_wrap') as { Pipe?: Bindings['Pipe']; PipeConnectWrap?: Bindings['PipeConnectWrap']; constants?: { SOCKET?: number } };
    const sw = binding('stream_wrap') as { WriteWrap?: Bindings['WriteWrap']; streamBaseState?: Int32Array; kReadBytesOrError?: number; kArrayBufferOffset?: number };
    if (
      typeof pw.Pipe !== 'function' ||
      typeof pw.PipeConnectWrap !== 'function' ||
      typeof pw.constants?.SOCKET !== 'number' ||
      typeof sw.WriteWrap !== 'function' ||
      !(sw.streamBaseState instanceof Int32Array) ||
      typeof sw.kReadBytesOrError !== 'number' ||
      typeof sw.kArrayBufferOffset !== 'number' ||
      typeof pw.Pipe.prototype.connect !== 'function'
    ) {
      return undefined;
    }
    return {
      Pipe: pw.Pipe,
      PipeConnectWrap: pw.PipeConnectWrap,
      WriteWrap: sw.WriteWrap,
      SOCKET: pw.constants.SOCKET,
      state: sw.streamBaseState,
      kReadBytesOrError: sw.kReadBytesOrError,
      kArrayBufferOffset: sw.kArrayBufferOffset,
    };
  } catch {
    return undefined;
  }
}

const UV_EOF = -4095;

function codeOf(status: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('node:util') as typeof import('node:util')).getSystemErrorName(status);
}

/** Which transport connectUnix uses on this Node: 'pipe' (the binding) or 'net' (the fallback). */
export function transportKind(): 'pipe' | 'net' {
  return bindings() ? 'pipe' : 'net';
}

/** Connects to `path`; every event arrives asynchronously, at most one of error/end ends it. */
export function connectUnix(path: string, on: StreamEvents, via: 'pipe' | 'net' = 'pipe'): UnixStream {
  const b = via === 'pipe' ? bindings() : undefined;
  return b ? rawPipe(b, path, on) : netSocket(path, on);
}

function rawPipe(b: Bindings, path: string, on: StreamEvents): UnixStream {
  const handle = new b.Pipe(b.SOCKET);
  let closed = false;
  const fail = (status: number) => {
    const code = codeOf(status);
    on.error(code, `${status < 0 ? code : 'error'} ${path}`);
  };
  handle.onread = (ab) => {
    if (closed) return;
    const n = b.state[b.kReadBytesOrError] ?? 0;
    if (n > 0 && ab) on.data(Buffer.from(ab, b.state[b.kArrayBufferOffset] ?? 0, n));
    else if (n === UV_EOF) on.end();
    else if (n < 0) fail(n);
  };
  const req = new b.PipeConnectWrap();
  req.address = path;
  req.oncomplete = (status) => {
    if (closed) return;
    if (status < 0) return fail(status);
    const r = handle.readStart();
    if (r < 0) return fail(r);
    on.connect();
  };
  const err = handle.connect(req, path);
  if (err < 0) queueMicrotask(() => !closed && fail(err));
  return {
    write(line) {
      if (closed) return;
      const w = new b.WriteWrap();
      w.handle = handle;
      w.oncomplete = (status) => {
        if (status < 0 && !closed) fail(status);
      };
      w.async = false;
      const r = handle.writeUtf8String(w, line);
      if (r < 0) queueMicrotask(() => !closed && fail(r));
    },
    destroy() {
      if (closed) return;
      closed = true;
      handle.close();
    },
  };
}

function netSocket(path: string, on: StreamEvents): UnixStream {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const net = require('node:net') as typeof netTypes;
  const sock = net.createConnection({ path });
  sock.on('connect', on.connect);
  sock.on('data', on.data);
  sock.on('error', (err: NodeJS.ErrnoException) => on.error(err.code, err.message));
  sock.on('close', on.end);
  return {
    write: (line) => void sock.write(line),
    destroy: () => sock.destroy(),
  };
}
