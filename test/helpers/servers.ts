/**
 * DHCP servers for the interop matrix, each in a lab's server namespace on `srv0`
 * (198.18.0.1/24), all configured alike: pool 198.18.0.10-250, router 198.18.0.1, DNS
 * 198.18.0.53, domain lab.example, 2-minute leases with T1 = 3 s and T2 = 100 s (options 58
 * and 59), so a unicast renewal happens within a test. Each adapter reads the server's own
 * lease database, so a test sees what the server recorded, not what we think we sent.
 *
 * ISC dhcpd and busybox udhcpd are started here; Kea reuses kea.ts and dnsmasq the lab's
 * own starter. Processes are registered with the lab and stopped by PID at cleanup.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Lab } from './lab';
import { startKea } from './kea';
import { startProcess, waitFor } from './sh';

export const ROUTER = '198.18.0.1';
export const DNS = { nameservers: ['198.18.0.53'], domain: 'lab.example' };

/** T1 and T2 every server sends, in seconds */
/** dnsmasq ignores a configured T1 of 2 s or less (rfc2131.c: `hval > 2`) and sends lease/2 */
export const T1 = 3;
export const T2 = 100;

export type ServerName = 'dnsmasq' | 'kea' | 'isc-dhcpd' | 'udhcpd';

/** One lease as the server recorded it. */
export interface ServerLease {
  ip: string;
  mac: string;
  /** option 61 as the server stored it, or undefined when the server does not store it */
  clientId: Buffer | undefined;
  /** the server still counts it as allocated */
  active: boolean;
  /** when it ends, in seconds since the epoch */
  expires: number;
}

export interface ServerUnderTest {
  name: ServerName;
  /** the DNS the server hands out (undefined: it sends none) */
  dns: { nameservers: string[]; domain?: string } | undefined;
  /** false when the server keys leases by chaddr only and ignores option 61 */
  keysByClientId: boolean;
  /** every lease row the server has now, active or not */
  leases(): Promise<ServerLease[]>;
  /**
   * undefined when an early renewal moves the lease's end in the database; otherwise how to see
   * in the server's log that it answered a renewal without doing so (ISC dhcpd's reuse_lease)
   */
  renewalWithoutExtension?: (address: string) => boolean;
}

/** "00:63:64:..." or "0063..." → bytes */
function hexBytes(s: string): Buffer {
  return Buffer.from(s.replace(/:/g, ''), 'hex');
}

export async function startServer(lab: Lab, name: ServerName): Promise<ServerUnderTest> {
  switch (name) {
    case 'dnsmasq':
      await lab.startDnsmasq({ extra: [`--dhcp-option=option:T1,${T1}`, `--dhcp-option=option:T2,${T2}`] });
      return {
        name,
        dns: DNS,
        keysByClientId: true,
        // dnsmasq rewrites its lease file on every change and removes a released lease
        leases: async () => lab.dnsmasqLeases().map((l) => ({ ip: l.ip, mac: l.mac, clientId: l.clientId === '*' ? undefined : hexBytes(l.clientId), active: true, expires: l.expiry })),
      };
    case 'kea': {
      const kea = await startKea(lab, { validLifetime: 120, renewTimer: T1, rebindTimer: T2 });
      return {
        name,
        dns: { nameservers: DNS.nameservers },
        keysByClientId: true,
        leases: async () => kea.leases().map((l) => ({ ip: l.address, mac: l.hwaddr, clientId: l.clientId ? hexBytes(l.clientId) : undefined, active: true, expires: l.expire })),
      };
    }
    case 'isc-dhcpd':
      return startIscDhcpd(lab);
    case 'udhcpd':
      return startUdhcpd(lab);
  }
}

export const SERVER_TOOLS: Record<ServerName, string[]> = {
  dnsmasq: ['/usr/sbin/dnsmasq'],
  kea: ['/usr/sbin/kea-dhcp4'],
  'isc-dhcpd': ['/usr/sbin/dhcpd'],
  udhcpd: ['/bin/busybox'],
};

// ---- ISC dhcpd ------------------------------------------------------------------------------

/**
 * ISC dhcpd 4.4 in the foreground. `ping-check false`: by default it pings every address
 * before offering it and waits a second for an echo, which would add 1 s to every ADD.
 */
