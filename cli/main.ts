/**
 * `cni-dhcp`: the operator's view of the daemon, over the same RPC as the shim.
 * Exit codes: 0 ok, 1 the daemon refused or failed, 2 usage, 3 daemon unreachable, 4 nothing matched.
 */
import { Command, CommanderError, Option } from 'commander';
import { CniError } from '../shared/errors';
import { DEFAULT_SOCKET_PATH } from '../shared/dhcp-config';
import { call, DaemonUnreachableError } from '../shared/rpc-client';
import { LEASES_PAGE_SIZE, Method, type DaemonStatusResult, type LeasesParams, type LeaseView } from '../shared/rpc-protocol';
import { VERSION } from '../shared/version';
import { DEFAULT_WHEREABOUTS_SOCKET } from '../shared/whereabouts-config';
import { appendPoolPage, slotCount } from '../shared/whereabouts-pages';
import { WB_DAEMON, WB_PAGE_SIZE, WbMethod, type WbAllocationView, type WbPoolsParams, type WbPoolView } from '../shared/whereabouts-protocol';
import { poolsFromConf, poolRows, POOL_HEADER } from './whereabouts-pools';
import { LEASE_HEADER, leaseRows, renderTable } from './lease-table';
import { addReconcileCommands } from './whereabouts-reconcile';

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, noMatch: 4 } as const;

/** Every matching lease, a page at a time: one answer must fit the 1 MiB frame. */
export async function allLeases(socket: string, filter: LeasesParams): Promise<LeaseView[]> {
  const all: LeaseView[] = [];
  for (;;) {
    const page = await call<LeaseView[]>(socket, Method.Leases, { ...filter, offset: all.length, limit: LEASES_PAGE_SIZE }, { timeoutMs: 10_000 });
    all.push(...page);
    if (page.length < LEASES_PAGE_SIZE) return all;
  }
}

/** Every pool of the chosen stores, WB_PAGE_SIZE slots at a time (a /16's allocations do not fit one answer). */
export async function allPools(socket: string, params: WbPoolsParams): Promise<WbPoolView[]> {
  const all: WbPoolView[] = [];
  for (let offset = 0; ; offset += WB_PAGE_SIZE) {
    const page = await call<WbPoolView[]>(socket, WbMethod.Pools, { ...params, offset, limit: WB_PAGE_SIZE }, { ...WB_DAEMON, timeoutMs: 15_000 });
    appendPoolPage(all, page);
    if (slotCount(page) < WB_PAGE_SIZE) return all;
  }
}

