/**
 * `npx tsx bench/startup.ts [--rounds N] [--runs N] [--warmup N] [--json FILE] [NAME=COMMAND ...]`
 *
 * Start-up of the CNI executables beside Node's floor and the reference Go plugin, with
 * hyperfine (`-N`, no shell). hyperfine runs its commands one after the other, so on a loaded
 * machine a single invocation compares commands that met different load: this runs N rounds
 * of one short hyperfine invocation over all commands, each round in another order, and reports
 * the median over every sample, the medians of each third of the rounds (three separate runs:
 * the spread), p10/p90, CPU time per run and the load average before and after.
 * Every command gets CNI_COMMAND=VERSION with NODE_EXTRA_CA_CERTS and NODE_OPTIONS cleared
 * (hyperfine gives it an empty stdin, which VERSION accepts); each is first checked to answer
 * VERSION, except those whose NAME starts with `node` (floors). Needs `npm run build` and hyperfine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/helpers/lab';
import { p50 } from './stats';

interface Args {
  rounds: number;
  runs: number;
  warmup: number;
  json: string | undefined;
  commands: Array<[string, string]>;
}

function parse(argv: string[]): Args {
  const a: Args = { rounds: 45, runs: 5, warmup: 2, json: undefined, commands: [] };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i] ?? '';
    const next = (): string => argv[++i] ?? '';
    if (v === '--rounds') a.rounds = Number(next());
    else if (v === '--runs') a.runs = Number(next());
    else if (v === '--warmup') a.warmup = Number(next());
    else if (v === '--json') a.json = path.resolve(next());
    else if (v.includes('=')) a.commands.push([v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]);
    else throw new Error(`unknown argument ${v} (NAME=COMMAND adds a command)`);
  }
  if (!(a.rounds >= 3 && a.runs >= 1)) throw new Error('--rounds ≥ 3 and --runs ≥ 1');
  return a;
}

const loadAvg = (): string => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface HyperfineResult {
  command: string;
  times: number[];
  user: number;
  system: number;
  exit_codes: number[];
}

export interface StartupRow {
  name: string;
  command: string;
  /** median over all rounds' samples, ms */
  p50Ms: number;
  /** the medians of the first, second and last third of the rounds, ms: three separate runs */
  thirdsP50Ms: number[];
  p10Ms: number;
  p90Ms: number;
  /** mean user + system CPU per run, ms */
  cpuMs: number;
}

function main(): void {
  const a = parse(process.argv.slice(2));
  const node = process.execPath;
  const defaults: Array<[string, string]> = [
    ['node -e 0', `${node} -e 0`],
    ['dhcp (dist)', path.join(REPO, 'dist/cni/dhcp')],
    ['static (dist)', path.join(REPO, 'dist/cni/static')],
    ['reference dhcp', '/usr/lib/cni/dhcp'],
  ];
  const commands = [...defaults, ...a.commands];
  const env: NodeJS.ProcessEnv = { ...process.env, CNI_COMMAND: 'VERSION' };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  // a name starting with `node` is a floor (a script that prints nothing), not a plugin
  for (const [name, cmd] of commands.filter(([n]) => !n.startsWith('node'))) {
    const r = spawnSync('/bin/sh', ['-c', `${cmd} </dev/null`], { env, encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.includes('supportedVersions')) throw new Error(`${name} (${cmd}) does not answer VERSION: ${r.stdout}${r.stderr}`);
  }
  const samples = new Map<string, number[]>();
  const rounds = new Map<string, number[][]>();
  const cpu = new Map<string, number[]>();
  const loads: string[] = [loadAvg()];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cni-dhcp-startup-'));
  try {
    for (let r = 0; r < a.rounds; r++) {
      // rotate the order so that no command always runs first (or last) in a round
      const order = commands.map((_, i) => commands[(i + r) % commands.length] as [string, string]);
      const out = path.join(tmp, `round-${r}.json`);
      const h = spawnSync('hyperfine', ['-N', '-w', String(a.warmup), '-r', String(a.runs), '--export-json', out, ...order.map(([, c]) => c)], { env, encoding: 'utf8' });
      if (h.status !== 0) throw new Error(`hyperfine failed: ${h.stderr}`);
      const res = (JSON.parse(fs.readFileSync(out, 'utf8')) as { results: HyperfineResult[] }).results;
      for (const [i, hr] of res.entries()) {
        const name = (order[i] as [string, string])[0];
        const ms = hr.times.map((t) => t * 1000);
        samples.set(name, [...(samples.get(name) ?? []), ...ms]);
        rounds.set(name, [...(rounds.get(name) ?? []), ms]);
        cpu.set(name, [...(cpu.get(name) ?? []), (hr.user + hr.system) * 1000]);
      }
      loads.push(loadAvg());
      process.stderr.write(`[startup] round ${r + 1}/${a.rounds} done, load ${loads.at(-1)}\n`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const rows: StartupRow[] = commands.map(([name, command]) => {
    const s = [...(samples.get(name) ?? [])].sort((x, y) => x - y);
    const rm = rounds.get(name) ?? [];
    const third = Math.ceil(rm.length / 3);
    const thirds = [0, 1, 2].map((k) => p50(rm.slice(k * third, (k + 1) * third).flat()));
    const c = cpu.get(name) ?? [];
    return {
      name,
      command,
      p50Ms: p50(s),
      thirdsP50Ms: thirds,
      p10Ms: s[Math.floor(s.length / 10)] ?? NaN,
      p90Ms: s[Math.floor((9 * s.length) / 10)] ?? NaN,
      cpuMs: c.reduce((x, y) => x + y, 0) / c.length,
    };
  });
  const floor = rows[0]?.p50Ms ?? NaN;
  const f = (n: number): string => n.toFixed(1);
  const lines = [
    `${a.rounds} rounds × ${a.runs} runs (+${a.warmup} warm-up) each, \`hyperfine -N\`, node ${process.version}, load average ${loads[0]} → ${loads.at(-1)}`,
    '',
    '| command | p50 ms (p50 of each third of the rounds) | p10 / p90 ms | CPU ms/run | p50 − `node -e 0` |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${f(r.p50Ms)} (${r.thirdsP50Ms.map(f).join(' / ')}) | ${f(r.p10Ms)} / ${f(r.p90Ms)} | ${f(r.cpuMs)} | ${r.name === 'node -e 0' ? '–' : `${r.p50Ms - floor >= 0 ? '+' : ''}${f(r.p50Ms - floor)}`} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (a.json) fs.writeFileSync(a.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, loads, rounds: a.rounds, runs: a.runs, rows }, null, 2));
}

main();
