/**
 * deploy/whereabouts/: the whereabouts DaemonSet passes the Kubernetes schema, has no unknown
 * field, and hangs together: the socket it serves is the one its probes and the default
 * ipam.daemonSocketPath use, its state dir is the host's file store, the init step installs
 * the plugin, and the probe really answers through the plugin against a live daemon.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { loadYaml, typeProblems } from '../helpers/k8s-manifests';

const ROOT = path.resolve(__dirname, '..', '..');
const DIR = path.join(ROOT, 'deploy', 'whereabouts');

describe('deploy/whereabouts manifests', () => {
  let ds: IDaemonSet;
  let daemon: IContainer;
  let installer: IContainer;
  before(() => {
    const docs = loadYaml(path.join(DIR, 'daemonset.yaml'));
    assert.equal(docs.length, 1);
    ds = docs[0] as unknown as IDaemonSet;
    const spec = ds.spec!.template.spec!;
    daemon = spec.containers.find((c) => c.name === 'daemon')!;
    installer = (spec.initContainers ?? []).find((c) => c.name === 'install-plugin')!;
    assert.ok(daemon && installer);
    for (const d of loadYaml(path.join(DIR, 'kustomization.yaml'))) assert.equal(d.kind, 'Kustomization');
  });

  it('passes the Kubernetes OpenAPI schema and has no unknown field', function () {
    this.timeout(120_000);
    assert.doesNotThrow(() => new DaemonSet(ds).validate());
    assert.deepEqual(typeProblems(ds), []);
  });

  it('serves the socket its probes use, from the host\'s /run/cni, and keeps its store in the host\'s /var/lib/cni/whereabouts', () => {
    const args = daemon.args ?? [];
    const sock = args[args.indexOf('-socketpath') + 1];
    assert.equal(sock, '/host/run/cni/whereabouts.sock');
    const vols = ds.spec!.template.spec!.volumes ?? [];
    const mount = (c: IContainer, host: string) => (c.volumeMounts ?? []).find((m) => m.name === vols.find((v) => v.hostPath?.path === host)?.name)?.mountPath;
    assert.equal(mount(daemon, '/run/cni'), '/host/run/cni');
    assert.equal(mount(daemon, '/var/lib/cni/whereabouts'), args[args.indexOf('--state-dir') + 1]);
    for (const k of ['startupProbe', 'livenessProbe'] as const) assert.ok(daemon[k]?.exec?.command?.[2]?.includes(`"daemonSocketPath":"${sock}"`), k);
    assert.deepEqual(daemon.securityContext?.capabilities, { drop: ['ALL'] }, 'no capabilities');
    assert.ok(installer.command?.includes('--with-whereabouts'));
    assert.equal(mount(installer, '/var/lib/cni/whereabouts'), '/host/var/lib/cni/whereabouts');
    const help = spawnSync(path.join(ROOT, 'scripts', 'install.sh'), ['--help'], { encoding: 'utf8' });
    for (const opt of installer.command!.filter((a) => a.startsWith('--'))) assert.ok(help.stdout.includes(opt), `install.sh knows ${opt}`);
  });

  it('the probe answers 0 through the plugin when the daemon is up', async function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-probe-'));
    const sock = path.join(dir, 'wb.sock');
    const tsx = [process.execPath, '--require', require.resolve('tsx/cjs'), path.join(ROOT, 'plugin', 'whereabouts-main.ts')];
    const d = spawn(tsx[0]!, [...tsx.slice(1), 'daemon', '-socketpath', sock, '--state-dir', path.join(dir, 'state')], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const script = daemon.livenessProbe!.exec!.command![2]!.replace('/host/run/cni/whereabouts.sock', sock).replace('/usr/local/bin/whereabouts', tsx.join(' '));
      const run = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stdout + run.stderr);
    } finally {
      d.kill('SIGTERM');
      await new Promise((r) => d.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
