/**
 * Several whereabouts daemons standing in for several nodes, all on one etcd cluster.
 *
 * They run in the root namespace, unlike the dhcp daemon: a whereabouts daemon touches no
 * network device (it only answers on its Unix socket and talks to the store), and the test
 * etcd listens on 127.0.0.1 of the root namespace, which a daemon in a node namespace could
 * not reach. Each has its own socket, state dir and node name; each is stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { call } from '../../shared/rpc-client';
import { WB_DAEMON, WbMethod } from '../../shared/whereabouts-protocol';
import { stopProcess, waitFor } from './sh';
import { bundleNodeFlags } from './lab';
import { WB_SHIM } from './whereabouts-lab';

export interface WbNode {
  readonly name: string;
  readonly socketPath: string;
  readonly dir: string;
  proc: ChildProcess | undefined;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
});

export async function startWbNode(root: string, name: string, extraArgs: string[] = []): Promise<WbNode> {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const node: WbNode = { name, socketPath: path.join(dir, 'whereabouts.sock'), dir, proc: undefined };
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  const args = [...bundleNodeFlags(WB_SHIM), WB_SHIM, 'daemon', '-socketpath', node.socketPath, '--state-dir', path.join(dir, 'state'), '--node-name', name, '--log-level', 'info', ...extraArgs];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  node.proc = proc;
  await waitFor(
    `whereabouts daemon ${name} to answer`,
    async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`daemon ${name} exited: ${nodeLog(node).slice(-2000)}`);
      await call(node.socketPath, WbMethod.Allocations, {}, { ...WB_DAEMON, timeoutMs: 5000 });
      return true;
    },
    20_000,
    50,
  );
  return node;
}

export function nodeLog(node: WbNode): string {
  const f = path.join(node.dir, 'daemon.log');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
}

export async function stopWbNode(node: WbNode): Promise<void> {
  if (node.proc) await stopProcess(node.proc);
  node.proc = undefined;
}
