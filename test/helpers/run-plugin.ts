/**
 * Runs a CNI plugin executable the way a runtime does: a clean environment holding only the
 * given variables, the config on stdin, the result (or error) on stdout, the exit code.
 * Only for tests.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PluginRun {
  code: number;
  stdout: string;
  stderr: string;
}

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const REFERENCE_PLUGIN_DIR = '/usr/lib/cni';
export const REFERENCE_STATIC = path.join(REFERENCE_PLUGIN_DIR, 'static');

const TIMEOUT_MS = 30_000;

export function runPlugin(cmd: string[], env: Record<string, string>, stdin: string): Promise<PluginRun> {
  const [file, ...args] = cmd;
  if (!file) return Promise.reject(new Error('runPlugin: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    // a plugin may exit without reading stdin (the reference's VERSION does): ignore EPIPE
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

function newestSource(dirs: string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    for (const name of fs.readdirSync(path.join(REPO_ROOT, dir))) {
      if (name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(path.join(REPO_ROOT, dir, name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * Our `static`: the built bundle when there is one and it is not older than its sources (a
 * stale bundle would test old code), else the source through tsx; both under this node, so the
 * bundle's shebang does not matter.
 */
export function staticCommand(): string[] {
  const built = path.join(REPO_ROOT, 'dist', 'cni', 'static');
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestSource(['static', 'shared'])) {
    return [process.execPath, built];
  }
  return [process.execPath, '--require', require.resolve('tsx/cjs'), path.join(REPO_ROOT, 'static', 'main.ts')];
}

/** A shell script that execs our `static`: what a runtime finds on CNI_PATH. */
export function staticShim(): string {
  const quoted = staticCommand().map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
  return `#!/bin/sh\nexec ${quoted.join(' ')} "$@"\n`;
}
