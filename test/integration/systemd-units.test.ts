/**
 * systemd/cni-dhcp.{socket,service}: `systemd-analyze verify` accepts them as shipped and as
 * install.sh rewrites them, their hardening scores OK, and none of the settings that would cut
 * the daemon off from pod namespaces (setns, /proc/<pid>/ns, AF_PACKET) creeps in.
 * Nothing here starts a unit or touches /etc/systemd: verify reads copies in a temp dir.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const UNITS = ['cni-dhcp.socket', 'cni-dhcp.service'];

function unitText(name: string): string {
  return fs.readFileSync(path.join(ROOT, 'systemd', name), 'utf8');
}

/** Every `Key=value` of a unit, in order (comments and sections dropped). */
function settings(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}

function values(text: string, key: string): string[] {
  return settings(text)
    .filter(([k]) => k === key)
    .map(([, v]) => v);
}

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/bin', '/usr/sbin'];
  return dirs.map((d) => path.join(d, name)).find((p) => fs.existsSync(p));
}

function requireTool(ctx: Mocha.Context, name: string, pkg: string): string {
  const found = findTool(name);
  if (found) return found;
  // CI must not pass by skipping: there the missing tool is the failure.
  if (process.env.CI === 'true') throw new Error(`${name} is missing: apt-get install -y ${pkg}`);
  ctx.skip();
}

