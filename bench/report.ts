/** Renders the bench results as the Markdown of BENCHMARKS.md. */
import type { Sizes } from './run';
import { fmtKb, fmtMb, fmtMs, fmtNum, p50, p95, ratio } from './stats';

export interface SideResults {
  side: 'ours' | 'ref';
  errors: string[];
  phaseSeconds: Record<string, number>;
  /** 1-minute load average when each phase began (the machine is shared) */
  phaseLoad?: Record<string, number>;
  /** packets the kernel dropped for a full input backlog during each phase (all namespaces) */
  phaseDrops?: Record<string, number>;
  /** neighbour entries the kernel could not add, its ARP or ndisc table full, during each phase (all namespaces) */
  phaseTableFulls?: Record<string, number>;
  daemonExe?: string;
  rssIdleKb?: number;
  rssIdleAnonKb?: number;
  rssIdleFileKb?: number;
  pssIdleKb?: number;
  seqAddMs?: number[];
  seqAddFailures?: number;
  seqDelMs?: number[];
  ipamAddMs?: number[];
  /** ours only: the same pods again with `"arpProbe": false` */
  ipamAddNoProbeMs?: number[];
  /** (b) VERSION of the same shim through the same `ip netns exec`, one before each ADD (older results: absent) */
  ipamVersionMs?: number[];
  ipamDelMs?: number[];
  ipamFailures?: number;
  bursts?: Array<{
    size: number;
    wallMs: number;
    failures: number;
    p50Ms: number;
    p95Ms: number;
    /** CPU seconds during the burst: the CNI calls (ip netns exec + bridge + IPAM shim), the daemon, dnsmasq */
    cpuS?: { callsS: number; daemonS: number; serverS: number };
  }>;
  rssAt?: Array<{ leases: number; target: number; rssKb: number; rssAnonKb?: number; rssFileKb?: number; pssKb?: number; fds: number; serverLeases: number; daemonBound?: number }>;
  fillFailures?: number;
  cpu?: { leases: number; windowS: number; cpuSecondsPerMin: number; acksPerMin: number; rssEndKb: number; serverLeases: number; daemonBound?: number };
  restart?: {
    leases: number;
    /** from the kill to the old process's exit */
    exitMs: number;
    socketMs: number;
    resumeMs?: number;
    boundAfter?: number;
    acksAfter?: number;
    windowS?: number;
    fdsBefore: number;
    fdsAfter?: number;
    rssAfterKb?: number;
  };
}

export interface BenchResults {
  date: string;
  command: string;
  sizes: Sizes;
  machine: { nproc: number; cpu: string; kernel: string; memGb: number };
  versions: { node: string; dnsmasq: string; refPackage: string; refVersionOutput: string; ours: string };
  floors: {
    ipNetnsExecMs: number;
    hostLocalSeqP50Ms: number;
    hostLocalBurst: { size: number; wallMs: number; failures: number; p95Ms: number; callsS?: number };
  };
  startup: {
    runs: number;
    caFile: string;
    nodeMs: number;
    nodeCaMs: number;
    oursVersionMs: number;
    oursVersionCaMs: number;
    oursStatusMs: number;
    refVersionMs: number;
    refStatusMs: number;
    oursStatusExit: number;
    refStatusExit: number;
  };
  ours?: SideResults;
  ref?: SideResults;
  totalSeconds: number;
  /** 1-, 5- and 15-minute load averages when the run started and ended (the machine is shared) */
  load?: { start: number[]; end: number[] };
}

type Row = [string, string, string, string];

function num(side: SideResults | undefined, f: (s: SideResults) => number | undefined): number | undefined {
  return side ? f(side) : undefined;
}

export function rssSlopeKb(s: SideResults | undefined): number | undefined {
  const at = s?.rssAt ?? [];
  const a = at[0];
  const b = at.at(-1);
  if (!a || !b || b.leases <= a.leases) return undefined;
  return (b.rssKb - a.rssKb) / (b.leases - a.leases);
}

