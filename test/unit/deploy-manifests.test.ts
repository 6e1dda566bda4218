/**
 * deploy/: every YAML parses; the DaemonSet passes the Kubernetes OpenAPI schema (the ajv
 * validators of kubernetes-models), has no field the API does not know (a type check against
 * the same models' declarations, as `kubectl --validate=strict` would), and hangs together:
 * mounts, host paths, probes, the install step, and the image the Containerfile builds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { loadYaml, typeProblems } from '../helpers/k8s-manifests';

const ROOT = path.resolve(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');

type Obj = Record<string, unknown>;

// Loaded in before(), so that a broken manifest fails these tests and not the whole run.
let yamlFiles: string[] = [];
let allDocs: Array<{ file: string; doc: Obj }> = [];
let ds: IDaemonSet;
let pod: NonNullable<NonNullable<IDaemonSet['spec']>['template']['spec']>;
let daemon: IContainer;
let installer: IContainer;
let containerfile = '';

function loadDeploy(): void {
  yamlFiles = fs.readdirSync(DEPLOY).filter((f) => /\.ya?ml$/.test(f));
  allDocs = yamlFiles.flatMap((f) => loadYaml(path.join(DEPLOY, f)).map((doc) => ({ file: f, doc })));
  const daemonSets = allDocs.filter((d) => d.doc.kind === 'DaemonSet');
  assert.equal(daemonSets.length, 1, 'deploy/ holds exactly one DaemonSet');
  ds = daemonSets[0]!.doc as unknown as IDaemonSet;
  pod = ds.spec!.template.spec!;
  const d = pod.containers.find((c) => c.name === 'daemon');
  const i = (pod.initContainers ?? []).find((c) => c.name === 'install-plugin');
  assert.ok(d && i, 'a "daemon" container and an "install-plugin" init container');
  daemon = d;
  installer = i;
  containerfile = fs.readFileSync(path.join(DEPLOY, 'Containerfile'), 'utf8');
}

/** The daemon's -hostprefix, which every host path it opens is read under. */
function hostPrefix(): string {
  const args = daemon.args ?? [];
  const i = args.indexOf('-hostprefix');
  assert.ok(i >= 0 && args[i + 1], 'the daemon runs with -hostprefix');
  return args[i + 1]!;
}

/** Where a host directory is mounted in a container, or undefined. */
function mountOf(c: IContainer, hostPath: string): string | undefined {
  const vol = (pod.volumes ?? []).find((v) => v.hostPath?.path === hostPath);
  return vol && (c.volumeMounts ?? []).find((m) => m.name === vol.name)?.mountPath;
}

function probeScripts(): Array<[string, string]> {
  return (['startupProbe', 'readinessProbe', 'livenessProbe'] as const).map((k) => {
    const cmd = daemon[k]?.exec?.command;
    assert.ok(cmd, `${k} is an exec probe`);
    assert.deepEqual(cmd.slice(0, 2), ['/bin/sh', '-c'], `${k} runs through /bin/sh`);
    return [k, cmd[2]!];
  });
}

/** Paths the image provides: COPY/ADD destinations and symlinks made in RUN lines. */
function imagePaths(): string[] {
  const out: string[] = [];
  for (const m of containerfile.matchAll(/^(?:COPY|ADD)\s+(?:--from=\S+\s+)?(.+)$/gm)) {
    out.push(m[1]!.trim().split(/\s+/).pop()!);
  }
  for (const m of containerfile.matchAll(/ln -s (\S+) (\S+)/g)) out.push(m[2]!);
  return out;
}

function providedByImage(p: string): boolean {
  return ['/bin/sh', '/usr/local/bin/node'].includes(p) || imagePaths().some((d) => p === d || p.startsWith(`${d}/`));
}