/** Every allocation in the daemon's file store, a page at a time. */
export async function allAllocations(socket: string): Promise<WbAllocationView[]> {
  const all: WbAllocationView[] = [];
  for (;;) {
    const page = await call<WbAllocationView[]>(socket, WbMethod.Allocations, { offset: all.length, limit: WB_PAGE_SIZE }, { ...WB_DAEMON, timeoutMs: 10_000 });
    all.push(...page);
    if (page.length < WB_PAGE_SIZE) return all;
  }
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function buildProgram(): Command {
  const program = new Command('cni-dhcp')
    .description('Inspect and operate the cni-dhcp lease daemon')
    .version(VERSION)
    .addOption(new Option('-s, --socket <path>', 'daemon socket').default(process.env.CNI_DHCP_SOCKET ?? DEFAULT_SOCKET_PATH))
    .exitOverride()
    // options after a sub-command are its own: `whereabouts allocations --socket` names the whereabouts socket
    .enablePositionalOptions();

  program
    .command('leases')
    .description('list the leases the daemon holds')
    .option('--json', 'print JSON instead of a table')
    .option('-c, --container <id>', 'only this container (prefix match)')
    .option('--state <state>', 'only leases in this state (BOUND, RENEWING, REBINDING, EXPIRED, ...)')
    .action(async (o: { json?: boolean; container?: string; state?: string }) => {
      const params: LeasesParams = {};
      if (o.container) params.containerId = o.container;
      if (o.state) params.state = o.state;
      const leases = await allLeases(program.opts().socket, params);
      if (o.json) out(JSON.stringify(leases, null, 2));
      else out(leases.length ? renderTable(LEASE_HEADER, leaseRows(leases, Date.now())) : 'no leases');
    });

  program
    .command('status')
    .description('daemon version, uptime, leases by state, socket and state dir')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await call<DaemonStatusResult>(program.opts().socket, Method.DaemonStatus, {}, { timeoutMs: 10_000 });
      if (o.json) {
        out(JSON.stringify(s, null, 2));
        return;
      }
      const families = Object.entries(s.leasesByFamily ?? {});
      // per family once any IPv6 lease exists; the plain state list otherwise, as before
      const states = (families.some(([f]) => f !== 'ipv4')
        ? families.map(([f, by]) => `${f}: ${Object.entries(by).map(([k, n]) => `${k}=${n}`).join(' ')}`).join('; ')
        : Object.entries(s.leasesByState).map(([k, n]) => `${k}=${n}`).join(' ')) || 'none';
      out(
        [
          `version:    ${s.version}`,
          `pid:        ${s.pid}`,
          `uptime:     ${s.uptimeSeconds}s`,
          `socket:     ${s.socketPath}`,
          `state dir:  ${s.stateDir}`,
          `leases:     ${s.leases} (${states})`,
          `quarantined: ${(s.quarantined ?? []).length === 0 ? 'none' : `${s.quarantined.length} unreadable lease file(s) set aside at start-up`}`,
          ...(s.quarantined ?? []).map((q) => `  ${q.name}: ${q.reason}${q.movedTo ? ` (now ${q.movedTo})` : ''}`),
        ].join('\n'),
      );
    });

  program
    .command('release')
    .description('release the leases of a container (all its interfaces, or one) and forget them')
    .argument('<container>', 'container id')
    .argument('[ifname]', 'only this interface')
    .action(async (container: string, ifname: string | undefined) => {
      const params: Record<string, string> = { containerId: container };
      if (ifname) params.ifname = ifname;
      const r = await call<{ released: number }>(program.opts().socket, Method.Release, params, { timeoutMs: 30_000 });
      out(`released ${r.released} lease${r.released === 1 ? '' : 's'}`);
      if (r.released === 0) process.exitCode = EXIT.noMatch;
    });
  const wb = program.command('whereabouts').description('the whereabouts IPAM daemon (its own socket)').enablePositionalOptions();
  wb.command('allocations')
    .description("list the allocations in the daemon's file store")
    .addOption(new Option('--socket <path>', 'whereabouts daemon socket').default(process.env.CNI_WHEREABOUTS_SOCKET ?? DEFAULT_WHEREABOUTS_SOCKET))
    .option('--json', 'print JSON instead of a table')
    .option('--range <cidr>', 'only this range')
    .action(async (o: { socket: string; json?: boolean; range?: string }) => {
      const all = await allAllocations(o.socket);
      const rows = all.filter((a) => o.range === undefined || a.range === o.range);
      if (o.json) out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) out('no allocations');
      else {
        const header = ['NETWORK_NAME', 'RANGE', 'ADDRESS', 'POD', 'CONTAINER', 'IFNAME', 'NETWORK', 'NODE'];
        const cells = rows.map((a) => [a.networkName || '-', a.range, a.address, a.podRef || '-', a.containerId.slice(0, 16), a.ifname, a.network ?? '-', a.node]);
        out(renderTable(header, cells));
      }
      if (rows.length === 0) process.exitCode = EXIT.noMatch;
    });
  addReconcileCommands(wb, out);
  wb.command('pools')
    .description('list every pool and its allocations, from any datastore (the daemon reads it with its own credentials)')
    .addOption(new Option('--socket <path>', 'whereabouts daemon socket').default(process.env.CNI_WHEREABOUTS_SOCKET ?? DEFAULT_WHEREABOUTS_SOCKET))
    .option('--conf <file>', "a network config (.conf or .conflist): the store its whereabouts ipam uses (default: the daemon's file store and every store it has open)")
    .option('--json', 'print JSON instead of a table')
    .option('--range <cidr>', 'only this range')
    .action(async (o: { socket: string; conf?: string; json?: boolean; range?: string }) => {
      const params = o.conf === undefined ? {} : { ipam: poolsFromConf(o.conf) };
      const all = await allPools(o.socket, params);
      const pools = all.filter((p) => o.range === undefined || p.range === o.range);
      if (o.json) out(JSON.stringify(pools, null, 2));
      else if (pools.length === 0) out('no pools');
      else out(renderTable(POOL_HEADER, poolRows(pools)));
      if (pools.length === 0) process.exitCode = EXIT.noMatch;
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`cni-dhcp: ${(err as Error).message}\n`);
    if (err instanceof DaemonUnreachableError) return EXIT.unreachable;
    if (err instanceof CniError) return EXIT.failed;
    return EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