function perLeaseFromIdle(s: SideResults | undefined): number | undefined {
  const b = s?.rssAt?.at(-1);
  if (!s || !b || s.rssIdleKb === undefined || b.leases === 0) return undefined;
  return (b.rssKb - s.rssIdleKb) / b.leases;
}

export function figureRows(r: BenchResults): Row[] {
  const { ours, ref, sizes } = r;
  const rows: Row[] = [];
  const ms = (label: string, f: (s: SideResults) => number | undefined) => {
    const o = num(ours, f);
    const x = num(ref, f);
    rows.push([label, fmtMs(o), fmtMs(x), ratio(o, x)]);
  };
  const plain = (label: string, f: (s: SideResults) => number | undefined, fmt: (n: number | undefined) => string, withRatio = true) => {
    const o = num(ours, f);
    const x = num(ref, f);
    rows.push([label, fmt(o), fmt(x), withRatio ? ratio(o, x) : '—']);
  };
  const nA = sizes.seq;
  ms(`(a) ADD through bridge, sequential, ${nA} pods: p50`, (s) => p50(s.seqAddMs ?? []));
  ms(`(a) ADD through bridge, sequential, ${nA} pods: p95`, (s) => p95(s.seqAddMs ?? []));
  ms(`(a) DEL through bridge, p50 (extra)`, (s) => p50(s.seqDelMs ?? []));
  ms(`(b) IPAM plugin alone, link already up, ${sizes.ipam} pods: ADD p50`, (s) => p50(s.ipamAddMs ?? []));
  ms(`(b) IPAM plugin alone: ADD p95`, (s) => p95(s.ipamAddMs ?? []));
  const vOurs = versionFloor(r, 'ours');
  const vRef = versionFloor(r, 'ref');
  const sameExec = Boolean(ours?.ipamVersionMs?.length);
  if (sameExec) ms(`(b) VERSION through the same \`ip netns exec\`, one before each ADD: p50`, (s) => p50(s.ipamVersionMs ?? []));
  const vLabel = sameExec ? 'VERSION p50 (the row above)' : 'VERSION p50 (f)';
  rows.push([
    `(b) daemon’s share of that ADD: ADD p50 − ${vLabel}, default ARP probe`,
    fmtMs(p50(ours?.ipamAddMs ?? []) - vOurs),
    fmtMs(p50(ref?.ipamAddMs ?? []) - vRef),
    ratio(p50(ours?.ipamAddMs ?? []) - vOurs, p50(ref?.ipamAddMs ?? []) - vRef),
  ]);
  if (ours?.ipamAddNoProbeMs?.length) {
    // the reference never probes: its one ADD figure is also its probe-off figure
    const refAdd = p50(ref?.ipamAddMs ?? []);
    rows.push([`(b) IPAM alone, \`"arpProbe": false\` (the reference has no probe: its ADD p50 again): ADD p50`, fmtMs(p50(ours.ipamAddNoProbeMs)), fmtMs(refAdd), ratio(p50(ours.ipamAddNoProbeMs), refAdd)]);
    rows.push([
      `(b) daemon’s share without the probe: ADD p50 − ${vLabel}`,
      fmtMs(daemonShareNoProbe(r)),
      fmtMs(p50(ref?.ipamAddMs ?? []) - vRef),
      ratio(daemonShareNoProbe(r), p50(ref?.ipamAddMs ?? []) - vRef),
    ]);
  }
  ms(`(b) IPAM plugin alone: DEL p50`, (s) => p50(s.ipamDelMs ?? []));
  for (const [i, B] of sizes.bursts.entries()) {
    ms(`(c) burst of ${B} concurrent ADDs through bridge: wall`, (s) => s.bursts?.[i]?.wallMs);
    plain(`(c) burst of ${B}: failures`, (s) => s.bursts?.[i]?.failures, (n) => fmtNum(n), false);
    ms(`(c) burst of ${B}: per-call p95`, (s) => s.bursts?.[i]?.p95Ms);
    const cpu = (s: SideResults | undefined) => {
      const c = s?.bursts?.[i]?.cpuS;
      return c ? `${fmtNum(c.callsS, 1)} + ${fmtNum(c.daemonS, 1)} + ${fmtNum(c.serverS, 1)} s` : '—';
    };
    rows.push([`(c) burst of ${B}: CPU of the CNI calls + daemon + dnsmasq`, cpu(ours), cpu(ref), '—']);
  }
  plain('(d) daemon RSS, idle', (s) => s.rssIdleKb, fmtMb);
  for (const [i, L] of sizes.leases.entries()) plain(`(d) daemon RSS holding ${L} leases${heldNote(r, i)}`, (s) => s.rssAt?.[i]?.rssKb, fmtMb);
  const first = sizes.leases[0];
  const last = sizes.leases.at(-1);
  plain(`(d) RSS per extra lease, ${first} → ${last}`, rssSlopeKb, fmtKb);
  plain(`(d) RSS per lease, idle → ${last}`, perLeaseFromIdle, fmtKb);
  plain(`(e) daemon CPU s/min holding ${last} leases (2-min leases), over ${sizes.cpuWindowS} s`, (s) => s.cpu?.cpuSecondsPerMin, (n) => fmtNum(n, 2));
  plain(`(e) server DHCPACKs/min in that window (renewal rate)`, (s) => s.cpu?.acksPerMin, (n) => fmtNum(n, 0));
  plain(`(e) daemon RSS at the end of that window`, (s) => s.cpu?.rssEndKb, fmtMb);
  const st = r.startup;
  rows.push(['(f) `dhcp` VERSION, p50', fmtMs(st.oursVersionMs), fmtMs(st.refVersionMs), ratio(st.oursVersionMs, st.refVersionMs)]);
  rows.push(['(f) `dhcp` STATUS (cniVersion 1.1.0), p50', fmtMs(st.oursStatusMs), fmtMs(st.refStatusMs), ratio(st.oursStatusMs, st.refStatusMs)]);
  const g = ours?.restart;
  rows.push([
    `(g) kill the daemon (SIGKILL), start it again and resume ${last} leases: until all BOUND`,
    g?.resumeMs !== undefined ? `${fmtMs(g.resumeMs)} (${g.boundAfter}/${g.leases} BOUND)` : '—',
    ref?.restart ? 'n/a (forgets leases)' : '—',
    '—',
  ]);
  rows.push([
    `(g) server DHCPACKs in the ${sizes.forgetWindowS} s after the restart`,
    fmtNum(ours?.restart?.acksAfter),
    ref?.restart ? `${fmtNum(ref.restart.acksAfter)}${ref.restart.acksAfter === 0 ? ' (forgot them: confirmed)' : ''}` : '—',
    '—',
  ]);
  ms('(g) old daemon: from SIGKILL to its exit', (s) => s.restart?.exitMs);
  ms('(g) new daemon: from exec to its socket', (s) => s.restart?.socketMs);
  rows.push([
    '(g) daemon open fds before → after the restart',
    ours?.restart ? `${ours.restart.fdsBefore} → ${ours.restart.fdsAfter}` : '—',
    ref?.restart ? `${ref.restart.fdsBefore} → ${ref.restart.fdsAfter}` : '—',
    '—',
  ]);
  return rows;
}

