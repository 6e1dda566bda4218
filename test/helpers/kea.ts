/** Kea (kea-dhcp4-server) in a lab's server namespace, with lifetimes short enough for lifecycle tests. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Lab } from './lab';
import { startProcess, waitFor } from './sh';

export interface KeaOptions {
  validLifetime?: number;
  renewTimer?: number;
  rebindTimer?: number;
  /** extra Dhcp4 settings merged at top level */
  extra?: Record<string, unknown>;
}

export interface KeaServer {
  leaseFile: string;
  configFile: string;
  /** memfile CSV rows (active leases have state 0) */
  leases(): Array<{ address: string; hwaddr: string; clientId: string; validLifetime: number; expire: number; state: number }>;
}

export async function startKea(lab: Lab, opts: KeaOptions = {}, leaseFileName = 'kea-leases4.csv'): Promise<KeaServer> {
  const leaseFile = path.join(lab.dir, leaseFileName);
  const configFile = path.join(lab.dir, 'kea-dhcp4.json');
  const config = {
    Dhcp4: {
      'interfaces-config': { interfaces: ['srv0'], 'dhcp-socket-type': 'raw' },
      'lease-database': { type: 'memfile', persist: true, name: leaseFile, 'lfc-interval': 0 },
      'valid-lifetime': opts.validLifetime ?? 20,
      'renew-timer': opts.renewTimer ?? Math.floor((opts.validLifetime ?? 20) / 2),
      'rebind-timer': opts.rebindTimer ?? Math.floor(((opts.validLifetime ?? 20) * 7) / 8),
      authoritative: true,
      subnet4: [
        {
          id: 1,
          subnet: '198.18.0.0/24',
          pools: [{ pool: '198.18.0.10 - 198.18.0.250' }],
          'option-data': [
            { name: 'routers', data: '198.18.0.1' },
            { name: 'domain-name-servers', data: '198.18.0.53' },
          ],
        },
      ],
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: path.join(lab.dir, 'kea.log') }], severity: 'INFO' }],
      ...(opts.extra ?? {}),
    },
  };
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const env = { ...process.env, KEA_PIDFILE_DIR: lab.dir, KEA_LOCKFILE_DIR: lab.dir };
  lab.server = startProcess('ip', ['netns', 'exec', lab.serverNs, 'kea-dhcp4', '-c', configFile], path.join(lab.dir, 'kea.out'), env);
  lab.track(lab.server);
  const srv = lab.server;
  await waitFor('kea to listen', async () => {
    if (srv.exitCode !== null) throw new Error(`kea exited ${srv.exitCode}: ${fs.readFileSync(path.join(lab.dir, 'kea.out'), 'utf8').slice(-1500)}`);
    const log = fs.existsSync(path.join(lab.dir, 'kea.log')) ? fs.readFileSync(path.join(lab.dir, 'kea.log'), 'utf8') : '';
    return /DHCP4_STARTED|DHCPSRV_CFGMGR_ADD_IFACE|DHCP4_CONFIG_COMPLETE/.test(log) || undefined;
  }, 15_000);
  return {
    leaseFile,
    configFile,
    leases() {
      if (!fs.existsSync(leaseFile)) return [];
      const rows = fs.readFileSync(leaseFile, 'utf8').trim().split('\n').slice(1);
      // memfile appends: the last row for an address wins
      const byAddr = new Map<string, { address: string; hwaddr: string; clientId: string; validLifetime: number; expire: number; state: number }>();
      for (const r of rows) {
        const c = r.split(',');
        byAddr.set(c[0] ?? '', {
          address: c[0] ?? '',
          hwaddr: c[1] ?? '',
          clientId: c[2] ?? '',
          validLifetime: Number(c[3]),
          expire: Number(c[4]),
          state: Number(c[9]),
        });
      }
      return [...byAddr.values()].filter((l) => l.validLifetime > 0 && l.state === 0);
    },
  };
}
