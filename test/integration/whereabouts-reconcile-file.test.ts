/**
 * @root The reconciler in a real whereabouts daemon on the file store: pods attached by the
 * reference bridge plugin calling our shim, pods that die without a DEL (their namespace
 * deleted), the runtime's GC list, a StatefulSet pod re-created under its name, the schedule
 * from a ConfigMap mount swapped as the kubelet does, --reconcile-now, and freeing by hand.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WbReconcilerStatus, WbReconcileSummary } from '../../shared/whereabouts-protocol';
import { kubeletWrite } from '../helpers/configmap-mount';
import { REPO } from '../helpers/lab';
import type { TestNetns } from '../helpers/netns';
import { run, waitFor } from '../helpers/sh';
import { ipsOf, podArgs, useWhereaboutsLab, type WhereaboutsLab } from '../helpers/whereabouts-lab';

const CLI = path.join(REPO, 'dist', 'bin', 'cni-dhcp');
const RANGE = '198.18.60.0/24';

describe('whereabouts reconciler on the file store, in the daemon @root', function () {
  this.timeout(300_000);
  let lab: WhereaboutsLab;
  const labOf = useWhereaboutsLab({ prefix: 'rc' });
  const config = () => lab.bridgeConfig('rc-net', { range: RANGE });

  async function reconcile(): Promise<WbReconcileSummary> {
    const r = await run(CLI, ['whereabouts', 'reconcile', '--socket', lab.socketPath, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as WbReconcileSummary;
  }
  async function status(): Promise<WbReconcilerStatus> {
    const r = await run(CLI, ['whereabouts', 'reconcile', '--status', '--socket', lab.socketPath, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as WbReconcilerStatus;
  }
  async function add(pod: TestNetns, name: string, containerId?: string): Promise<string> {
    const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: config(), args: podArgs(name), ...(containerId ? { containerId } : {}) });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return (ipsOf(r)[0] as string).split('/')[0] as string;
  }
  /** the pod dies without a DEL: its sandbox, and so its namespace, is gone */
  const kill = async (pod: TestNetns) => assert.equal((await run('ip', ['netns', 'del', pod.name])).code, 0);
  const holders = async () => new Map((await lab.allocations()).filter((a) => a.range === RANGE).map((a) => [a.address, a.containerId]));
  async function restart(args: string[]): Promise<void> {
    await lab.stopDaemon();
    lab.daemonArgs = args;
    await lab.startDaemon();
  }

  let a: TestNetns;
  before(() => {
    lab = labOf();
  });

  it('race 1: a dead pod younger than the grace period keeps its address (default grace 5 min)', async () => {
    a = lab.pod();
    assert.equal(await add(a, 'a'), '198.18.60.1');
    await kill(a);
    const s = await reconcile();
    assert.equal(s.freed, 0);
    assert.equal(s.reasons['keep:young'], 1, JSON.stringify(s));
    assert.equal((await holders()).get('198.18.60.1'), a.name);
  });

  it('past the grace: the dead pod\'s address is freed and reused; a live pod is kept by its namespace', async () => {
    await restart(['--reconcile-grace', '0']);
    const c = lab.pod();
    assert.equal(await add(c, 'c'), '198.18.60.2');
    const s = await reconcile();
    assert.equal(s.freed, 1, JSON.stringify(s));
    assert.deepEqual(s.freedAllocations.map((f) => [f.address, f.containerId]), [['198.18.60.1', a.name]]);
    assert.match(s.freedAllocations[0]!.evidence, /netns-gone/);
    assert.equal(s.reasons['keep:alive-container'], 1);
    const b = lab.pod();
    assert.equal(await add(b, 'b'), '198.18.60.1', 'the freed address is handed out again');
    const h = await holders();
    assert.equal(h.get('198.18.60.1'), b.name);
    assert.equal(h.get('198.18.60.2'), c.name);
  });

  it('the runtime\'s GC list keeps an attachment whose namespace the daemon no longer sees; one the list drops is freed', async () => {
    const d = lab.pod();
    const e = lab.pod();
    const dAddr = await add(d, 'd');
    const eAddr = await add(e, 'e');
    await kill(d);
    await kill(e);
    const valid = [...(await holders()).values()].filter((id) => id !== e.name).map((id) => ({ containerID: id, ifname: 'eth1' }));
    // the runtime's GC lists d (so GC itself releases nothing of it) but not e
    const gc = await lab.cni({ plugin: 'whereabouts', command: 'GC', config: { ...lab.v11(config()), 'cni.dev/valid-attachments': valid } });
    assert.equal(gc.code, 0, gc.stdout);
    assert.equal((await holders()).get(eAddr), undefined, 'GC released e');
    const s = await reconcile();
    assert.equal(s.freed, 0, JSON.stringify(s));
    assert.equal((await holders()).get(dAddr), d.name, 'alive by the GC list although its netns is gone');
    // the next GC list drops d: now the reconciler may free it (GC does it first here)
    const gc2 = await lab.cni({ plugin: 'whereabouts', command: 'GC', config: { ...lab.v11(config()), 'cni.dev/valid-attachments': valid.filter((v) => v.containerID !== d.name) } });
    assert.equal(gc2.code, 0, gc2.stdout);
    assert.equal((await holders()).get(dAddr), undefined);
  });

  it('race 3: a StatefulSet pod re-created under its name keeps its address; the old sandbox frees nothing', async () => {
    const s1 = lab.pod();
    const addr = await add(s1, 'db-0', 'sts-old');
    await kill(s1);
    const s2 = lab.pod();
    assert.equal(await add(s2, 'db-0', 'sts-new'), addr, 'idempotent per pod + ifname: the new sandbox has the same address');
    const s = await reconcile();
    assert.equal(s.freedAllocations.filter((f) => f.address === addr).length, 0, JSON.stringify(s));
    assert.equal((await holders()).get(addr), 'sts-new');
    assert.ok(s2.ip('-o', 'addr', 'show', 'dev', 'eth1').includes(`inet ${addr}/24`));
  });

  it('free by hand: shows exactly what it frees, does nothing unless confirmed, then frees by compare', async () => {
    const f = lab.pod();
    const addr = await add(f, 'f');
    const no = await run(CLI, ['whereabouts', 'free', addr, '--range', RANGE, '--socket', lab.socketPath], { input: 'n\n' });
    assert.equal(no.code, 1, no.stdout + no.stderr);
    assert.match(no.stderr, new RegExp(`this frees 1 allocation\\(s\\):[\\s\\S]*${addr.replace(/\./g, '\\.')}[\\s\\S]*${f.name}`));
    assert.match(no.stdout, /not confirmed: nothing freed/);
    assert.equal((await holders()).get(addr), f.name);
    const yes = await run(CLI, ['whereabouts', 'free', addr, '--range', RANGE, '--socket', lab.socketPath], { input: 'y\n' });
    assert.equal(yes.code, 0, yes.stdout + yes.stderr);
    assert.match(yes.stdout, new RegExp(`freed ${addr.replace(/\./g, '\\.')} \\(${RANGE.replace(/[./]/g, '\\$&')}\\) from pod default/f container ${f.name} eth1`));
    assert.equal((await holders()).get(addr), undefined);
    const again = await run(CLI, ['whereabouts', 'free', addr, '--range', RANGE, '--socket', lab.socketPath, '--yes']);
    assert.equal(again.code, 4, again.stdout);
    const bad = await run(CLI, ['whereabouts', 'free', addr, '--socket', lab.socketPath, '--yes']);
    assert.equal(bad.code, 1, 'an address without its range is refused');
    assert.match(bad.stderr, /needs its range/);
  });

  it('the schedule comes from the ConfigMap mount, follows the kubelet\'s ..data swap, and refuses 6 fields keeping the previous one', async () => {
    const cm = path.join(lab.dir, 'reconciler-config');
    kubeletWrite(cm, { reconciler_cron_expression: '*/15 * * * *' });
    await restart(['--reconcile-grace', '0', '--reconciler-config-dir', cm]);
    assert.equal((await status()).expression, '*/15 * * * *');
    kubeletWrite(cm, { reconciler_cron_expression: '0 */2 * * *' });
    await waitFor('the swapped schedule', async () => ((await status()).expression === '0 */2 * * *') || undefined, 30_000, 100);
    kubeletWrite(cm, { reconciler_cron_expression: '0 */5 * * * *' });
    await waitFor('the refusal in the log', () => /refusing the new schedule, keeping the previous one.*seconds field is not supported/.test(lab.daemonLog()) || undefined, 30_000, 100);
    const st = await status();
    assert.equal(st.expression, '0 */2 * * *');
    assert.equal(new Date(st.nextRun!).getUTCMinutes(), 0);
  });

  it('--reconcile-now runs once at start, and the CLI shows that run', async () => {
    const g = lab.pod();
    const addr = await add(g, 'g');
    await kill(g);
    await restart(['--reconcile-grace', '0', '--reconcile-now']);
    const st = await waitFor('the start-up run', async () => (await status()).last, 30_000, 100);
    assert.equal(st.trigger, 'now');
    assert.deepEqual(st.freedAllocations.map((f) => f.address), [addr]);
    const text = await run(CLI, ['whereabouts', 'reconcile', '--status', '--socket', lab.socketPath]);
    assert.match(text.stdout, /schedule: +30 4 \* \* \* \(default\)/);
    assert.match(text.stdout, new RegExp(`freed ${addr.replace(/\./g, '\\.')} `));
    assert.ok(fs.existsSync(path.join(lab.stateDir, 'reconciler.json')));
  });
});