/** ' (held: ours N, reference M)' when a side did not reach the lease count of point i (fills fail under load). */
function heldNote(r: BenchResults, i: number): string {
  const target = r.sizes.leases[i];
  const o = r.ours?.rssAt?.[i]?.leases;
  const x = r.ref?.rssAt?.[i]?.leases;
  return o !== target || x !== target ? ` (held: ours ${o ?? '—'}, reference ${x ?? '—'})` : '';
}

/**
 * The VERSION p50 a side's (b) ADDs are measured against: its VERSION through the same
 * `ip netns exec` in the same phase when the run has it, else (older runs) the start-up
 * phase's VERSION exec'd directly, which leaves the exec path's cost in the difference.
 */
export function versionFloor(r: BenchResults, side: 'ours' | 'ref'): number {
  const v = r[side]?.ipamVersionMs;
  if (v?.length) return p50(v);
  return side === 'ours' ? r.startup.oursVersionMs : r.startup.refVersionMs;
}

/** ADD p50 with the probe off minus VERSION p50: what the daemon and the shim's RPC add to start-up. */
export function daemonShareNoProbe(r: BenchResults): number {
  return p50(r.ours?.ipamAddNoProbeMs ?? []) - versionFloor(r, 'ours');
}

interface Target {
  name: string;
  threshold: string;
  measured: string;
  met: boolean | undefined;
}