export async function startIscDhcpd(lab: Lab): Promise<ServerUnderTest> {
  const conf = path.join(lab.dir, 'dhcpd.conf');
  const leaseFile = path.join(lab.dir, 'dhcpd.leases');
  const log = path.join(lab.dir, 'dhcpd.log');
  fs.writeFileSync(
    conf,
    [
      'authoritative;',
      'ddns-update-style none;',
      'ping-check false;',
      'default-lease-time 120;',
      'max-lease-time 120;',
      `option dhcp-renewal-time ${T1};`,
      `option dhcp-rebinding-time ${T2};`,
      'subnet 198.18.0.0 netmask 255.255.255.0 {',
      '  range 198.18.0.10 198.18.0.250;',
      `  option routers ${ROUTER};`,
      `  option domain-name-servers ${DNS.nameservers.join(', ')};`,
      `  option domain-name "${DNS.domain}";`,
      '}',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(leaseFile, '');
  const child = startProcess('ip', ['netns', 'exec', lab.serverNs, 'dhcpd', '-f', '-d', '-4', '-cf', conf, '-lf', leaseFile, '-pf', path.join(lab.dir, 'dhcpd.pid'), 'srv0'], log);
  lab.server = child;
  lab.track(child);
  await waitFor('dhcpd to start', () => {
    if (child.exitCode !== null) throw new Error(`dhcpd exited ${child.exitCode}: ${fs.readFileSync(log, 'utf8').slice(-1500)}`);
    return /Server starting service/.test(fs.readFileSync(log, 'utf8')) || undefined;
  }, 15_000);
  return {
    name: 'isc-dhcpd',
    dns: DNS,
    keysByClientId: true,
    leases: async () => parseDhcpdLeases(fs.readFileSync(leaseFile, 'utf8')),
    // dhcp-cache-threshold (default 25 %): a renewal within the first quarter of the lease is
    // ACKed with the unchanged lease (the remaining time) and not written to the lease file
    renewalWithoutExtension: (address) => new RegExp(`reuse_lease: lease age \\d+ \\(secs\\) under 25% threshold, reply with unaltered, existing lease for ${address.replace(/\./g, '\\.')}\\b`).test(fs.readFileSync(log, 'utf8')),
  };
}

/** dhcpd's uid "..." string: printable bytes as is, the rest as \ooo octal escapes. */
export function dhcpdString(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      out.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (c === '\\') {
      out.push(s.charCodeAt(++i));
    } else {
      out.push(s.charCodeAt(i));
    }
  }
  return Buffer.from(out);
}

/**
 * dhcpd.leases is a journal: every change appends a `lease <ip> { ... }` block, and the last
 * block of an address wins. A RELEASE appends one with `binding state free`.
 */
export function parseDhcpdLeases(text: string): ServerLease[] {
  const byIp = new Map<string, ServerLease>();
  for (const m of text.matchAll(/lease (\d+\.\d+\.\d+\.\d+) \{([^}]*)\}/g)) {
    const ip = m[1] as string;
    const body = m[2] as string;
    const state = /^\s*binding state (\w+);/m.exec(body)?.[1];
    const mac = /hardware ethernet ([0-9a-f:]+);/.exec(body)?.[1] ?? '';
    const uidQuoted = /uid "((?:[^"\\]|\\.)*)";/.exec(body)?.[1];
    const uidHex = /uid ([0-9a-f]{1,2}(?::[0-9a-f]{1,2})+);/.exec(body)?.[1];
    const clientId = uidQuoted !== undefined ? dhcpdString(uidQuoted) : uidHex !== undefined ? Buffer.from(uidHex.split(':').map((h) => parseInt(h, 16))) : undefined;
    const ends = /^\s*ends \d ([\d/]+) ([\d:]+);/m.exec(body);
    const expires = ends ? Date.parse(`${(ends[1] as string).replace(/\//g, '-')}T${ends[2] as string}Z`) / 1000 : 0;
    byIp.set(ip, { ip, mac, clientId, active: state === 'active', expires });
  }
  return [...byIp.values()];
}

// ---- busybox udhcpd -------------------------------------------------------------------------

