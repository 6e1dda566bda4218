/**
 * The one RPC client (shim and CLI): connect, send one request line, read one response line.
 * Connection failures become TryAgainLater (code 11), which the caller may remap (STATUS → 50).
 */
import * as jsonrpc from 'jsonrpc-lite';
import { CniError, CniCode, TryAgainLaterError } from './errors';
import { LineFramer } from './line-framer';
import { connectUnix } from './unix-stream';
import { MAX_FRAME_BYTES, type MethodName } from './rpc-protocol';

export class DaemonUnreachableError extends TryAgainLaterError {
  static override readonly name = 'DaemonUnreachableError';
}

export interface CallOptions {
  timeoutMs?: number;
  /** how messages name the peer, e.g. "whereabouts daemon" (default "dhcp daemon") */
  daemonName?: string;
  /** how to start it, for the unreachable hint (default `dhcp daemon`) */
  startHint?: string;
}

export function call<T>(socketPath: string, method: MethodName | string, params: object, opts: CallOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const peer = opts.daemonName ?? 'dhcp daemon';
  const hint = opts.startHint ?? 'dhcp daemon';
  return new Promise<T>((resolve, reject) => {
    const framer = new LineFramer(MAX_FRAME_BYTES);
    let settled = false;
    const finish = (err: Error | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(
      () => finish(new TryAgainLaterError(`no answer from the ${peer} at ${socketPath} within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    const sock = connectUnix(socketPath, {
      connect: () => sock.write(JSON.stringify(jsonrpc.request(1, method, params as jsonrpc.RpcParams)) + '\n'),
      error: (code, message) => {
        const why = code === 'ENOENT' ? 'no socket' : code === 'ECONNREFUSED' ? 'connection refused' : message;
        finish(new DaemonUnreachableError(`${peer} unreachable at ${socketPath}: ${why}`, `is the daemon running? start it with \`${hint}\``));
      },
      end: () => finish(new DaemonUnreachableError(`${peer} at ${socketPath} closed the connection without an answer`)),
      data: (chunk) => {
        let lines: string[];
        try {
          lines = framer.push(chunk);
        } catch (err) {
          finish(new CniError(CniCode.Io, `invalid answer from the ${peer}: ${(err as Error).message}`));
          return;
        }
        const line = lines[0];
        if (line === undefined) return;
        const parsed = jsonrpc.parse(line);
        if (Array.isArray(parsed)) {
          finish(new CniError(CniCode.Io, `invalid answer from the ${peer}: batch response`));
          return;
        }
        const type = parsed.type as string;
        if (type === 'success') {
          finish(undefined, (parsed.payload as jsonrpc.SuccessObject).result as T);
        } else if (type === 'error') {
          const e = (parsed.payload as jsonrpc.ErrorObject).error;
          const details = e.data && typeof e.data === 'object' && typeof e.data.details === 'string' ? e.data.details : undefined;
          const mapped = e.data && typeof e.data === 'object' && typeof e.data.cniCode === 'number' ? (e.data.cniCode as number) : CniCode.Internal;
          const code = e.code > 0 ? e.code : mapped;
          finish(new CniError(code, e.message, details));
        } else {
          finish(new CniError(CniCode.Io, `invalid answer from the ${peer}`));
        }
      },
    });
  });
}