export function targets(r: BenchResults): Target[] {
  const { ours, ref, sizes, startup } = r;
  const t: Target[] = [];
  const seq50 = p50(ours?.seqAddMs ?? []);
  t.push({ name: 'bridge ADD p50', threshold: '≤ 100 ms', measured: fmtMs(seq50), met: Number.isFinite(seq50) ? seq50 <= 100 : undefined });
  const o = p50(ours?.ipamAddMs ?? []);
  const x = p50(ref?.ipamAddMs ?? []);
  t.push({
    name: 'IPAM-alone ADD p50',
    threshold: '≤ 1.3× the reference',
    measured: `${fmtMs(o)} vs ${fmtMs(x)} = ${ratio(o, x)}`,
    met: Number.isFinite(o) && Number.isFinite(x) ? o <= 1.3 * x : undefined,
  });
  const bi = sizes.bursts.length - 1;
  const bo = ours?.bursts?.[bi];
  const bx = ref?.bursts?.[bi];
  t.push({
    name: `${sizes.bursts[bi]}-pod burst`,
    threshold: '≤ 0.5× the reference’s wall, 0 failures',
    measured: bo && bx ? `${fmtMs(bo.wallMs)} vs ${fmtMs(bx.wallMs)} = ${ratio(bo.wallMs, bx.wallMs)}, ${bo.failures} failures` : '—',
    met: bo && bx ? bo.wallMs <= 0.5 * bx.wallMs && bo.failures === 0 : undefined,
  });
  const L = sizes.leases.at(-1);
  const ro = ours?.rssAt?.at(-1)?.rssKb;
  const rx = ref?.rssAt?.at(-1)?.rssKb;
  const slope = rssSlopeKb(ours);
  t.push({
    name: `RSS at ${L} leases`,
    threshold: '≤ the reference’s, and ≤ 30 KB per extra lease',
    measured: `${fmtMb(ro)} vs ${fmtMb(rx)}; ${fmtKb(slope)}/lease${heldNote(r, sizes.leases.length - 1)}`,
    // comparable only when both sides held the leases they were filled to
    met:
      ro !== undefined && rx !== undefined && slope !== undefined && !heldNote(r, sizes.leases.length - 1) ? ro <= rx && slope <= 30 : undefined,
  });
  const v = startup.oursVersionMs;
  const s = startup.oursStatusMs;
  const lim = startup.nodeMs + 3;
  t.push({
    name: 'shim start-up (`dhcp` VERSION)',
    threshold: `≤ \`node -e 0\` + 3 ms = ${fmtMs(lim)}`,
    measured: `VERSION ${fmtMs(v)} (STATUS ${fmtMs(s)}), \`node -e 0\` ${fmtMs(startup.nodeMs)}`,
    met: Number.isFinite(v) ? v <= lim : undefined,
  });
  const share = daemonShareNoProbe(r);
  const shareProbe = p50(ours?.ipamAddMs ?? []) - versionFloor(r, 'ours');
  t.push({
    name: 'daemon’s share of an ADD (ADD − VERSION, link up)',
    threshold: '≤ 15 ms p50',
    measured: `${fmtMs(share)} with \`"arpProbe": false\`; ${fmtMs(shareProbe)} with the default probe (2 × 50 ms)`,
    met: Number.isFinite(share) ? share <= 15 : undefined,
  });
  return t;
}