/**
 * busybox udhcpd (1.35). Its lease file is binary and written only on SIGUSR1, SIGTERM, every
 * `auto_time` seconds, and (when built with WRITE_LEASES_EARLY) after each ACK; leases() asks
 * for a fresh dump each time. `-a 0`: no ARP probe of a candidate address before offering it
 * (the default waits 2 s for an ARP reply that never comes on a free address).
 */
export async function startUdhcpd(lab: Lab): Promise<ServerUnderTest> {
  const conf = path.join(lab.dir, 'udhcpd.conf');
  const leaseFile = path.join(lab.dir, 'udhcpd.leases');
  const log = path.join(lab.dir, 'udhcpd.log');
  fs.writeFileSync(
    conf,
    [
      'interface srv0',
      'start 198.18.0.10',
      'end 198.18.0.250',
      'max_leases 241',
      `lease_file ${leaseFile}`,
      `pidfile ${path.join(lab.dir, 'udhcpd.pid')}`,
      'auto_time 0',
      // udhcpd sends only the options it is given: without `subnet` its ACK has no mask
      'opt subnet 255.255.255.0',
      `opt router ${ROUTER}`,
      `opt dns ${DNS.nameservers.join(' ')}`,
      `opt domain ${DNS.domain}`,
      'opt lease 120',
      // no names for 58/59 in udhcpd: a numeric code and the value as hex
      `opt 0x3a ${T1.toString(16).padStart(8, '0')}`,
      `opt 0x3b ${T2.toString(16).padStart(8, '0')}`,
      '',
    ].join('\n'),
  );
  const child = startProcess('ip', ['netns', 'exec', lab.serverNs, 'busybox', 'udhcpd', '-f', '-a', '0', conf], log);
  lab.server = child;
  lab.track(child);
  await waitFor('udhcpd to listen', async () => {
    if (child.exitCode !== null) throw new Error(`udhcpd exited ${child.exitCode}: ${fs.readFileSync(log, 'utf8').slice(-1500)}`);
    return (await lab.inNs(lab.serverNs, 'ss', '-ulnH', 'sport = :67')).includes(':67') || undefined;
  });
  const dump = async (): Promise<Buffer> => {
    const before = fs.existsSync(leaseFile) ? fs.statSync(leaseFile).mtimeMs : 0;
    const signals = (fs.readFileSync(log, 'utf8').match(/received SIGUSR1/g) ?? []).length;
    if (child.pid === undefined) throw new Error('udhcpd has no pid');
    process.kill(child.pid, 'SIGUSR1');
    // udhcpd logs the signal, then rewrites the file synchronously
    await waitFor('udhcpd lease dump', () => ((fs.readFileSync(log, 'utf8').match(/received SIGUSR1/g) ?? []).length > signals || undefined), 5000, 10);
    await waitFor('udhcpd lease file', () => (fs.existsSync(leaseFile) && fs.statSync(leaseFile).mtimeMs >= before) || undefined, 5000, 10);
    await new Promise((r) => setTimeout(r, 20));
    return fs.readFileSync(leaseFile);
  };
  return {
    name: 'udhcpd',
    dns: DNS,
    keysByClientId: false,
    leases: async () => parseUdhcpdLeases(await dump()),
  };
}

/**
 * udhcpd's lease file: an 8-byte big-endian written-at time, then `struct dyn_lease` records
 * of 36 bytes: remaining seconds (u32 BE, 0 once expired or released), IP, MAC[6],
 * hostname[20], pad[2]. No client id: udhcpd keys its leases by chaddr alone.
 */
export function parseUdhcpdLeases(buf: Buffer): ServerLease[] {
  const out: ServerLease[] = [];
  const writtenAt = buf.length >= 8 ? Number(buf.readBigInt64BE(0)) : 0;
  for (let off = 8; off + 36 <= buf.length; off += 36) {
    const remaining = buf.readUInt32BE(off);
    const ip = [...buf.subarray(off + 4, off + 8)].join('.');
    const mac = [...buf.subarray(off + 8, off + 14)].map((b) => b.toString(16).padStart(2, '0')).join(':');
    out.push({ ip, mac, clientId: undefined, active: remaining > 0, expires: writtenAt + remaining });
  }
  return out;
}
