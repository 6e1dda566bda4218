/**
 * prom-client is a bundle of its own (dist/lib/prom-client.js) that only a daemon started with
 * --metrics-address reads. An installed tree has no node_modules/prom-client, so these prove
 * that the installed daemon serves /metrics from that bundle, and that a tree missing it still
 * runs without metrics and fails clearly with them.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Starts the installed `dhcp daemon`; resolves with its log once it is ready, or once it exits. */
async function startDaemon(plugin: string, args: string[]): Promise<{ log: () => string; exit: Promise<number | null>; stop: () => Promise<void> }> {
  const d = spawn(plugin, ['daemon', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: {} });
  let log = '';
  d.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const exit = new Promise<number | null>((r) => d.once('exit', (code) => r(code)));
  let exited = false;
  void exit.then(() => (exited = true));
  const deadline = Date.now() + 30_000;
  while (!/daemon ready/.test(log) && !exited) {
    assert.ok(Date.now() < deadline, `daemon neither ready nor exited: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    log: () => log,
    exit,
    stop: async () => {
      if (!exited) d.kill('SIGTERM');
      await exit;
    },
  };
}

describe('installed daemon metrics @root', function () {
  this.timeout(120_000);
  let dir: string;
  let plugin: string;
  let libDir: string;

  before(function () {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'lib', 'prom-client.js'))) {
      if (process.env.CI === 'true') throw new Error('dist/ is not built (CI=true: failing instead of skipping)');
      this.skip();
    }
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cni-dhcp-prf-metrics-'));
    libDir = path.join(dir, 'usr', 'lib', 'cni-dhcp');
    plugin = path.join(dir, 'bin', 'dhcp');
    const run = spawnSync(path.join(ROOT, 'scripts', 'install.sh'), ['--from', ROOT, '--prefix', path.join(dir, 'usr'), '--bin-dir', path.join(dir, 'bin'),
      '--state-dir', path.join(dir, 'state'), '--node', process.execPath, '--no-systemd'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const flags = () => ['-socketpath', path.join(dir, 'dhcp.sock'), '--state-dir', path.join(dir, 'state')];

  it('serves /metrics from dist/lib/prom-client.js, with no prom-client in node_modules', async () => {
    assert.deepEqual(fs.readdirSync(path.join(libDir, 'node_modules')), ['koffi']);
    const port = await freePort();
    const d = await startDaemon(plugin, [...flags(), '--metrics-address', `127.0.0.1:${port}`]);
    try {
      assert.match(d.log(), /daemon ready/);
      const r = await get(`http://127.0.0.1:${port}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.body, /^# TYPE cni_dhcp_rpc_requests_total counter$/m);
      assert.match(r.body, /^cni_dhcp_process_resident_memory_bytes \d+/m);
    } finally {
      await d.stop();
    }
  });

  it('without the bundle: runs without metrics, and with --metrics-address fails to start, saying why', async () => {
    fs.rmSync(path.join(libDir, 'dist', 'lib', 'prom-client.js'));
    const ok = await startDaemon(plugin, flags());
    assert.match(ok.log(), /daemon ready/);
    await ok.stop();
    const port = await freePort();
    const bad = await startDaemon(plugin, [...flags(), '--metrics-address', `127.0.0.1:${port}`]);
    assert.equal(await bad.exit, 1);
    assert.match(bad.log(), /daemon failed to start.*prom-client/);
  });
});
