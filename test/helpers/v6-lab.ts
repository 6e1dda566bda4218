/**
 * A DHCPv6 server segment in test namespaces: a server namespace whose srv0 carries
 * 2001:db8:5::1/64, dnsmasq or Kea v6 on it, and pod namespaces joined by veth. Used by the
 * DHCPv6 capture script and the DAD experiment; everything is registered with netns.ts and
 * removed by cleanupNetns().
 */
import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createNetns, createVeth, tempFile, waitFor, type TestNetns } from './netns';

export const PREFIX6 = '2001:db8:5::';
export const SERVER_ADDR6 = '2001:db8:5::1';
export const DNS6 = '2001:db8:5::53';
export const SEARCH6 = ['lab.example', 'example.test'];

export interface V6Server {
  name: 'dnsmasq' | 'kea';
  proc: ChildProcess;
  log(): string;
  /** Kea: its memfile lease database (leases6.csv) */
  leaseFile?: string;
}

interface Addr6 { local: string; scope: string; tentative?: boolean; dadfailed?: boolean }

/** The IPv6 addresses of `ifname` with their flags, from `ip -j`. */
export function addresses6(ns: TestNetns, ifname: string): Addr6[] {
  const out = JSON.parse(ns.ip('-6', '-j', 'addr', 'show', 'dev', ifname)) as Array<{ addr_info?: Addr6[] }>;
  return out[0]?.addr_info ?? [];
}

/** Resolves once `ifname` has a link-local address that is no longer tentative. */
export async function waitLinkLocal(ns: TestNetns, ifname: string, timeoutMs = 10_000): Promise<string> {
  let ll: string | undefined;
  await waitFor(() => {
    ll = addresses6(ns, ifname).find((a) => a.scope === 'link' && !a.tentative)?.local;
    return ll !== undefined;
  }, timeoutMs, `a valid link-local address on ${ifname} in ${ns.name}`);
  return ll!;
}

export async function serverSegment6(prefix: string): Promise<TestNetns> {
  const srv = createNetns(`${prefix}s`);
  srv.ip('link', 'add', 'br6', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  srv.ip('link', 'set', 'br6', 'up');
  return srv;
}

/**
 * A pod namespace with eth0, its peer a port of srv's bridge. `beforeUp` runs while the pod's
 * link is still down (sysctls such as optimistic_dad must be set then).
 */
export function addPod6(srv: TestNetns, prefix: string, n: number, beforeUp?: (pod: TestNetns) => void): TestNetns {
  const pod = createNetns(`${prefix}p`);
  createVeth({ ns: srv, ifname: `p${n}` }, { ns: pod, ifname: 'eth0', up: false });
  srv.ip('link', 'set', `p${n}`, 'master', 'br6');
  beforeUp?.(pod);
  return pod;
}

/** The server's own port: srv0 ↔ srv0p on the bridge, srv0 with 2001:db8:5::1/64, DAD skipped. */
export async function serverPort6(srv: TestNetns): Promise<void> {
  srv.ip('link', 'add', 'srv0', 'type', 'veth', 'peer', 'name', 'srv0p');
  srv.ip('link', 'set', 'srv0p', 'master', 'br6');
  srv.ip('link', 'set', 'srv0p', 'up');
  srv.sysctl('net.ipv6.conf.srv0.accept_dad', 0);
  srv.ip('addr', 'add', `${SERVER_ADDR6}/64`, 'dev', 'srv0', 'nodad');
  srv.ip('link', 'set', 'srv0', 'up');
  await waitLinkLocal(srv, 'srv0');
}

function logReader(file: string): () => string {
  return () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
}

export async function startDnsmasq6(srv: TestNetns, opts: { rangeEnd?: string; leaseTime?: string } = {}): Promise<V6Server> {
  const log = tempFile('d6-dnsmasq-log');
  const args = [
    '--keep-in-foreground', '--no-ping', '--port=0', '--conf-file=/dev/null', '--user=root',
    '--interface=srv0', '--bind-interfaces', '--log-dhcp', `--log-facility=${log}`,
    `--dhcp-range=${PREFIX6}100,${opts.rangeEnd ?? `${PREFIX6}1ff`},64,${opts.leaseTime ?? '1h'}`, '--enable-ra',
    `--dhcp-leasefile=${tempFile('d6-dnsmasq-leases')}`, `--pid-file=${tempFile('d6-dnsmasq-pid')}`,
    `--dhcp-option=option6:dns-server,[${DNS6}]`, `--dhcp-option=option6:domain-search,${SEARCH6.join(',')}`,
  ];
  const proc = srv.spawn('dnsmasq', args, { stdio: 'ignore' });
  await waitFor(() => srv.exec('ss', ['-ulnH', 'sport = :547']).includes(':547'), 10_000, 'dnsmasq on :547');
  return { name: 'dnsmasq', proc, log: logReader(log) };
}

export interface Kea6Options {
  preferred?: number;
  valid?: number;
  renew?: number;
  rebind?: number;
  pool?: string;
  /**
   * true (default): Kea grants option 12 (Server Unicast) and listens on SERVER_ADDR6 for it (a
   * Kea that sends option 12 but listens only on its link-local drops every unicast RENEW);
   * false: neither, so clients send everything to ff02::1:2.
   */
  unicast?: boolean;
}

/** Kea v6 on srv0; call after serverPort6 (Kea must start once srv0's link-local is valid). */
export async function startKea6(srv: TestNetns, opts: Kea6Options = {}): Promise<V6Server> {
  const dir = tempFile('d6-kea');
  fs.mkdirSync(dir);
  const log = `${dir}/kea.log`;
  const config = {
    Dhcp6: {
      'interfaces-config': { interfaces: [opts.unicast === false ? 'srv0' : `srv0/${SERVER_ADDR6}`] },
      'lease-database': { type: 'memfile', persist: true, name: `${dir}/leases6.csv`, 'lfc-interval': 0 },
      // Kea's default writes its DUID under /var/lib/kea, which the package does not create
      'server-id': { type: 'LLT', persist: false },
      'preferred-lifetime': opts.preferred ?? 30,
      'valid-lifetime': opts.valid ?? 60,
      'renew-timer': opts.renew ?? 10,
      'rebind-timer': opts.rebind ?? 20,
      subnet6: [{
        id: 1,
        subnet: `${PREFIX6}/64`,
        interface: 'srv0',
        'rapid-commit': true,
        pools: [{ pool: opts.pool ?? `${PREFIX6}100-${PREFIX6}1ff` }],
        'option-data': [
          { name: 'dns-servers', data: DNS6 },
          { name: 'domain-search', data: SEARCH6.join(', ') },
          ...(opts.unicast === false ? [] : [{ name: 'unicast', data: SERVER_ADDR6, 'always-send': true }]),
        ],
      }],
      loggers: [{ name: 'kea-dhcp6', output_options: [{ output: log }], severity: 'DEBUG', debuglevel: 40 }],
    },
  };
  const file = `${dir}/kea-dhcp6.json`;
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const env = { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
  srv.exec('kea-dhcp6', ['-t', file]);
  const proc = srv.spawn('kea-dhcp6', ['-c', file], { stdio: ['ignore', 'ignore', fs.openSync(`${dir}/kea.err`, 'w')], env });
  const read = logReader(log);
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`kea-dhcp6 exited ${proc.exitCode}: ${fs.readFileSync(`${dir}/kea.err`, 'utf8')} ${read().slice(-600)}`);
    return /DHCP6_STARTED/.test(read());
  }, 15_000, 'kea-dhcp6 to start');
  return { name: 'kea', proc, log: read, leaseFile: `${dir}/leases6.csv` };
}
