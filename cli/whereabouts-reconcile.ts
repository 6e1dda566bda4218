/**
 * `cni-dhcp whereabouts reconcile` (run the reconciler now, or show its schedule and last run)
 * and `cni-dhcp whereabouts free` (free one address, or every allocation of a node that is
 * gone, by hand: it prints exactly what it frees and asks first, unless --yes).
 */
import * as readline from 'node:readline';
import { Command, Option } from 'commander';
import { call } from '../shared/rpc-client';
import { DEFAULT_WHEREABOUTS_SOCKET } from '../shared/whereabouts-config';
import { WB_DAEMON, WbMethod, type WbFreeMatch, type WbFreeParams, type WbFreeResult, type WbReconcilerStatus, type WbReconcileSummary } from '../shared/whereabouts-protocol';
import { renderTable } from './lease-table';

const EXIT = { failed: 1, noMatch: 4 } as const;

const socketOption = () => new Option('--socket <path>', 'whereabouts daemon socket').default(process.env.CNI_WHEREABOUTS_SOCKET ?? DEFAULT_WHEREABOUTS_SOCKET);
const iso = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

export function summaryText(s: WbReconcileSummary): string {
  const lines = [
    `run:       ${s.trigger}, ${iso(s.startedAt)} (${s.finishedAt - s.startedAt} ms), ${s.stores} store(s)`,
    `examined:  ${s.examined}`,
    `kept:      ${s.kept}`,
    `freed:     ${s.freed}`,
    `reasons:   ${Object.entries(s.reasons).map(([k, n]) => `${k}=${n}`).join(' ') || 'none'}`,
  ];
  for (const f of s.freedAllocations) lines.push(`  freed ${f.address} (${f.range}) pod ${f.podRef || '-'} container ${f.containerId.slice(0, 16)} ${f.ifname}: ${f.evidence}`);
  for (const e of s.errors) lines.push(`  error: ${e}`);
  return lines.join('\n');
}

function matchTable(ms: WbFreeMatch[]): string {
  const header = ['STORE', 'NETWORK_NAME', 'RANGE', 'ADDRESS', 'POD', 'CONTAINER', 'IFNAME', 'NODE', 'SINCE'];
  return renderTable(header, ms.map((m) => [m.store, m.networkName || '-', m.range, m.address, m.podRef || '-', m.containerId, m.ifname, m.node, iso(m.createdAt)]));
}

async function confirmed(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
  try {
    const answer = await new Promise<string | undefined>((resolve) => {
      rl.once('close', () => resolve(undefined));
      rl.question(question, resolve);
    });
    return answer !== undefined && /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function addReconcileCommands(wb: Command, out: (text: string) => void): void {
  wb.command('reconcile')
    .description('run the reconciler now and print what it examined, kept and freed; --status: the schedule and the last run')
    .addOption(socketOption())
    .option('--status', 'do not run: show the schedule and the last run')
    .option('--json', 'print JSON')
    .action(async (o: { socket: string; status?: boolean; json?: boolean }) => {
      if (o.status) {
        const st = await call<WbReconcilerStatus>(o.socket, WbMethod.ReconcileStatus, {}, { ...WB_DAEMON, timeoutMs: 10_000 });
        if (o.json) return out(JSON.stringify(st, null, 2));
        out(
          [
            `schedule:  ${st.expression}${st.configFile ? ` (from ${st.configFile})` : ' (default)'}`,
            `next run:  ${iso(st.nextRun)}`,
            `grace:     ${st.graceMs / 1000} s`,
            `running:   ${st.running ? 'yes' : 'no'}`,
            st.last ? summaryText(st.last) : 'last run:  none since the daemon started',
          ].join('\n'),
        );
        return;
      }
      const s = await call<WbReconcileSummary>(o.socket, WbMethod.Reconcile, {}, { ...WB_DAEMON, timeoutMs: 300_000 });
      out(o.json ? JSON.stringify(s, null, 2) : summaryText(s));
      if (s.errors.length > 0) process.exitCode = EXIT.failed;
    });

  wb.command('free')
    .description('free one allocation (ADDRESS with --range), or every allocation of a node that is gone (--node), after showing exactly what')
    .argument('[address]', 'the address to free')
    .addOption(socketOption())
    .option('--range <cidr>', 'the range (pool) the address is in')
    .option('--network-name <name>', 'only the pool of this network_name')
    .option('--node <name>', 'every allocation this node made (a node that is gone for good)')
    .option('-y, --yes', 'do not ask')
    .option('--json', 'print JSON of what was freed')
    .action(async (address: string | undefined, o: { socket: string; range?: string; networkName?: string; node?: string; yes?: boolean; json?: boolean }) => {
      const params: WbFreeParams = {};
      if (address !== undefined) params.address = address;
      if (o.range !== undefined) params.range = o.range;
      if (o.networkName !== undefined) params.networkName = o.networkName;
      if (o.node !== undefined) params.node = o.node;
      const found = await call<WbFreeResult>(o.socket, WbMethod.Free, params, { ...WB_DAEMON, timeoutMs: 60_000 });
      if (found.matches.length === 0) {
        out('nothing matches: nothing freed');
        process.exitCode = EXIT.noMatch;
        return;
      }
      process.stderr.write(`this frees ${found.matches.length} allocation(s):\n${matchTable(found.matches)}\n`);
      if (!o.yes && !(await confirmed('free them? [y/N] '))) {
        out('not confirmed: nothing freed');
        process.exitCode = EXIT.failed;
        return;
      }
      const done = await call<WbFreeResult>(o.socket, WbMethod.Free, { ...params, confirm: found.matches }, { ...WB_DAEMON, timeoutMs: 60_000 });
      if (o.json) out(JSON.stringify(done.freed, null, 2));
      else for (const m of done.freed) out(`freed ${m.address} (${m.range}${m.networkName ? `, network_name ${m.networkName}` : ''}) from pod ${m.podRef || '-'} container ${m.containerId} ${m.ifname}`);
      const changed = found.matches.length - done.freed.length;
      if (changed > 0) {
        process.stderr.write(`${changed} allocation(s) changed since they were shown and were not freed; run again to see them\n`);
        process.exitCode = EXIT.failed;
      }
    });
}