describe('deploy manifests', () => {
  before(loadDeploy);

  it('every YAML in deploy/ parses cleanly and names its apiVersion and kind', () => {
    assert.ok(yamlFiles.includes('daemonset.yaml'));
    for (const { file, doc } of allDocs) {
      assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
      assert.equal(typeof doc.kind, 'string', `${file}: kind`);
    }
  });

  it('the DaemonSet passes the Kubernetes OpenAPI schema', () => {
    assert.doesNotThrow(() => new DaemonSet(ds).validate());
  });

  it('the schema check does catch a broken DaemonSet', () => {
    const broken = structuredClone(ds) as unknown as { spec: { template: { spec: { volumes: Array<{ hostPath?: { type?: string } }> } } } };
    broken.spec.template.spec.volumes[0]!.hostPath!.type = 'Folder';
    assert.throws(() => new DaemonSet(broken as unknown as IDaemonSet).validate(), /allowed values/);
  });

  it('the DaemonSet has no field the Kubernetes API does not know', function () {
    this.timeout(120_000);
    assert.deepEqual(typeProblems(ds), []);
  });

  it('the field check does catch a misspelled field', function () {
    this.timeout(120_000);
    const broken = structuredClone(ds) as unknown as { spec: { template: { spec: { containers: Obj[] } } } };
    broken.spec.template.spec.containers[0]!.readinessProbes = {};
    const problems = typeProblems(broken as unknown as IDaemonSet);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /readinessProbes/);
  });

  it('runs on every node, in kube-system, with the host network and PIDs', () => {
    assert.equal(ds.metadata?.namespace, 'kube-system');
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.hostPID, true);
    assert.ok(
      (pod.tolerations ?? []).some((t) => t.operator === 'Exists' && !t.key && !t.effect),
      'a toleration that matches every taint',
    );
    const labels = ds.spec!.template.metadata?.labels ?? {};
    const selector = ds.spec!.selector.matchLabels ?? {};
    assert.ok(Object.keys(selector).length > 0);
    for (const [k, v] of Object.entries(selector)) assert.equal(labels[k], v, `template label ${k}`);
  });

  it('every mount has a volume, and every host path is absolute and of a valid type', () => {
    const volumes = pod.volumes ?? [];
    const names = volumes.map((v) => v.name);
    assert.equal(new Set(names).size, names.length, 'volume names are unique');
    const valid = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
    for (const v of volumes) {
      if (!v.hostPath) continue;
      assert.ok(v.hostPath.path.startsWith('/'), `${v.name}: absolute host path`);
      assert.ok(valid.includes(v.hostPath.type ?? ''), `${v.name}: hostPath type ${v.hostPath.type}`);
    }
    const used = new Set<string>();
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      for (const m of c.volumeMounts ?? []) {
        assert.ok(names.includes(m.name), `${c.name}: mount ${m.mountPath} has volume ${m.name}`);
        used.add(m.name);
      }
      assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${c.name}: resource requests`);
    }
    assert.deepEqual(names.filter((n) => !used.has(n)), [], 'every volume is mounted');
  });

  it('the daemon sees the host socket dir, netns dirs and /proc under its -hostprefix', () => {
    const prefix = hostPrefix();
    assert.equal(mountOf(daemon, '/run/cni'), `${prefix}/run/cni`);
    assert.equal(mountOf(daemon, '/proc'), `${prefix}/proc`);
    assert.equal(mountOf(daemon, '/var/lib/cni/dhcp'), '/var/lib/cni/dhcp', 'the state dir is not under the prefix');
    const netns = (daemon.volumeMounts ?? []).filter((m) => m.mountPath.endsWith('/netns'));
    assert.ok(netns.some((m) => m.mountPath === `${prefix}/var/run/netns`));
    for (const m of netns) {
      assert.equal(m.mountPropagation, 'HostToContainer', `${m.mountPath}: new namespaces must show up`);
    }
  });

  it('the daemon has the capabilities for setns, AF_PACKET and the pod interface', () => {
    const sc = daemon.securityContext ?? {};
    if (sc.privileged) return;
    const add = sc.capabilities?.add ?? [];
    for (const cap of ['SYS_ADMIN', 'NET_ADMIN', 'NET_RAW']) assert.ok(add.includes(cap), cap);
    assert.equal(sc.runAsUser, 0);
  });

  it('the probes ask the plugin for STATUS over the daemon socket with a 1.1.0 config', () => {
    const socket = `${hostPrefix()}/run/cni/dhcp.sock`;
    for (const [name, script] of probeScripts()) {
      const json = /'(\{.*\})'/.exec(script)?.[1];
      assert.ok(json, `${name}: a quoted JSON config`);
      const conf = JSON.parse(json) as { cniVersion: string; ipam: { type: string; daemonSocketPath: string } };
      assert.equal(conf.cniVersion, '1.1.0', name);
      assert.equal(conf.ipam.type, 'dhcp', name);
      assert.equal(conf.ipam.daemonSocketPath, socket, name);
      assert.match(script, /CNI_COMMAND=STATUS \/usr\/local\/bin\/dhcp\s*$/, name);
      assert.ok(providedByImage('/usr/local/bin/dhcp'), 'the image provides /usr/local/bin/dhcp');
    }
  });

  it('the probe fails, with CNI code 50, while no daemon listens', function () {
    this.timeout(60_000);
    const [, script] = probeScripts()[0]!;
    const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
    const run = spawnSync('/bin/sh', ['-c', script.replace('/usr/local/bin/dhcp', `${tsx} ${path.join(ROOT, 'plugin', 'main.ts')}`)], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      encoding: 'utf8',
    });
    assert.notEqual(run.status, 0, 'probe fails');
    const out = JSON.parse(run.stdout) as { code: number };
    assert.equal(out.code, 50, run.stdout);
  });

  it('the init step runs install.sh from the image with options it knows, onto mounted host dirs', () => {
    const cmd = installer.command ?? [];
    const script = cmd[0]!;
    assert.match(script, /\/scripts\/install\.sh$/);
    assert.ok(providedByImage(script), `the image provides ${script}`);
    const help = spawnSync(path.join(ROOT, 'scripts', 'install.sh'), ['--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    for (const opt of cmd.filter((a) => a.startsWith('--'))) {
      assert.ok(help.stdout.includes(`  ${opt}`), `install.sh knows ${opt}`);
    }
    const opt = (name: string): string => cmd[cmd.indexOf(name) + 1]!;
    const root = opt('--root');
    const mounts = (installer.volumeMounts ?? []).map((m) => m.mountPath);
    for (const dir of [opt('--bin-dir'), opt('--prefix'), '/var/lib/cni/dhcp']) {
      assert.ok(mounts.includes(`${root}${dir}`), `${root}${dir} is a host mount`);
    }
    assert.ok(cmd.includes('--bundle-node'), 'the host may have no Node.js');
    assert.ok(cmd.includes('--no-systemd'));
    assert.equal(mountOf(installer, '/opt/cni/bin'), `${root}/opt/cni/bin`);
  });

  it('the Containerfile builds on node:20-bookworm-slim from files that exist', () => {
    const froms = [...containerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(froms.length > 0);
    for (const f of froms) assert.match(f!, /(^|\/)node:20-bookworm-slim$/);
    for (const m of containerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
      const parts = m[1]!.trim().split(/\s+/);
      for (const src of parts.slice(0, -1)) assert.ok(fs.existsSync(path.join(ROOT, src)), `COPY source ${src}`);
    }
    const entry = /^ENTRYPOINT\s+(\[.*\])$/m.exec(containerfile);
    assert.ok(entry);
    assert.deepEqual(JSON.parse(entry[1]!), ['/usr/local/bin/dhcp', 'daemon']);
    assert.ok(!daemon.command, 'the DaemonSet keeps the image entrypoint and passes only flags');
    assert.ok(containerfile.includes('node_modules/koffi'), 'the image carries koffi');
  });

  it('the kustomization lists existing resources and the image the DaemonSet uses', () => {
    const k = allDocs.find((d) => d.file === 'kustomization.yaml')?.doc as
      | { namespace?: string; resources?: string[]; images?: Array<{ name: string }> }
      | undefined;
    if (!k) return;
    for (const r of k.resources ?? []) assert.ok(fs.existsSync(path.join(DEPLOY, r)), r);
    if (k.namespace) assert.equal(k.namespace, ds.metadata?.namespace);
    const images = new Set([...pod.containers, ...(pod.initContainers ?? [])].map((c) => c.image!.split(':')[0]));
    for (const i of k.images ?? []) assert.ok(images.has(i.name), `image ${i.name} is used`);
  });
});