function tempDir(t: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cni-dhcp-${t}-`));
}

/** Runs verify on the units in dir; returns what it said about them. */
function verify(analyze: string, dir: string, units: string[] = UNITS): string[] {
  const run = spawnSync(analyze, ['verify', '--man=no', ...units.map((u) => path.join(dir, u))], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '' },
  });
  const said = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.includes('cni-dhcp') || l.includes('cni-whereabouts'));
  assert.equal(run.status, 0, `systemd-analyze verify exited ${run.status}:\n${run.stdout}${run.stderr}`);
  return said;
}

/** `systemd-analyze security` of a shipped unit: its overall exposure level (skips on systemd < 250). */
function exposure(ctx: Mocha.Context, analyze: string, unit: string, cleanup: string[]): number {
  const dir = tempDir('security');
  cleanup.push(dir);
  fs.writeFileSync(path.join(dir, unit), unitText(unit));
  const run = spawnSync(analyze, ['security', '--offline=yes', '--no-pager', path.join(dir, unit)], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_COLORS: '0' },
  });
  const level = new RegExp(`Overall exposure level for ${unit.replace('.', '\\.')}: ([\\d.]+)`).exec(run.stdout);
  if (!level && /unrecognized option|--offline/.test(run.stderr)) ctx.skip();
  assert.ok(level, run.stdout + run.stderr);
  return Number(level[1]);
}

/** Finds systemd-analyze before the block's tests and removes their temp dirs after them. */
function useAnalyze(found: (analyze: string) => void): string[] {
  const cleanup: string[] = [];
  before(function () {
    found(requireTool(this, 'systemd-analyze', 'systemd'));
  });
  after(() => {
    for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
  });
  return cleanup;
}

/** An executable that verify can check ExecStart against. */
function stubExecutable(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
}

describe('systemd units @root', function () {
  this.timeout(120_000);
  let analyze: string;
  const cleanup = useAnalyze((a) => (analyze = a));

  it('systemd-analyze verify accepts both units as shipped', () => {
    // verify checks that ExecStart exists; /opt/cni/bin/dhcp may not, so point it at a stub.
    const dir = tempDir('units');
    cleanup.push(dir);
    const stub = path.join(dir, 'bin', 'dhcp');
    stubExecutable(stub);
    fs.writeFileSync(path.join(dir, 'cni-dhcp.socket'), unitText('cni-dhcp.socket'));
    const service = unitText('cni-dhcp.service');
    assert.match(service, /^ExecStart=\/opt\/cni\/bin\/dhcp daemon$/m);
    fs.writeFileSync(path.join(dir, 'cni-dhcp.service'), service.replace('ExecStart=/opt/cni/bin/dhcp', `ExecStart=${stub}`));
    assert.deepEqual(verify(analyze, dir), []);
  });

  it('systemd-analyze verify accepts the units install.sh writes for another bin dir and state dir', function () {
    const dir = tempDir('install-units');
    cleanup.push(dir);
    // A fake built tree: the installer only copies it.
    const from = path.join(dir, 'tree');
    for (const f of ['dist/cni/dhcp', 'dist/bin/cni-dhcp', 'dist/lib/daemon.js']) {
      fs.mkdirSync(path.dirname(path.join(from, f)), { recursive: true });
      fs.writeFileSync(path.join(from, f), '');
    }
    fs.mkdirSync(path.join(from, 'node_modules'));
    fs.symlinkSync(path.join(ROOT, 'node_modules', 'koffi'), path.join(from, 'node_modules', 'koffi'));
    fs.cpSync(path.join(ROOT, 'systemd'), path.join(from, 'systemd'), { recursive: true });
    // --root keeps everything in the temp dir; the units name the target paths, which we
    // create outside the root so that verify finds the executable.
    const target = path.join(dir, 'target');
    const root = path.join(dir, 'root');
    stubExecutable(path.join(target, 'bin', 'dhcp'));
    fs.mkdirSync(path.join(target, 'state'));
    const run = spawnSync(
      path.join(ROOT, 'scripts', 'install.sh'),
      ['--from', from, '--root', root, '--bundle-node', '--node', process.execPath,
        '--bin-dir', path.join(target, 'bin'), '--state-dir', path.join(target, 'state')],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    const unitDir = path.join(root, 'etc', 'systemd', 'system');
    const service = fs.readFileSync(path.join(unitDir, 'cni-dhcp.service'), 'utf8');
    assert.deepEqual(values(service, 'ExecStart'), [`${path.join(target, 'bin', 'dhcp')} daemon --state-dir ${path.join(target, 'state')}`]);
    assert.deepEqual(values(service, 'StateDirectory'), []);
    assert.ok(values(service, 'ReadWritePaths').includes(path.join(target, 'state')));
    assert.deepEqual(verify(analyze, unitDir), []);
  });

  it('the service hardening scores OK in systemd-analyze security', function () {
    const level = exposure(this, analyze, 'cni-dhcp.service', cleanup);
    assert.ok(level <= 4.5, `exposure ${level} (3.1 with systemd 252)`);
  });
});

describe('systemd units: what keeps setns and AF_PACKET working', () => {
  const service = unitText('cni-dhcp.service');
  const socket = unitText('cni-dhcp.socket');

  it('the socket is the reference path, 0660, in a 0700 directory', () => {
    assert.deepEqual(values(socket, 'ListenStream'), ['/run/cni/dhcp.sock']);
    assert.deepEqual(values(socket, 'SocketMode'), ['0660']);
    assert.deepEqual(values(socket, 'DirectoryMode'), ['0700']);
  });

  it('the service requires the socket, restarts on failure and reports readiness', () => {
    assert.deepEqual(values(service, 'Requires'), ['cni-dhcp.socket']);
    assert.ok(values(service, 'After').includes('cni-dhcp.socket'));
    assert.deepEqual(values(service, 'Restart'), ['on-failure']);
    assert.deepEqual(values(service, 'Type'), ['notify']);
    assert.deepEqual(values(service, 'StateDirectory'), ['cni/dhcp']);
    assert.deepEqual(values(service, 'StateDirectoryMode'), ['0700']);
  });

  it('keeps the capabilities for setns, AF_PACKET and the pod interface, and no others', () => {
    const caps = values(service, 'CapabilityBoundingSet').join(' ').split(/\s+/).sort();
    assert.deepEqual(caps, ['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE']);
    const families = values(service, 'RestrictAddressFamilies').join(' ').split(/\s+/);
    for (const f of ['AF_UNIX', 'AF_PACKET', 'AF_NETLINK', 'AF_INET']) assert.ok(families.includes(f), f);
  });

  it('uses none of the settings that cut the daemon off from pod namespaces', () => {
    const forbidden: Array<[string, RegExp]> = [
      ['PrivateNetwork', /^(yes|true|1|on)$/],
      ['PrivateUsers', /^(yes|true|1|on|self|identity)$/],
      ['RestrictNamespaces', /^(yes|true|1|on)$|^~|^(?!.*\bnet\b)/],
      ['ProtectProc', /./],
      ['ProcSubset', /^pid$/],
      ['MountFlags', /^private$/],
      ['RootDirectory', /./],
      ['RootImage', /./],
      ['MemoryDenyWriteExecute', /^(yes|true|1|on)$/],
      ['IPAddressDeny', /./],
      ['DynamicUser', /^(yes|true|1|on)$/],
      ['User', /./],
    ];
    for (const [key, bad] of forbidden) {
      for (const v of values(service, key)) assert.doesNotMatch(v, bad, `${key}=${v}`);
    }
  });
});

describe('systemd units of the whereabouts daemon @root', function () {
  this.timeout(120_000);
  const WB_UNITS = ['cni-whereabouts.socket', 'cni-whereabouts.service'];
  const service = unitText('cni-whereabouts.service');
  const socket = unitText('cni-whereabouts.socket');
  let analyze: string;
  const cleanup = useAnalyze((a) => (analyze = a));

  it('systemd-analyze verify accepts both units as shipped', () => {
    const dir = tempDir('wb-units');
    cleanup.push(dir);
    const stub = path.join(dir, 'bin', 'whereabouts');
    stubExecutable(stub);
    fs.writeFileSync(path.join(dir, 'cni-whereabouts.socket'), socket);
    assert.match(service, /^ExecStart=\/opt\/cni\/bin\/whereabouts daemon$/m);
    fs.writeFileSync(path.join(dir, 'cni-whereabouts.service'), service.replace('ExecStart=/opt/cni/bin/whereabouts', `ExecStart=${stub}`));
    assert.deepEqual(verify(analyze, dir, WB_UNITS), []);
  });

  it('the hardening scores better than the dhcp daemon\'s: it needs no capability at all', function () {
    const level = exposure(this, analyze, 'cni-whereabouts.service', cleanup);
    assert.ok(level <= 3.0, `exposure ${level} (1.8 with systemd 252)`);
  });

  it('listens on the default daemonSocketPath, requires the socket, keeps its state in /var/lib/cni/whereabouts', () => {
    assert.deepEqual(values(socket, 'ListenStream'), ['/run/cni/whereabouts.sock']);
    assert.deepEqual(values(socket, 'SocketMode'), ['0660']);
    assert.deepEqual(values(service, 'Requires'), ['cni-whereabouts.socket']);
    assert.deepEqual(values(service, 'Type'), ['notify']);
    assert.deepEqual(values(service, 'Restart'), ['on-failure']);
    assert.deepEqual(values(service, 'StateDirectory'), ['cni/whereabouts']);
    assert.deepEqual(values(service, 'CapabilityBoundingSet'), ['']);
    assert.deepEqual(values(service, 'MemoryDenyWriteExecute'), [], 'V8 needs W+X memory');
  });
});
