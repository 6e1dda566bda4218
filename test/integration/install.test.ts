/**
 * scripts/install.sh against a fake built tree, always into temp dirs (--no-systemd, or
 * --root): the files and modes it creates, that a runtime can exec the plugin with an empty
 * environment, that a second run changes nothing, and that --uninstall leaves nothing behind
 * but the leases (and --purge not even those).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** The real tree comes from `npm run build`, which the test command runs first; CI=true fails without it. */
function requireBuiltTree(ctx: Mocha.Context): void {
  if (fs.existsSync(path.join(ROOT, 'dist', 'cni', 'dhcp'))) return;
  if (process.env.CI === 'true') throw new Error('dist/ is not built (CI=true: failing instead of skipping)');
  ctx.skip();
}
const INSTALL = path.join(ROOT, 'scripts', 'install.sh');

/** The node flags of the bundles' #! line (scripts/build.mjs), which the launchers copy. */
const FLAGS = ' --max-semi-space-size=1';
/** Stands in for each bundle: reports how it was started. */
const FAKE_BUNDLE = `#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS node${FLAGS}
const fs = require('fs');
let fd3 = false;
try { fs.fstatSync(3); fd3 = true; } catch {}
process.stdout.write(JSON.stringify({
  argv: process.argv.slice(2), file: __filename, pid: process.pid, fd3,
  extraCaCerts: process.env.NODE_EXTRA_CA_CERTS ?? null, nodeOptions: process.env.NODE_OPTIONS ?? null,
  cniCommand: process.env.CNI_COMMAND ?? null,
}));
`;

function makeTree(dir: string): string {
  const from = path.join(dir, 'tree');
  for (const f of ['dist/cni/dhcp', 'dist/cni/static', 'dist/cni/whereabouts', 'dist/bin/cni-dhcp']) {
    fs.mkdirSync(path.dirname(path.join(from, f)), { recursive: true });
    fs.writeFileSync(path.join(from, f), FAKE_BUNDLE, { mode: 0o755 });
  }
  fs.mkdirSync(path.join(from, 'dist', 'lib'));
  fs.writeFileSync(path.join(from, 'dist', 'lib', 'daemon.js'), 'exports.koffi = require("koffi").version;\n');
  fs.mkdirSync(path.join(from, 'node_modules'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'koffi'), path.join(from, 'node_modules', 'koffi'));
  fs.cpSync(path.join(ROOT, 'systemd'), path.join(from, 'systemd'), { recursive: true });
  return from;
}

