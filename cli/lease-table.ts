/** Renders leases for people: one row each, times relative to now. */
import type { LeaseView } from '../shared/rpc-protocol';

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '∞';
  const s = Math.round(ms / 1000);
  if (s < 0) return `-${formatDuration(-ms)}`;
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** One row per family of each attachment: the IPv4 lease, then the IPv6 one. */
export function leaseRows(leases: LeaseView[], now: number): string[][] {
  const rows: string[][] = [];
  for (const l of leases) {
    const head = [
      l.containerId.length > 16 ? l.containerId.slice(0, 16) : l.containerId,
      l.podNamespace && l.podName ? `${l.podNamespace}/${l.podName}` : (l.podName ?? '-'),
      l.netns,
      l.ifname,
    ];
    const families = l.families ?? ['ipv4'];
    if (families.includes('ipv4')) {
      rows.push([
        ...head,
        'ipv4',
        l.address ? `${l.address}/${l.prefixLength}` : '-',
        l.serverId ?? '-',
        l.state,
        l.address ? formatDuration(l.renewAt === undefined ? undefined : l.renewAt - now) : '-',
        l.address ? formatDuration(l.expiresAt === undefined ? undefined : l.expiresAt - now) : '-',
        changeCell(l, now),
      ]);
    }
    const v6 = l.ipv6;
    if (v6) {
      rows.push([
        ...head,
        'ipv6',
        v6.address ? `${v6.address}/${v6.prefixLength}` : '-',
        // a server DUID is long: its last 8 bytes tell servers apart in a table (--json has it whole)
        v6.serverId ? `duid …${v6.serverId.slice(-16)}` : '-',
        v6.state,
        v6.address ? formatDuration(v6.renewAt === undefined ? undefined : v6.renewAt - now) : '-',
        v6.address ? formatDuration(v6.expiresAt === undefined ? undefined : v6.expiresAt - now) : '-',
        changeCell(v6, now),
      ]);
    }
  }
  return rows;
}

/** "from A/24 3m10s ago" after the pod was moved; "offered B/24 (released) 1m ago" when LOST. */
export function changeCell(l: Pick<LeaseView, 'lost' | 'changedFrom' | 'changedAt'>, now: number): string {
  if (l.lost) return `offered ${l.lost.offered || '?'} (released) ${formatDuration(now - l.lost.at)} ago`;
  if (l.changedFrom) return `from ${l.changedFrom} ${formatDuration(now - (l.changedAt ?? now))} ago`;
  return '-';
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export const LEASE_HEADER = ['CONTAINER', 'POD', 'NETNS', 'IFNAME', 'FAMILY', 'ADDRESS', 'SERVER', 'STATE', 'RENEW IN', 'EXPIRES IN', 'ADDRESS CHANGE'];
