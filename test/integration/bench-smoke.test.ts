import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../helpers/lab';
import { requireRootTools, run } from '../helpers/sh';

/**
 * The bench's smoke mode (`npm run bench:smoke`, and bench/dual-stack-memory.ts --smoke): tiny
 * sizes, both daemons, no timing assertions. Checks that the benches themselves still work and
 * fill every column of their tables.
 */
describe('bench smoke run: ours and the reference side by side @root', function () {
  this.timeout(180_000);
  let dir: string;

  before(function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge', '/usr/lib/cni/dhcp', '/usr/lib/cni/host-local', path.join(REPO, 'dist', 'cni', 'dhcp')]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdt-bench-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a Markdown table with a value for ours and for the reference in every figure row', async () => {
    const out = path.join(dir, 'bench.md');
    const json = path.join(dir, 'bench.json');
    const tsx = path.join(REPO, 'node_modules', '.bin', 'tsx');
    const r = await run(tsx, [path.join(REPO, 'bench', 'run.ts'), '--smoke', '--out', out, '--json', json], { timeoutMs: 170_000 });
    assert.equal(r.code, 0, `bench exited ${r.code}: ${r.stderr.slice(-3000)}`);
    const md = fs.readFileSync(out, 'utf8');
    const lines = md.split('\n');
    const head = lines.findIndex((l) => l.startsWith('| figure | ours | reference | ratio (ours/ref) |'));
    assert.ok(head >= 0, 'no figure table in the output');
    const rows: string[][] = [];
    for (let i = head + 2; i < lines.length && lines[i]?.startsWith('|'); i++) {
      rows.push((lines[i] as string).split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
    }
    for (const fig of ['(a)', '(b)', '(c)', '(d)', '(e)', '(f)', '(g)']) assert.ok(rows.some((r) => r[0]?.startsWith(fig)), `no row for figure ${fig}`);
    for (const [figure, ours, ref] of rows) {
      assert.ok(ours && ours !== '—', `ours is empty for ${figure}`);
      assert.ok(ref && ref !== '—', `the reference is empty for ${figure}`);
    }
    const res = JSON.parse(fs.readFileSync(json, 'utf8')) as { ours: { errors: string[] }; ref: { errors: string[] } };
    assert.deepEqual(res.ours.errors, [], 'our daemon had failures in the smoke run');
    // the bench removes what it created
    const left = fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns').filter((n) => n.startsWith('cdb-')) : [];
    assert.deepEqual(left.filter((n) => !isAlive(n)), [], 'bench namespaces left behind');
  });

  it('bench/dual-stack-memory.ts --smoke: every side holds its leases (both families on the dual-stack one) and is sampled', async () => {
    const json = path.join(dir, 'dual-stack-memory.json');
    const tsx = path.join(REPO, 'node_modules', '.bin', 'tsx');
    const r = await run(tsx, [path.join(REPO, 'bench', 'dual-stack-memory.ts'), '--smoke', '--json', json], { timeoutMs: 170_000 });
    assert.equal(r.code, 0, `bench exited ${r.code}: ${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /^\| ours dual-stack \|/m, 'the table');
    const res = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      modes: Array<{ mode: string; target: number; held: number; serverLeases: { ipv4: number; ipv6: number }; daemonBound?: { ipv4: number; ipv6: number }; full: { rssKb: number; pssKb: number }; cpu?: { cpuSecondsPerMin: number } }>;
    };
    assert.deepEqual(res.modes.map((m) => m.mode), ['ours dual-stack', 'ours IPv4-only', 'reference IPv4-only']);
    for (const m of res.modes) {
      assert.equal(m.held, m.target, `${m.mode} held ${m.held} of ${m.target}`);
      assert.equal(m.serverLeases.ipv4, m.target, `${m.mode}: dnsmasq's IPv4 leases`);
      assert.equal(m.serverLeases.ipv6, m.mode === 'ours dual-stack' ? m.target : 0, `${m.mode}: dnsmasq's IPv6 leases`);
      assert.ok(m.full.rssKb > 0 && m.full.pssKb > 0, `${m.mode}: RSS and PSS read`);
      assert.ok(m.cpu && Number.isFinite(m.cpu.cpuSecondsPerMin), `${m.mode}: CPU read`);
    }
    assert.equal(res.modes[0]!.daemonBound?.ipv6, res.modes[0]!.target, 'our daemon holds every IPv6 lease');
    const left = fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns').filter((n) => n.startsWith('cdb-')) : [];
    assert.deepEqual(left.filter((n) => !isAlive(n)), [], 'bench namespaces left behind');
  });

  it('bench/dual-stack.ts at 3 interleaved runs of 1 round: per-run rows for every mode, the medians and the dual-stack cost', async () => {
    const json = path.join(dir, 'dual-stack.json');
    const tsx = path.join(REPO, 'node_modules', '.bin', 'tsx');
    const r = await run(tsx, [path.join(REPO, 'bench', 'dual-stack.ts'), '--runs', '3', '--rounds', '1', '--json', json], { timeoutMs: 170_000 });
    assert.equal(r.code, 0, `bench exited ${r.code}: ${r.stderr.slice(-3000)}`);
    for (const k of [1, 2, 3]) for (const mode of ['ours v4-only', 'ours dual-stack', 'reference v4-only']) assert.match(r.stdout, new RegExp(`^\\| ${k} \\| ${mode} \\| 1 \\|`, 'm'), `run ${k}, ${mode}`);
    assert.match(r.stdout, /^dual-stack p50 − IPv4-only p50, per run: /m);
    const res = JSON.parse(fs.readFileSync(json, 'utf8')) as { stats: Array<Array<{ n: number; p50: number }>>; dualStackCostMs: number[] };
    assert.equal(res.stats.length, 3);
    for (const byMode of res.stats) for (const m of byMode) assert.ok(m.n === 1 && m.p50 > 0, JSON.stringify(m));
    assert.equal(res.dualStackCostMs.length, 3);
  });
});

/** A cdb- namespace belongs to a live bench process (a parallel run) when its PID is alive. */
function isAlive(ns: string): boolean {
  const pid = /^cdb-(\d+)-/.exec(ns)?.[1];
  return pid !== undefined && fs.existsSync(`/proc/${pid}`);
}