function install(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(INSTALL, args, { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function mustInstall(args: string[]): string {
  const run = install(args);
  assert.equal(run.status, 0, `install.sh ${args.join(' ')}\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

/** Every file, symlink and dir under dir, with what would change if it were rewritten. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.set(path.relative(dir, p), `${(st.mode & 0o7777).toString(8)} ${st.size} ${st.ino} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function files(dir: string): string[] {
  return [...snapshot(dir).keys()].filter((p) => !fs.lstatSync(path.join(dir, p)).isDirectory()).sort();
}

function mode(p: string): string {
  return (fs.statSync(p).mode & 0o7777).toString(8);
}

interface Report {
  argv: string[];
  file: string;
  pid: number;
  fd3: boolean;
  extraCaCerts: string | null;
  nodeOptions: string | null;
  cniCommand: string | null;
}

/**
 * What systemd does for a .socket unit: bind and listen, then exec the service with the
 * socket as fd 3 and LISTEN_FDS=1. Resolves once the daemon logged `ready` with activated=true.
 */
async function socketActivated(plugin: string, sock: string, flags: string[], ready: RegExp): Promise<{ stop: () => Promise<void> }> {
  fs.mkdirSync(path.dirname(sock), { recursive: true });
  const launcher = [
    'import os, socket',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    `s.bind(${JSON.stringify(sock)})`,
    's.listen(16)',
    'os.dup2(s.fileno(), 3)',
    'os.set_inheritable(3, True)',
    "env = {'LISTEN_FDS': '1', 'LISTEN_PID': str(os.getpid())}",
    `os.execve(${JSON.stringify(plugin)}, [${JSON.stringify(plugin)}, 'daemon', ${flags.map((f) => JSON.stringify(f)).join(', ')}], env)`,
  ].join('\n');
  const { spawn } = await import('node:child_process');
  const daemon = spawn('python3', ['-c', launcher], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const stop = async () => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return;
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  };
  const deadline = Date.now() + 20_000;
  while (!ready.test(log)) {
    if (Date.now() > deadline || daemon.exitCode !== null) {
      await stop();
      throw new Error(`daemon not ready: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(log, /activated=true/);
  return { stop };
}

describe('install.sh @root', function () {
  this.timeout(120_000);
  let dir: string;
  let from: string;
  let target: string;
  let args: string[];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cni-dhcp-install-'));
    from = makeTree(dir);
    target = path.join(dir, 'target');
    args = ['--from', from, '--prefix', path.join(target, 'usr'), '--bin-dir', path.join(target, 'cni', 'bin'),
      '--state-dir', path.join(target, 'state'), '--whereabouts-state-dir', path.join(target, 'wb-state'), '--node', process.execPath, '--no-systemd'];
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('installs the tree, launchers and state dir with the right modes', () => {
    mustInstall(args);
    const lib = path.join(target, 'usr', 'lib', 'cni-dhcp');
    assert.equal(mode(path.join(target, 'cni', 'bin', 'dhcp')), '755');
    assert.equal(mode(path.join(target, 'usr', 'bin', 'cni-dhcp')), '755');
    assert.equal(mode(path.join(lib, 'dist', 'cni', 'dhcp')), '755');
    assert.equal(mode(path.join(lib, 'dist', 'lib', 'daemon.js')), '644');
    assert.equal(mode(path.join(target, 'state')), '700');
    assert.ok(!fs.existsSync(path.join(target, 'cni', 'bin', 'static')), 'static only with --with-static');
    const launcher = fs.readFileSync(path.join(target, 'cni', 'bin', 'dhcp'), 'utf8');
    assert.ok(launcher.startsWith('#!/bin/sh\n'));
    assert.ok(launcher.includes(`exec '${process.execPath}'${FLAGS} '${lib}/dist/cni/dhcp' "$@"`), launcher);
    // koffi: its loader and this platform's binaries only, and Node finds it from dist/lib.
    const koffi = files(path.join(lib, 'node_modules', 'koffi'));
    assert.ok(koffi.includes('package.json') && koffi.includes('index.js'));
    const builds = koffi.filter((f) => f.startsWith('build/')).map((f) => f.split('/')[2]);
    assert.deepEqual([...new Set(builds)].sort(), [`linux_${process.arch}`, `musl_${process.arch}`].sort());
    const daemon = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(path.join(lib, 'dist', 'lib', 'daemon.js'))}).koffi`], {
      encoding: 'utf8',
      cwd: dir,
    });
    assert.equal(daemon.status, 0, daemon.stderr);
  });

  it('the plugin runs from a bare environment, without the Node variables, keeping its PID and fds', () => {
    mustInstall(args);
    const plugin = path.join(target, 'cni', 'bin', 'dhcp');
    const run = spawnSync(plugin, ['daemon', '-socketpath', '/x y'], {
      env: { CNI_COMMAND: 'VERSION', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', NODE_OPTIONS: '--require /nonexistent.js' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout) as Report;
    assert.deepEqual(r.argv, ['daemon', '-socketpath', '/x y']);
    assert.equal(r.file, path.join(target, 'usr', 'lib', 'cni-dhcp', 'dist', 'cni', 'dhcp'));
    assert.equal(r.cniCommand, 'VERSION');
    assert.equal(r.extraCaCerts, null);
    assert.equal(r.nodeOptions, null);
    // Socket activation: LISTEN_PID must still be the process that runs, fd 3 still open.
    assert.equal(r.pid, run.pid);
    assert.equal(r.fd3, true);
  });

  it('a second run changes nothing', () => {
    mustInstall(args);
    const before = snapshot(target);
    const out = mustInstall(args);
    assert.match(out, /already up to date/);
    assert.deepEqual(snapshot(target), before);
  });

  it('--uninstall leaves only the leases, and --purge not even those', () => {
    mustInstall([...args, '--with-static']);
    fs.writeFileSync(path.join(target, 'state', 'lease.json'), '{}');
    mustInstall([...args, '--uninstall']);
    assert.deepEqual(files(target), ['state/lease.json']);
    mustInstall([...args, '--uninstall']);
    mustInstall([...args, '--uninstall', '--purge']);
    assert.deepEqual(files(target), []);
    assert.ok(!fs.existsSync(path.join(target, 'state')));
  });

  it('keeps the reference plugin it replaces and puts it back on uninstall', () => {
    const binDir = path.join(target, 'cni', 'bin');
    fs.mkdirSync(binDir, { recursive: true });
    fs.writeFileSync(path.join(binDir, 'dhcp'), 'reference dhcp', { mode: 0o755 });
    fs.writeFileSync(path.join(binDir, 'static'), 'reference static', { mode: 0o755 });
    mustInstall([...args, '--with-static']);
    assert.match(fs.readFileSync(path.join(binDir, 'static'), 'utf8'), /cni-dhcp launcher/);
    // Dropping --with-static gives the reference static back at once.
    mustInstall(args);
    assert.equal(fs.readFileSync(path.join(binDir, 'static'), 'utf8'), 'reference static');
    assert.match(fs.readFileSync(path.join(binDir, 'dhcp'), 'utf8'), /cni-dhcp launcher/);
    mustInstall([...args, '--uninstall', '--purge']);
    assert.deepEqual(files(target), ['cni/bin/dhcp', 'cni/bin/static']);
    assert.equal(fs.readFileSync(path.join(binDir, 'dhcp'), 'utf8'), 'reference dhcp');
  });

  it('--root --bundle-node installs a host tree with its own Node.js and the units, as the DaemonSet does', () => {
    const root = path.join(dir, 'host');
    const hostArgs = ['--from', from, '--root', root, '--prefix', '/opt/cni-dhcp', '--bin-dir', '/opt/cni/bin',
      '--bundle-node', '--node', process.execPath];
    mustInstall(hostArgs);
    const lib = '/opt/cni-dhcp/lib/cni-dhcp';
    assert.equal(fs.statSync(path.join(root, lib, 'node')).size, fs.statSync(process.execPath).size);
    assert.equal(mode(path.join(root, lib, 'node')), '755');
    const launcher = fs.readFileSync(path.join(root, 'opt/cni/bin/dhcp'), 'utf8');
    assert.ok(launcher.includes(`exec '${lib}/node'${FLAGS} '${lib}/dist/cni/dhcp' "$@"`), launcher);
    assert.ok(fs.existsSync(path.join(root, 'opt/cni-dhcp/bin/cni-dhcp')));
    for (const u of ['cni-dhcp.socket', 'cni-dhcp.service']) {
      assert.equal(mode(path.join(root, 'etc/systemd/system', u)), '644');
    }
    assert.equal(mode(path.join(root, 'var/lib/cni/dhcp')), '700');
    const before = snapshot(root);
    mustInstall(hostArgs);
    assert.deepEqual(snapshot(root), before);
    mustInstall([...hostArgs, '--uninstall', '--purge']);
    assert.deepEqual(files(root), []);
  });

  it('--with-whereabouts: its launcher, its units pointed at the bin dir, its 0700 store dir; a Go whereabouts is kept and put back', () => {
    const root = path.join(dir, 'host');
    fs.mkdirSync(path.join(root, 'opt/cni/bin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'opt/cni/bin/whereabouts'), 'go whereabouts', { mode: 0o755 });
    const hostArgs = ['--from', from, '--root', root, '--prefix', '/opt/cni-dhcp', '--bin-dir', '/opt/cni/bin', '--bundle-node', '--node', process.execPath];
    mustInstall([...hostArgs, '--with-whereabouts']);
    const lib = '/opt/cni-dhcp/lib/cni-dhcp';
    const launcher = fs.readFileSync(path.join(root, 'opt/cni/bin/whereabouts'), 'utf8');
    assert.ok(launcher.includes(`exec '${lib}/node'${FLAGS} '${lib}/dist/cni/whereabouts' "$@"`), launcher);
    const unit = fs.readFileSync(path.join(root, 'etc/systemd/system/cni-whereabouts.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/opt\/cni\/bin\/whereabouts daemon$/m);
    assert.equal(mode(path.join(root, 'etc/systemd/system/cni-whereabouts.socket')), '644');
    assert.equal(mode(path.join(root, 'var/lib/cni/whereabouts')), '700');
    const before = snapshot(root);
    mustInstall([...hostArgs, '--with-whereabouts']);
    assert.deepEqual(snapshot(root), before, 'a second run changes nothing');
    // without the flag, the Go plugin comes back and our units go
    mustInstall(hostArgs);
    assert.equal(fs.readFileSync(path.join(root, 'opt/cni/bin/whereabouts'), 'utf8'), 'go whereabouts');
    assert.ok(!fs.existsSync(path.join(root, 'etc/systemd/system/cni-whereabouts.service')));
    mustInstall([...hostArgs, '--with-whereabouts', '--uninstall', '--purge']);
    assert.deepEqual(files(root), ['opt/cni/bin/whereabouts']);
    assert.ok(!fs.existsSync(path.join(root, 'var/lib/cni/whereabouts')));
  });

  it('installs the real built tree when there is one', function () {
    requireBuiltTree(this);
    mustInstall([...args.slice(2), '--from', ROOT]);
    const run = spawnSync(path.join(target, 'cni', 'bin', 'dhcp'), [], {
      env: { CNI_COMMAND: 'VERSION' },
      input: '{"cniVersion":"1.1.0"}',
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.1.0'));
    mustInstall([...args.slice(2), '--from', ROOT, '--with-whereabouts']);
    const wb = spawnSync(path.join(target, 'cni', 'bin', 'whereabouts'), [], { env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', encoding: 'utf8' });
    assert.equal(wb.status, 0, wb.stderr);
    assert.equal((JSON.parse(wb.stdout) as { cniVersion: string }).cniVersion, '1.0.0');
  });

  it('the installed daemon starts socket-activated (LISTEN_FDS=1) and serves the installed plugin and CLI', async function () {
    requireBuiltTree(this);
    mustInstall([...args.slice(2), '--from', ROOT]);
    const plugin = path.join(target, 'cni', 'bin', 'dhcp');
    const cli = path.join(target, 'usr', 'bin', 'cni-dhcp');
    const sock = path.join(dir, 'run', 'dhcp.sock');
    const daemon = await socketActivated(plugin, sock, ['--state-dir', path.join(target, 'state')], /daemon ready/);
    try {
      const status = spawnSync(plugin, [], {
        env: { CNI_COMMAND: 'STATUS' },
        input: JSON.stringify({ cniVersion: '1.1.0', name: 'n', ipam: { type: 'dhcp', daemonSocketPath: sock } }),
        encoding: 'utf8',
      });
      assert.equal(status.status, 0, status.stdout + status.stderr);
      const s = spawnSync(cli, ['--socket', sock, 'status', '--json'], { encoding: 'utf8', env: {} });
      assert.equal(s.status, 0, s.stderr);
      assert.equal((JSON.parse(s.stdout) as { leases: number }).leases, 0);
    } finally {
      await daemon.stop();
    }
  });

  it('the installed whereabouts daemon starts socket-activated and answers the installed plugin and CLI', async function () {
    requireBuiltTree(this);
    mustInstall([...args.slice(2), '--from', ROOT, '--with-whereabouts']);
    const plugin = path.join(target, 'cni', 'bin', 'whereabouts');
    const sock = path.join(dir, 'run', 'whereabouts.sock');
    const daemon = await socketActivated(plugin, sock, ['--state-dir', path.join(target, 'wb-state')], /whereabouts daemon ready/);
    try {
      const config = JSON.stringify({ cniVersion: '1.1.0', name: 'n', ipam: { type: 'whereabouts', range: '198.18.0.0/30', daemonSocketPath: sock } });
      const add = spawnSync(plugin, [], { env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'net1' }, input: config, encoding: 'utf8' });
      assert.equal(add.status, 0, add.stdout + add.stderr);
      assert.equal((JSON.parse(add.stdout) as { ips: Array<{ address: string }> }).ips[0]?.address, '198.18.0.1/30');
      const list = spawnSync(path.join(target, 'usr', 'bin', 'cni-dhcp'), ['whereabouts', 'allocations', '--socket', sock, '--json'], { encoding: 'utf8', env: {} });
      assert.equal(list.status, 0, list.stderr);
      assert.deepEqual((JSON.parse(list.stdout) as Array<{ address: string }>).map((a) => a.address), ['198.18.0.1']);
    } finally {
      await daemon.stop();
    }
  });

  it('rejects bad usage with exit 2 and a missing tree with exit 1', () => {
    assert.equal(install(['--bogus']).status, 2);
    assert.equal(install(['--purge']).status, 2);
    assert.equal(install(['--bin-dir', 'relative/bin']).status, 2);
    assert.equal(install(['--prefix']).status, 2);
    const missing = install([...args.slice(2), '--from', path.join(dir, 'nothing')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /npm run build/);
    assert.ok(!fs.existsSync(target), 'nothing written');
  });

  it('refuses a node under /root or /home when it installs the units', () => {
    const root = path.join(dir, 'host');
    fs.mkdirSync(path.join(root, 'root', '.nvm'), { recursive: true });
    fs.copyFileSync(process.execPath, path.join(root, 'root', '.nvm', 'node'));
    fs.chmodSync(path.join(root, 'root', '.nvm', 'node'), 0o755);
    const run = install(['--from', from, '--root', root, '--node', '/root/.nvm/node']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /ProtectHome/);
    assert.ok(!fs.existsSync(path.join(root, 'opt')), 'nothing written');
  });
});
