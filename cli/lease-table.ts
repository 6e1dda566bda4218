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

export function leaseRows(leases: LeaseView[], now: number): string[][] {
  return leases.map((l) => [
    l.containerId.length > 16 ? l.containerId.slice(0, 16) : l.containerId,
    l.podNamespace && l.podName ? `${l.podNamespace}/${l.podName}` : (l.podName ?? '-'),
    l.netns,
    l.ifname,
    l.address ? `${l.address}/${l.prefixLength}` : '-',
    l.serverId ?? '-',
    l.state,
    l.address ? formatDuration(l.renewAt === undefined ? undefined : l.renewAt - now) : '-',
    l.address ? formatDuration(l.expiresAt === undefined ? undefined : l.expiresAt - now) : '-',
    changeCell(l, now),
  ]);
}

/** "from A/24 3m10s ago" after the pod was moved; "offered B/24 (released) 1m ago" when LOST. */
export function changeCell(l: LeaseView, now: number): string {
  if (l.lost) return `offered ${l.lost.offered || '?'} (released) ${formatDuration(now - l.lost.at)} ago`;
  if (l.changedFrom) return `from ${l.changedFrom} ${formatDuration(now - (l.changedAt ?? now))} ago`;
  return '-';
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export const LEASE_HEADER = ['CONTAINER', 'POD', 'NETNS', 'IFNAME', 'ADDRESS', 'SERVER', 'STATE', 'RENEW IN', 'EXPIRES IN', 'ADDRESS CHANGE'];
