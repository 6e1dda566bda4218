/**
 * A raw connection to the daemon's Unix socket for the RPC abuse tests: writes whatever bytes
 * a test wants (half frames, garbage, huge frames, pipelines) and collects the daemon's
 * answers line by line, without the shim's client getting in the way.
 */
import * as net from 'node:net';

export interface RpcResponse {
  jsonrpc?: string;
  id?: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
  /** set when the line was not JSON (never expected from the daemon) */
  unparsable?: string;
}

export class RawConn {
  readonly responses: RpcResponse[] = [];
  /** true once the daemon half-closed or closed the connection */
  ended = false;
  closed = false;
  private buf = '';
  private nextId = 1;
  private waiters: Array<() => void> = [];

  private constructor(readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      for (let nl = this.buf.indexOf('\n'); nl !== -1; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          this.responses.push(JSON.parse(line) as RpcResponse);
        } catch {
          this.responses.push({ unparsable: line });
        }
      }
      this.wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('close', () => {
      this.ended = true;
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => undefined);
  }

  static connect(path: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path, allowHalfOpen: true });
      sock.once('connect', () => resolve(new RawConn(sock)));
      sock.once('error', reject);
    });
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Resolves when pred() holds; rejects after timeoutMs. */
  until<T>(what: string, pred: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = pred();
        if (v !== undefined && v !== false) {
          clearTimeout(timer);
          resolve(v);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.responses).slice(0, 2000)}`)), timeoutMs);
      const loop = () => {
        if (!check()) this.waiters.push(loop);
      };
      loop();
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Sends a request line; returns its id. */
  send(method: unknown, params?: unknown, id: string | number = this.nextId++): string | number {
    const req: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) req.params = params;
    this.sock.write(JSON.stringify(req) + '\n');
    return id;
  }

  /** Waits for the response with this id. */
  response(id: string | number, timeoutMs = 10_000): Promise<RpcResponse> {
    return this.until(`response ${String(id)}`, () => this.responses.find((r) => r.id === id), timeoutMs);
  }

  /** Sends a request and waits for its response. */
  call(method: unknown, params?: unknown, timeoutMs = 10_000): Promise<RpcResponse> {
    return this.response(this.send(method, params), timeoutMs);
  }

  /** Waits until `n` responses in all have arrived. */
  atLeast(n: number, timeoutMs = 10_000): Promise<RpcResponse[]> {
    return this.until(`${n} responses`, () => (this.responses.length >= n ? this.responses : undefined), timeoutMs);
  }

  waitEnded(timeoutMs = 10_000): Promise<true> {
    return this.until('the daemon to close the connection', () => this.ended || undefined, timeoutMs);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** One request on a fresh connection, then close it. */
export async function rawCall(path: string, method: unknown, params?: unknown, timeoutMs = 10_000): Promise<RpcResponse> {
  const c = await RawConn.connect(path);
  try {
    return await c.call(method, params, timeoutMs);
  } finally {
    c.destroy();
  }
}
