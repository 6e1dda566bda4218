/**
 * Our `static` against the reference /usr/lib/cni/static (Debian's containernetworking-plugins),
 * case by case, with the same environment and stdin. See test/fixtures/static/differential-cases.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BASE_ENV, CASES, type DiffCase } from '../fixtures/static/differential-cases';
import { REFERENCE_STATIC, runPlugin, staticCommand, type PluginRun } from '../helpers/run-plugin';

function envFor(c: DiffCase): Record<string, string> {
  const env: Record<string, string> = { ...BASE_ENV, CNI_COMMAND: c.verb };
  if (c.cniArgs !== undefined) env.CNI_ARGS = c.cniArgs;
  for (const [k, v] of Object.entries(c.env ?? {})) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
  return env;
}

function parsed(run: PluginRun, who: string): unknown {
  if (run.stdout.trim() === '') return '';
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`${who} printed something that is not JSON: ${JSON.stringify(run.stdout)}`);
  }
}

/** The one rule for all cases: spec 1.0+ errors carry cniVersion, the reference's do not. */
function withoutErrorVersion(out: unknown): unknown {
  if (out && typeof out === 'object' && 'code' in out && 'msg' in out) {
    const { cniVersion: _dropped, ...rest } = out as Record<string, unknown>;
    return rest;
  }
  return out;
}

function describeRun(name: string, run: PluginRun): string {
  return `${name}: exit ${run.code}, stdout ${run.stdout.trim() || '(none)'}${run.stderr ? `, stderr ${run.stderr.trim()}` : ''}`;
}

describe('static: differential against the reference plugin', function () {
  before(function () {
    assert.ok(
      fs.existsSync(REFERENCE_STATIC),
      `${REFERENCE_STATIC} is missing: install Debian's containernetworking-plugins to run the differential table`,
    );
  });

  it('has at least 30 cases, all verbs and all cniVersions', function () {
    assert.ok(CASES.length >= 30, `only ${CASES.length} cases`);
    const verbs = new Set(CASES.map((c) => c.verb));
    for (const v of ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC']) assert.ok(verbs.has(v as DiffCase['verb']), `no ${v} case`);
    const versions = new Set(CASES.map((c) => (c.stdin as { cniVersion?: string }).cniVersion));
    for (const v of ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) assert.ok(versions.has(v), `no ${v} case`);
    for (const c of CASES) if (c.differs) assert.ok(c.ours, `${c.title}: a differing case must state our output`);
  });

  for (const c of CASES) {
    it(`${c.title}${c.differs ? ' (differs on purpose)' : ''}`, async function () {
      const env = envFor(c);
      const stdin = typeof c.stdin === 'string' ? c.stdin : JSON.stringify(c.stdin);
      const [ref, ours] = await Promise.all([runPlugin([REFERENCE_STATIC], env, stdin), runPlugin(staticCommand(), env, stdin)]);
      const context = `\n  ${describeRun('reference', ref)}\n  ${describeRun('ours', ours)}`;
      if (c.differs && c.ours) {
        assert.deepEqual({ code: ours.code, stdout: parsed(ours, 'ours') }, c.ours, `our output (${c.differs})${context}`);
        if (c.referenceCode !== undefined) assert.equal(ref.code, c.referenceCode, `the reference's exit code changed${context}`);
        return;
      }
      assert.equal(ours.code, ref.code, `exit codes differ${context}`);
      assert.deepEqual(withoutErrorVersion(parsed(ours, 'ours')), parsed(ref, 'reference'), `stdout differs${context}`);
    });
  }
});
