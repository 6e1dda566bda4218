/** What an operator touches: socket activation, the CLI, /metrics, JSON logs. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, REPO, SHIM } from '../helpers/lab';
import { requireRootTools, run, startProcess, waitFor } from '../helpers/sh';

const CLI = path.join(REPO, 'dist', 'bin', 'cni-dhcp');


describe('operating the daemon @root', function () {
  this.timeout(120_000);
  let lab: Lab;
  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/bin/python3']);
    lab = await Lab.create('oper');
    await lab.startDnsmasq();
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('socket activation: with LISTEN_FDS=1 the daemon serves the inherited fd 3, and leaves the socket file to its owner', async () => {
    fs.mkdirSync(path.dirname(lab.socketPath), { recursive: true });
    const launcher = path.join(lab.dir, 'activate.py');
    fs.writeFileSync(
      launcher,
      [
        'import os, socket, sys',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
        `s.bind(${JSON.stringify(lab.socketPath)})`,
        's.listen(16)',
        'os.dup2(s.fileno(), 3)',
        'os.set_inheritable(3, True)',
        "os.environ['LISTEN_FDS'] = '1'",
        "os.environ['LISTEN_PID'] = str(os.getpid())",
        `os.execv(${JSON.stringify(process.execPath)}, [${JSON.stringify(process.execPath)}, ${JSON.stringify(SHIM)}, 'daemon', '-socketpath', '/nonexistent/ignored.sock', '--state-dir', ${JSON.stringify(lab.stateDir)}, '--log-format', 'json'])`,
      ].join('\n'),
    );
    const daemon = startProcess('ip', ['netns', 'exec', lab.nodeNs, 'python3', launcher], path.join(lab.dir, 'daemon.log'));
    lab.track(daemon);
    lab.daemon = daemon;
    await waitFor('activated daemon ready', () => (/"daemon ready"/.test(lab.daemonLog()) ? true : undefined));
    const ready = lab.daemonLog().split('\n').find((l) => l.includes('"daemon ready"')) as string;
    assert.equal(JSON.parse(ready).activated, true, 'JSON log line says it was socket-activated');
    const pod = await lab.addPod();
    await lab.plugVeth(pod);
    const r = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: { cniVersion: '1.1.0', name: 'act', ipam: lab.ipamConfig() } });
    assert.equal(r.code, 0, r.stdout + lab.daemonLog());
    // every log line is JSON, and lease lines carry the attachment, xid and state
    const lines = lab.daemonLog().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const bound = lines.find((l) => l.message === 'lease bound');
    assert.ok(bound && bound.containerId === pod && bound.ifname === 'eth1' && typeof bound.xid === 'number' && bound.state === 'BOUND');
    const del = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod, config: { cniVersion: '1.1.0', name: 'act', ipam: lab.ipamConfig() } });
    assert.equal(del.code, 0, del.stdout);
    await lab.stopDaemon();
    assert.ok(fs.existsSync(lab.socketPath), 'systemd owns the socket file: the daemon must not remove it');
    fs.rmSync(lab.socketPath);
  });

  it('cni-dhcp leases/status/release and /metrics show the real leases', async () => {
    await lab.startDaemon(['--metrics-address', '127.0.0.1:9477']);
    const pods = [await lab.addPod(), await lab.addPod()];
    for (const [i, pod] of pods.entries()) {
      await lab.plugVeth(pod);
      const r = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: { cniVersion: '1.0.0', name: 'ops', ipam: lab.ipamConfig() }, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-${i}` });
      assert.equal(r.code, 0, r.stdout);
    }
    const table = await run(CLI, ['--socket', lab.socketPath, 'leases']);
    assert.equal(table.code, 0, table.stderr);
    const rows = table.stdout.trim().split('\n');
    assert.match(rows[0] as string, /^CONTAINER\s+POD\s+NETNS\s+IFNAME\s+FAMILY\s+ADDRESS\s+SERVER\s+STATE\s+RENEW IN\s+EXPIRES IN\s+ADDRESS CHANGE$/);
    assert.equal(rows.length, 3);
    for (const [i, pod] of pods.entries()) {
      const row = rows.find((l) => l.includes(`/var/run/netns/${pod} `)) as string;
      assert.match(row, new RegExp(`ns1/web-${i}\\s+/var/run/netns/${pod}\\s+eth1\\s+ipv4\\s+198\\.18\\.0\\.\\d+/24\\s+198\\.18\\.0\\.1\\s+BOUND\\s+([1-5]?\\ds|1m00s)\\s+(1m[0-5]\\ds|2m00s)\\s+-$`));
    }
    const json = await run(CLI, ['--socket', lab.socketPath, 'leases', '--json', '--container', pods[0] as string]);
    const parsed = JSON.parse(json.stdout) as Array<{ containerId: string; address: string; podName: string }>;
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0]?.podName, 'web-0');
    const none = await run(CLI, ['--socket', lab.socketPath, 'leases', '--state', 'expired']);
    assert.equal(none.stdout.trim(), 'no leases');

    const status = JSON.parse((await run(CLI, ['--socket', lab.socketPath, 'status', '--json'])).stdout) as { leases: number; leasesByState: Record<string, number>; stateDir: string };
    assert.equal(status.leases, 2);
    assert.deepEqual(status.leasesByState, { BOUND: 2 });
    assert.equal(status.stateDir, lab.stateDir);

    const metrics = await run('ip', ['netns', 'exec', lab.nodeNs, process.execPath, '-e', "fetch('http://127.0.0.1:9477/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))"]);
    assert.match(metrics.stdout, /^cni_dhcp_leases\{family="ipv4",state="BOUND"\} 2$/m);
    assert.match(metrics.stdout, /^cni_dhcp_acquire_duration_seconds_count\{family="ipv4"\} 2$/m);
    assert.match(metrics.stdout, /^cni_dhcp_rpc_requests_total\{method="cni.add",outcome="ok"\} 2$/m);
    assert.match(metrics.stdout, /^cni_dhcp_process_resident_memory_bytes \d+/m);

    const released = await run(CLI, ['--socket', lab.socketPath, 'release', pods[0] as string]);
    assert.equal(released.code, 0);
    assert.equal(released.stdout.trim(), 'released 1 lease');
    await waitFor('server drops the released lease', () => (lab.dnsmasqLeases().length === 1 ? true : undefined));
    const again = await run(CLI, ['--socket', lab.socketPath, 'release', pods[0] as string]);
    assert.equal(again.code, 4, 'nothing matched');
    const unreachable = await run(CLI, ['--socket', '/tmp/cdt-nothing-here.sock', 'status']);
    assert.equal(unreachable.code, 3);
    const usage = await run(CLI, ['bogus']);
    assert.equal(usage.code, 2);
  });
});
