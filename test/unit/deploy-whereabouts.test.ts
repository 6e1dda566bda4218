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
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role, type IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { loadYaml, typeProblems, typeProblemsOf } from '../helpers/k8s-manifests';

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

  it('every other manifest kustomize lists passes the schema of its kind, without unknown fields', function () {
    this.timeout(120_000);
    const [kust] = loadYaml(path.join(DIR, 'kustomization.yaml')) as Array<{ resources: string[] }>;
    const kinds: Record<string, { model: new (d: never) => { validate(): void }; module: string; iface: string }> = {
      ServiceAccount: { model: ServiceAccount as never, module: 'v1/ServiceAccount', iface: 'IServiceAccount' },
      ConfigMap: { model: ConfigMap as never, module: 'v1/ConfigMap', iface: 'IConfigMap' },
      Role: { model: Role as never, module: 'rbac.authorization.k8s.io/v1/Role', iface: 'IRole' },
      RoleBinding: { model: RoleBinding as never, module: 'rbac.authorization.k8s.io/v1/RoleBinding', iface: 'IRoleBinding' },
      ClusterRole: { model: ClusterRole as never, module: 'rbac.authorization.k8s.io/v1/ClusterRole', iface: 'IClusterRole' },
      ClusterRoleBinding: { model: ClusterRoleBinding as never, module: 'rbac.authorization.k8s.io/v1/ClusterRoleBinding', iface: 'IClusterRoleBinding' },
      CustomResourceDefinition: { model: CustomResourceDefinition as never, module: 'apiextensions.k8s.io/v1/CustomResourceDefinition', iface: 'ICustomResourceDefinition' },
    };
    const seen: string[] = [];
    for (const file of kust!.resources.filter((r) => r !== 'daemonset.yaml')) {
      for (const doc of loadYaml(path.join(DIR, file))) {
        const k = kinds[String(doc.kind)];
        assert.ok(k, `${file}: kind ${String(doc.kind)} has no check here`);
        assert.doesNotThrow(() => new k.model(doc as never).validate(), `${file} ${String(doc.kind)}`);
        assert.deepEqual(typeProblemsOf(doc, k.module, k.iface), [], `${file} ${String(doc.kind)}`);
        seen.push(String(doc.kind));
      }
    }
    assert.deepEqual(seen.sort(), ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Role', 'RoleBinding', 'ServiceAccount']);
  });

  it('hangs together: the service account the DaemonSet runs as is the one bound, the ConfigMap is mounted, the host CNI config is readable', () => {
    const docs = loadYaml(path.join(DIR, 'rbac.yaml'));
    const spec = ds.spec!.template.spec!;
    const sa = docs.find((d) => d.kind === 'ServiceAccount') as { metadata: { name: string } };
    assert.equal(spec.serviceAccountName, sa.metadata.name);
    assert.equal(spec.automountServiceAccountToken, true);
    for (const b of docs.filter((d) => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding') as Array<{ subjects: Array<{ name: string }> }>) {
      assert.deepEqual(b.subjects.map((x) => x.name), [sa.metadata.name]);
    }
    const role = docs.find((d) => d.kind === 'Role') as unknown as IRole;
    assert.deepEqual(role.rules!.flatMap((r) => r.resources ?? []).sort(), ['ippools', 'overlappingrangeipreservations'], 'nothing but the two custom resources');
    const [cm] = loadYaml(path.join(DIR, 'configmap.yaml')) as Array<{ metadata: { name: string }; data: Record<string, string> }>;
    assert.equal(cm!.metadata.name, 'whereabouts-config');
    assert.match(cm!.data.reconciler_cron_expression!, /^\S+( \S+){4}$/, 'five fields');
    const vols = spec.volumes ?? [];
    assert.equal(vols.find((v) => v.configMap?.name === 'whereabouts-config')?.name !== undefined, true);
    const conf = vols.find((v) => v.hostPath?.path === '/etc/cni/net.d');
    const m = (daemon.volumeMounts ?? []).find((x) => x.name === conf?.name);
    assert.equal(m?.mountPath, '/etc/cni/net.d', 'kubernetes.kubeconfig paths in the host CNI config resolve in the daemon');
    assert.equal(m?.readOnly, true);
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
