/**
 * The CNI executable frame shared by `dhcp` and `static`: read env and stdin, dispatch one
 * verb, print the result or the CNI error JSON on stdout, and pick the exit code.
 */
// named imports: a namespace import makes the bundle copy every export of fs onto a new
// object (esbuild's __toESM) on every CNI call
import { readFileSync, writeSync } from 'node:fs';
import { CniError, DecodeError, toCniError } from './errors';
import { parseCniEnv, type CniEnv, type ParseEnvOptions } from './cni-env';
import { LATEST_VERSION, versionResult } from './cni-version';

export interface CniOutcome {
  /** printed as JSON on stdout when present (GC/DEL/STATUS print nothing) */
  output?: unknown;
}

export type VerbHandler = (env: CniEnv, stdin: string, rawConfig: Record<string, unknown>) => Promise<CniOutcome>;

export interface PluginIo {
  env: NodeJS.ProcessEnv;
  stdin: () => Promise<string>;
  stdout: (text: string) => void;
}

export function parseJsonConfig(stdin: string): Record<string, unknown> {
  let cfg: unknown;
  try {
    cfg = JSON.parse(stdin);
  } catch (err) {
    throw new DecodeError('failed to decode network config from stdin', (err as Error).message);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) {
    throw new DecodeError('network config on stdin must be a JSON object');
  }
  return cfg as Record<string, unknown>;
}

export function errorJson(err: CniError, cniVersion: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion, code: err.code, msg: err.message };
  if (err.details) out.details = err.details;
  return out;
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

export const processIo = (): PluginIo => ({
  env: process.env,
  stdin: async () => {
    // one synchronous read of fd 0 is ~3.6 ms cheaper than setting up process.stdin as a stream;
    // the stream stays as the fallback for a non-blocking fd 0 (EAGAIN)
    try {
      return readFileSync(0, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      return readAll(process.stdin);
    }
  },
  stdout: writeStdout,
});

/**
 * Writes to fd 1 directly: the first touch of process.stdout builds a stream (about twenty
 * internal modules, a few ms of every CNI call). A non-blocking fd 1 (EAGAIN) gets the rest
 * through the stream, which waits for it to drain.
 */
function writeStdout(text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      process.stdout.write(buf.subarray(off));
      return;
    }
  }
}

export type RunCniOptions = ParseEnvOptions;

/** Runs one CNI invocation; returns the exit code. */
export async function runCni(
  io: PluginIo,
  handlers: Record<Exclude<CniEnv['command'], 'VERSION'>, VerbHandler>,
  options: RunCniOptions = {},
): Promise<number> {
  let version: string = LATEST_VERSION;
  try {
    const env = parseCniEnv(io.env, options);
    const stdin = await io.stdin();
    if (env.command === 'VERSION') {
      let requested: unknown;
      try {
        requested = (JSON.parse(stdin) as Record<string, unknown>)?.cniVersion;
      } catch {
        requested = undefined;
      }
      io.stdout(JSON.stringify(versionResult(requested)) + '\n');
      return 0;
    }
    const cfg = parseJsonConfig(stdin);
    if (typeof cfg.cniVersion === 'string' && cfg.cniVersion) version = cfg.cniVersion;
    const outcome = await handlers[env.command](env, stdin, cfg);
    if (outcome.output !== undefined) io.stdout(JSON.stringify(outcome.output) + '\n');
    return 0;
  } catch (err) {
    io.stdout(JSON.stringify(errorJson(toCniError(err), version)) + '\n');
    return 1;
  }
}
