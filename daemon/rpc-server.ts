/**
 * The daemon's side of the Unix socket: newline-framed JSON-RPC 2.0 (jsonrpc-lite), with a
 * bound on frame size and on concurrent requests per connection. A bad request gets a
 * JSON-RPC error; garbage closes only that connection; nothing here can crash the daemon.
 */
import * as net from 'node:net';
import * as jsonrpc from 'jsonrpc-lite';
import { CniCode, CniError, toCniError } from '../shared/errors';
import { LineFramer } from '../shared/line-framer';
import { MAX_FRAME_BYTES } from '../shared/rpc-protocol';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import { InvalidParams } from './rpc-validate';

/**
 * `gone()` turns true once the caller's connection has closed: a handler that waits (a queue)
 * can drop work nobody will read the answer to.
 */
export type MethodHandler = (params: unknown, call: { gone: () => boolean }) => Promise<unknown>;

export const MAX_INFLIGHT_PER_CONNECTION = 32;

export class RpcServer {
  private readonly connections = new Set<net.Socket>();

  constructor(
    private readonly server: net.Server,
    private readonly methods: Record<string, MethodHandler>,
    private readonly log: Logger,
    /** only the request counter: the dhcp and whereabouts daemons share this server */
    private readonly metrics: Pick<Metrics, 'rpc'>,
  ) {
    server.on('connection', (sock) => this.serve(sock));
    server.on('error', (err) => log.error('rpc server error', { err: err.message }));
  }

  close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(sock: net.Socket): void {
    this.connections.add(sock);
    const framer = new LineFramer(MAX_FRAME_BYTES);
    let inflight = 0;
    let closed = false;
    const call = { gone: () => closed };
    sock.on('close', () => {
      closed = true;
      this.connections.delete(sock);
    });
    sock.on('error', () => sock.destroy());
    const reply = (obj: object) => {
      if (!sock.destroyed && sock.writable) sock.write(frameOf(obj) + '\n');
    };
    sock.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = framer.push(chunk);
      } catch (err) {
        reply(jsonrpc.error(null, new jsonrpc.JsonRpcError((err as Error).message, -32600)));
        this.metrics.rpc.inc({ method: 'invalid', outcome: 'frame-too-large' });
        // stop reading: a client that keeps streaming gets cut off instead of fed to the framer
        sock.removeAllListeners('data');
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
        return;
      }
      for (const line of lines) {
        if (line.trim() === '') continue;
        if (inflight >= MAX_INFLIGHT_PER_CONNECTION) {
          reply(jsonrpc.error(requestId(line), new jsonrpc.JsonRpcError(`more than ${MAX_INFLIGHT_PER_CONNECTION} requests in flight on one connection`, -32000)));
          continue;
        }
        inflight++;
        void this.handleLine(line, call).then(
          (res) => {
            inflight--;
            if (res) reply(res);
          },
          () => {
            inflight--;
          },
        );
      }
    });
  }

  /** Returns the response object, or undefined for a notification. */
  async handleLine(line: string, call = { gone: () => false }): Promise<object | undefined> {
    let parsed: ReturnType<typeof jsonrpc.parse>;
    try {
      parsed = jsonrpc.parse(line);
    } catch {
      return jsonrpc.error(null, jsonrpc.JsonRpcError.parseError('invalid JSON'));
    }
    if (Array.isArray(parsed)) {
      this.metrics.rpc.inc({ method: 'batch', outcome: 'invalid' });
      return jsonrpc.error(null, jsonrpc.JsonRpcError.invalidRequest('batches are not supported'));
    }
    const type = parsed.type as string;
    if (type === 'invalid') {
      this.metrics.rpc.inc({ method: 'invalid', outcome: 'invalid' });
      const err = clipData(parsed.payload as jsonrpc.JsonRpcError);
      // jsonrpc-lite reports a bad id (1.5, {}, null) as -32603 "Internal error": it is the caller's invalid request
      return jsonrpc.error(null, err.code === -32603 ? jsonrpc.JsonRpcError.invalidRequest(err.data) : err);
    }
    if (type !== 'request' && type !== 'notification') {
      return jsonrpc.error(null, jsonrpc.JsonRpcError.invalidRequest('expected a request'));
    }
    const req = parsed.payload as jsonrpc.RequestObject;
    const id = type === 'request' ? req.id : null;
    const handler = Object.prototype.hasOwnProperty.call(this.methods, req.method) ? this.methods[req.method] : undefined;
    if (!handler) {
      this.metrics.rpc.inc({ method: 'unknown', outcome: 'method-not-found' });
      if (type !== 'request') return undefined; // JSON-RPC 2.0 §4.1: a notification is never answered
      return jsonrpc.error(id, jsonrpc.JsonRpcError.methodNotFound({ method: String(req.method).slice(0, 64) }));
    }
    try {
      const result = await handler(req.params, call);
      this.metrics.rpc.inc({ method: req.method, outcome: 'ok' });
      return type === 'request' ? jsonrpc.success(id, (result ?? null) as jsonrpc.Defined) : undefined;
    } catch (err) {
      if (err instanceof InvalidParams) {
        this.metrics.rpc.inc({ method: req.method, outcome: 'invalid-params' });
        if (type !== 'request') return undefined;
        return jsonrpc.error(id, new jsonrpc.JsonRpcError(`invalid params: ${err.message}`, -32602, { cniCode: CniCode.InvalidEnv }));
      }
      const cni = toCniError(err);
      this.metrics.rpc.inc({ method: req.method, outcome: `error-${cni.code}` });
      if (!(err instanceof CniError)) this.log.error('request failed unexpectedly', { method: req.method, err: String((err as Error)?.stack ?? err) });
      if (type !== 'request') return undefined;
      return jsonrpc.error(id, new jsonrpc.JsonRpcError(cni.message, cni.code, cni.details ? { details: cni.details } : undefined));
    }
  }
}

const MAX_ERROR_DATA = 256;

/**
 * The response as one line; one that would not fit the peer's frame limit becomes an error with
 * the same id, instead of a frame the client can only refuse ("invalid answer").
 */
export function frameOf(obj: object): string {
  const text = JSON.stringify(obj);
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_FRAME_BYTES) return text;
  const id = (obj as { id?: jsonrpc.ID }).id ?? null;
  const msg = `the answer is ${bytes} bytes, above the ${MAX_FRAME_BYTES}-byte frame limit; ask for less (the listings take offset and limit)`;
  return JSON.stringify(jsonrpc.error(id, new jsonrpc.JsonRpcError(msg, CniCode.Io)));
}

/** jsonrpc-lite puts the offending input in error.data; never echo more than a little of it. */
function clipData(err: jsonrpc.JsonRpcError): jsonrpc.JsonRpcError {
  if (err.data === undefined) return err;
  const text = typeof err.data === 'string' ? err.data : JSON.stringify(err.data) ?? '';
  if (text.length <= MAX_ERROR_DATA) return err;
  return new jsonrpc.JsonRpcError(err.message, err.code, `${text.slice(0, MAX_ERROR_DATA)}…`);
}

/** The id of a request line when it has a valid one, so that even a refused request can be matched by its caller. */
function requestId(line: string): jsonrpc.ID {
  try {
    const id = (JSON.parse(line) as { id?: unknown } | null)?.id;
    return typeof id === 'string' || Number.isSafeInteger(id) ? (id as string | number) : null;
  } catch {
    return null;
  }
}