function table(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/** RSS / anonymous / PSS of each daemon, idle and at each lease count: one column per figure and side. */
export function memoryTable(r: BenchResults): string {
  type M = { rss?: number; anon?: number; pss?: number };
  const at = (s: SideResults | undefined, i: number | 'idle'): M => {
    if (!s) return {};
    if (i === 'idle') return { rss: s.rssIdleKb, anon: s.rssIdleAnonKb, pss: s.pssIdleKb };
    const a = s.rssAt?.[i];
    return { rss: a?.rssKb, anon: a?.rssAnonKb, pss: a?.pssKb };
  };
  const mb = (kb: number | undefined) => (kb === undefined || kb < 0 ? '—' : fmtMb(kb));
  const points: Array<[string, number | 'idle']> = [['idle', 'idle'], ...r.sizes.leases.map((L, i): [string, number] => [`${r.ours?.rssAt?.[i]?.leases ?? r.ref?.rssAt?.[i]?.leases ?? L} leases`, i])];
  const rows = points.map(([label, i]) => {
    const o = at(r.ours, i);
    const x = at(r.ref, i);
    return [label, mb(o.rss), mb(o.anon), mb(o.pss), mb(x.rss), mb(x.anon), mb(x.pss)];
  });
  return table(['daemon', 'ours RSS', 'ours anon', 'ours PSS', 'ref RSS', 'ref anon', 'ref PSS'], rows);
}

export function renderMarkdown(r: BenchResults, parts: { preamble: string; analysis: string; summary?: string }): string {
  const { sizes, machine: m, versions: v, floors: f, startup: st } = r;
  const out: string[] = [];
  if (parts.preamble.trim()) out.push(parts.preamble.trim(), '');
  out.push('<!-- everything below this line is generated by the bench command; edit bench/preamble.md or bench/analysis.md instead -->', '');
  if (parts.summary?.trim()) out.push(parts.summary.trim(), '');
  out.push(`## Results (${sizes.mode} run${parts.summary?.trim() ? ', the latest of those above' : ''})`, '');
  out.push(`- **Command:** \`${r.command}\` (as root, after \`npm run build\`); the whole run took ${(r.totalSeconds / 60).toFixed(1)} min.`);
  out.push(`- **Date:** ${r.date.slice(0, 16).replace('T', ' ')} UTC${r.load ? `; load average (1/5/15 min) ${r.load.start.join(' ')} at the start, ${r.load.end.join(' ')} at the end, on ${m.nproc} CPUs` : ''}`);
  out.push(`- **Machine:** ${m.nproc} × ${m.cpu}, ${m.memGb} GB, Linux ${m.kernel}`);
  out.push(`- **Versions:** node ${v.node}; ${v.dnsmasq}; reference: ${v.refPackage}, \`CNI_COMMAND=VERSION /usr/lib/cni/dhcp\` → \`${v.refVersionOutput}\`; ours: ${v.ours}`);
  out.push(`- **Sizes:** ${JSON.stringify({ seq: sizes.seq, ipam: sizes.ipam, bursts: sizes.bursts, leases: sizes.leases, cpuWindowS: sizes.cpuWindowS, startupRuns: sizes.startupRuns })}`);
  out.push('');
  out.push(table(['figure', 'ours', 'reference', 'ratio (ours/ref)'], figureRows(r)));
  out.push('');
  out.push('### Daemon memory: RSS, anonymous, PSS', '');
  out.push(memoryTable(r), '');
  out.push(
    'RSS counts every resident page the daemon maps, including the node binary and libraries that other node processes share; ' +
      'anonymous (RssAnon) is its own heap and stacks; PSS (smaps_rollup) divides each shared page among the processes mapping it: what the daemon costs the node.',
    '',
  );
  out.push('### Floors (context for the start-up figures)', '');
  out.push(
    table(
      ['what', 'p50'],
      [
        ['`node -e 0`, without NODE_EXTRA_CA_CERTS (how the bench execs every plugin)', fmtMs(st.nodeMs)],
        [`\`node -e 0\`, with NODE_EXTRA_CA_CERTS=${st.caFile} (this machine's login environment)`, fmtMs(st.nodeCaMs)],
        ['our `dhcp` VERSION, with NODE_EXTRA_CA_CERTS', fmtMs(st.oursVersionCaMs)],
        ['`ip netns exec <node ns> /bin/true` (paid by every (a)–(c) call on both sides)', fmtMs(f.ipNetnsExecMs)],
        [`bridge plugin with host-local IPAM (no DHCP), sequential ADD (floor of (a))`, fmtMs(f.hostLocalSeqP50Ms)],
        [`bridge plugin with host-local IPAM, burst of ${f.hostLocalBurst.size}: wall (floor of (c)), ${f.hostLocalBurst.failures} failures, per-call p95 ${fmtMs(f.hostLocalBurst.p95Ms)}${f.hostLocalBurst.callsS !== undefined ? `, CPU of the calls ${fmtNum(f.hostLocalBurst.callsS, 1)} s` : ''}`, fmtMs(f.hostLocalBurst.wallMs)],
      ],
    ),
  );
  out.push('');
  out.push('### Targets (issues 5 and 14)', '');
  const note = sizes.mode === 'full' ? '' : sizes.mode === 'smoke' ? ' (smoke run: tiny sizes, not evaluated)' : ` (${sizes.mode} run: indicative only)`;
  out.push(
    table(
      ['target', 'threshold', 'measured (ours vs reference)', `result${note}`],
      targets(r).map((t) => [t.name, t.threshold, t.measured, sizes.mode === 'smoke' ? '—' : t.met === undefined ? 'n/a' : t.met ? '**met**' : '**not met**']),
    ),
  );
  out.push('');
  out.push('### How it was measured', '');
  const B = sizes.bursts.at(-1);
  const L = sizes.leases.at(-1);
  out.push(
    [
      '- Two identical copies of one topology (bench/lab-extra.ts), one per side: a server namespace with dnsmasq on `srv0` 198.18.0.1/21 (pool 198.18.0.10–198.18.7.250, ' +
        '2-minute leases, `--dhcp-lease-max=4000`, `--no-ping`), its veth peer on a bridge in a node namespace where the daemon under test runs, ' +
        'and one namespace per pod with one interface each (a pod with several interfaces on one subnet answers ARP for all of them on any of them, which breaks unicast renewals for either daemon). ' +
        'Each side has its own freshly started dnsmasq with an empty lease file, and a fresh daemon and state dir.',
      '- The machine is shared (other test suites run on it at the same time, see the load averages below), so the sides take turns phase by phase — ' +
        '(a) ours then the reference, (b) the reference then ours, and so on, alternating who goes first — and (e) measures both daemons over the same window. ' +
        'A ratio therefore compares two measurements taken within a minute or two of each other; absolute times still move with the load between runs.',
      '- Every CNI call is exec\'d as a runtime does: `ip netns exec <node ns> <CNI_PATH>/bridge` (or `…/dhcp` for (b)), with `CNI_PATH` holding the real bridge plugin and either ' +
        'our shim or `/usr/lib/cni/dhcp` as `dhcp`, and `ipam.daemonSocketPath` pointing at the daemon under test. A call is timed from spawn to exit.',
      '- (b) gives each pod a veth pair: `eth1` up in the pod, the host end on the bridge and up; the calls start only once every pod end reports UP and every bridge port is forwarding.',
      `- (c) the ${sizes.bursts.join(' and ')} ADDs of a burst are spawned at once; the first burst is deleted before the next; the last burst's ${B} leases are kept.`,
      `- (d)/(e)/(g): ${L} leases = ${L} pod namespaces on the one bridge (${L} + 1 ports; a Linux bridge takes 1024), each with one \`eth1\` attached by the bridge plugin: ` +
        `the last burst's ${B} pods, then more pods at ${sizes.fill} ADDs in flight. RSS is VmRSS of the daemon's PID, read ${sizes.settleMs / 1000} s after the last ADD ` +
        '(`ip netns exec` execs the daemon, so the spawned PID is the daemon; the bench checks /proc/PID/exe). CPU is utime+stime from /proc/PID/stat over the window.',
      '- The ARP entries of held leases are pinned PERMANENT (the server\'s entry for each pod address, each pod\'s entry for the server), outside every timed call and for both sides alike. ' +
        'The kernel\'s neighbour table is shared by all namespaces and holds at most 1024 non-permanent entries (gc_thresh3); 1000 leases need about 2000 ' +
        '(the server resolves each client for its unicast renewal ACK, each client resolves the server), and past that the kernel drops the ACKs ' +
        '("table_fulls" in /proc/net/stat/arp_cache): without the pinning, an earlier run saw both daemons lose renewals past ~500 leases.',
      '- (g) SIGKILL to the daemon, start it again on the same state dir, then poll `cni-dhcp -s SOCK leases --json --state BOUND` until every lease is listed. ' +
        'The reference keeps leases in memory only; the bench checks that it forgot them by counting the server\'s DHCPACKs in a window after the restart (ours renews, the reference sends nothing) and its open fds.',
    ].join('\n'),
  );
  for (const s of [r.ours, r.ref]) {
    if (!s) continue;
    const d = s.rssAt
      ?.map((a) => `${a.leases} held (target ${a.target}; server has ${a.serverLeases} active${a.daemonBound !== undefined ? `, daemon lists ${a.daemonBound} BOUND` : ''}; ${a.fds} fds; RSS ${fmtMb(a.rssAnonKb)} anonymous + ${fmtMb(a.rssFileKb)} file-backed)`)
      .join('; ');
    const idle = `idle RSS ${fmtMb(s.rssIdleAnonKb)} anonymous + ${fmtMb(s.rssIdleFileKb)} file-backed (the mapped executable and libraries, page cache shared with other processes)`;
    out.push(`- ${s.side === 'ours' ? 'Ours' : 'Reference'}: daemon ${s.daemonExe}; ${idle}; ${d ?? ''}; ADDs that failed while filling (retried on the same pod): ${s.fillFailures ?? 0}; ` +
      `phases: seconds (1-min load average at the start; packets the kernel dropped for a full input backlog; neighbour entries it could not add, its table full): ` +
      `${Object.entries(s.phaseSeconds).map(([k, x]) => `${k} ${x.toFixed(0)} (${(s.phaseLoad?.[k] ?? NaN).toFixed(1)}; ${s.phaseDrops?.[k] ?? '?'}; ${s.phaseTableFulls?.[k] ?? '?'})`).join(', ')}.`);
  }
  out.push(`- (f) runs the ${st.runs} × 7 start-up commands round-robin (after 3 warm-up rounds), with both daemons up and idle, so each sees the same load. ` +
    `STATUS exit codes: ours ${st.oursStatusExit}, reference ${st.refStatusExit} (the reference 1.1.1 has no STATUS; it answers "missing containerID", so its figure is its start-up plus an error).`);
  const errs = [...(r.ours?.errors ?? []).map((e) => `ours ${e}`), ...(r.ref?.errors ?? []).map((e) => `reference ${e}`)];
  if (errs.length) {
    out.push('', '### Errors seen in this run', '');
    for (const e of errs) out.push(`- ${e.replace(/\s+/g, ' ')}`);
  }
  out.push('');
  if (parts.analysis.trim()) out.push(parts.analysis.trim(), '');
  return out.join('\n');
}
