import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab } from '../helpers/lab';
import { requireRootTools, run, sh, waitFor } from '../helpers/sh';


describe('CNI verbs of the dhcp shim against a live daemon @root', function () {
  this.timeout(120_000);
  let lab: Lab;
  let pod: string;
  let added: Record<string, unknown>;
  const conf = (v = '1.1.0', extra: Record<string, unknown> = {}) => ({ cniVersion: v, name: `lab-${lab.id}`, ipam: lab.ipamConfig(), ...extra });

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    lab = await Lab.create('verb');
    await lab.startDnsmasq();
    await lab.startDaemon();
    pod = await lab.addPod();
    await lab.plugVeth(pod);
    const r = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: conf() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    added = r.json as Record<string, unknown>;
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('ADD brings the interface up itself and answers in the 1.1.0 format', async () => {
    assert.equal(added.cniVersion, '1.1.0');
    assert.match((await sh('ip', '-n', pod, 'link', 'show', 'eth1')), /state UP|LOWER_UP/);
  });

  it('CHECK succeeds for the held lease', async () => {
    const r = await lab.cni({ plugin: 'dhcp', command: 'CHECK', pod, config: conf('1.1.0', { prevResult: added }) });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout.trim(), '');
  });

  it('CHECK fails when prevResult names another address', async () => {
    const wrong = { ...added, ips: [{ address: '198.18.0.254/24' }] };
    const r = await lab.cni({ plugin: 'dhcp', command: 'CHECK', pod, config: conf('1.1.0', { prevResult: wrong }) });
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, 102);
    assert.match(String(r.json?.msg), /holds 198\.18\.0\.\d+\/24, prevResult has 198\.18\.0\.254\/24/);
  });

  it('CHECK for an unknown container fails and creates no lease (the reference runs DORA here)', async () => {
    const before = lab.dnsmasqLeases().length;
    const r = await lab.cni({ plugin: 'dhcp', command: 'CHECK', pod, containerId: 'unknown-container', config: conf('1.1.0', { prevResult: added }) });
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, 102);
    assert.match(String(r.json?.msg), /no lease held for unknown-container/);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(lab.dnsmasqLeases().length, before);
    assert.doesNotMatch(lab.daemonLog(), /containerId=unknown-container .*SELECTING/);
  });

  it('STATUS succeeds with the daemon up', async () => {
    const r = await lab.cni({ plugin: 'dhcp', command: 'STATUS', config: conf() });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout.trim(), '');
  });

  it('DEL is idempotent: three concurrent DELs of the same attachment all succeed and the server drops the lease', async () => {
    const other = await lab.addPod();
    await lab.plugVeth(other);
    const a = await lab.cni({ plugin: 'dhcp', command: 'ADD', pod: other, config: conf() });
    assert.equal(a.code, 0, a.stdout);
    const ip = String((a.json as { ips: Array<{ address: string }> }).ips[0]?.address).split('/')[0];
    const rs = await Promise.all([0, 1, 2].map(() => lab.cni({ plugin: 'dhcp', command: 'DEL', pod: other, config: conf() })));
    for (const r of rs) assert.equal(r.code, 0, r.stdout);
    await waitFor('dnsmasq to drop the released lease', () => (lab.dnsmasqLeases().every((l) => l.ip !== ip) ? true : undefined));
  });

  it('DEL succeeds when the lease, the namespace and the interface are all gone', async () => {
    const r = await lab.cni({ plugin: 'dhcp', command: 'DEL', pod: 'cdt-never-existed', config: conf() });
    assert.equal(r.code, 0, r.stdout);
  });

  it('GC releases every lease of the network that is not in cni.dev/valid-attachments, and prints nothing', async () => {
    const keep = await lab.addPod();
    const drop = await lab.addPod();
    await lab.plugVeth(keep);
    await lab.plugVeth(drop);
    for (const p of [keep, drop]) assert.equal((await lab.cni({ plugin: 'dhcp', command: 'ADD', pod: p, config: conf() })).code, 0);
    const before = lab.dnsmasqLeases().length;
    const valid = [pod, keep].map((c) => ({ containerID: c, ifname: 'eth1' }));
    const r = await lab.cni({ plugin: 'dhcp', command: 'GC', config: conf('1.1.0', { 'cni.dev/valid-attachments': valid }) });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout.trim(), '');
    await waitFor('GC release on the server', () => (lab.dnsmasqLeases().length === before - 1 ? true : undefined));
    const check = await lab.cni({ plugin: 'dhcp', command: 'CHECK', pod: drop, config: conf('1.1.0', { prevResult: added }) });
    assert.equal(check.json?.code, 102);
  });
});

describe('CNI errors: every bad input gets its code and a clear message @root', function () {
  this.timeout(60_000);
  let lab: Lab;
  let pod: string;
  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq']);
    lab = await Lab.create('errs');
    await lab.startDaemon();
    pod = await lab.addPod();
  });
  after(async () => {
    await lab?.cleanup();
  });

  const good = () => ({ cniVersion: '1.0.0', name: 'n1', ipam: lab.ipamConfig() });
  type Case = { title: string; env?: Record<string, string | undefined>; stdin?: string; config?: () => Record<string, unknown>; code: number; msg: RegExp };
  const cases: Case[] = [
    { title: 'no CNI_COMMAND', env: { CNI_COMMAND: undefined }, code: 4, msg: /CNI_COMMAND/ },
    { title: 'missing CNI_NETNS and CNI_IFNAME', env: { CNI_NETNS: undefined, CNI_IFNAME: undefined }, code: 4, msg: /\[CNI_NETNS,CNI_IFNAME\] missing/ },
    { title: 'CNI_IFNAME with a slash', env: { CNI_IFNAME: 'a/b' }, code: 4, msg: /CNI_IFNAME/ },
    { title: 'CNI_NETNS that is not a network namespace', env: { CNI_NETNS: '/etc/hostname' }, code: 4, msg: /not a network namespace/ },
    { title: 'CNI_NETNS that does not exist', env: { CNI_NETNS: '/var/run/netns/cdt-does-not-exist' }, code: 3, msg: /does not exist/ },
    { title: 'interface missing in the pod', env: { CNI_IFNAME: 'eth9' }, code: 5, msg: /eth9/ },
    { title: 'stdin is not JSON', stdin: '{"cniVersion":', code: 6, msg: /decode/ },
    { title: 'stdin is a JSON array', stdin: '[]', code: 6, msg: /JSON object/ },
    { title: 'unsupported cniVersion', config: () => ({ ...good(), cniVersion: '2.0.0' }), code: 1, msg: /incompatible CNI version "2.0.0"/ },
    { title: 'bad request option', config: () => ({ ...good(), ipam: { ...lab.ipamConfig(), request: [{ option: 'nope' }] } }), code: 7, msg: /unknown DHCP option/ },
    { title: 'daemon unreachable', config: () => ({ ...good(), ipam: { type: 'dhcp', daemonSocketPath: '/tmp/cdt-no-daemon.sock' } }), code: 11, msg: /daemon unreachable/ },
    { title: 'STATUS with the daemon down', env: { CNI_COMMAND: 'STATUS' }, config: () => ({ ...good(), cniVersion: '1.1.0', ipam: { type: 'dhcp', daemonSocketPath: '/tmp/cdt-no-daemon.sock' } }), code: 50, msg: /unreachable/ },
    { title: 'GC with a 1.0.0 config', env: { CNI_COMMAND: 'GC' }, config: () => ({ ...good(), 'cni.dev/valid-attachments': [] }), code: 1, msg: /GC requires cniVersion 1.1.0/ },
    { title: 'STATUS with a 0.4.0 config', env: { CNI_COMMAND: 'STATUS' }, config: () => ({ ...good(), cniVersion: '0.4.0' }), code: 1, msg: /STATUS requires/ },
    { title: 'GC without valid-attachments', env: { CNI_COMMAND: 'GC' }, config: () => ({ ...good(), cniVersion: '1.1.0' }), code: 7, msg: /valid-attachments/ },
    { title: 'CHECK without prevResult', env: { CNI_COMMAND: 'CHECK' }, code: 7, msg: /prevResult/ },
  ];
  for (const c of cases) {
    it(`${c.title} → code ${c.code}`, async () => {
      const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ctr1', CNI_NETNS: lab.podPath(pod), CNI_IFNAME: 'eth1', CNI_PATH: lab.cniPath };
      for (const [k, v] of Object.entries(c.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      const stdin = c.stdin ?? JSON.stringify((c.config ?? good)());
      const r = await run(path.join(lab.cniPath, 'dhcp'), [], { env, input: stdin });
      assert.equal(r.code, 1, `exit code; stdout: ${r.stdout}`);
      const out = JSON.parse(r.stdout) as { code: number; msg: string; cniVersion: string };
      assert.equal(out.code, c.code, r.stdout);
      assert.match(out.msg, c.msg);
      assert.ok(out.cniVersion);
    });
  }

  it('the daemon survived every bad request and still answers STATUS', async () => {
    const r = await lab.cni({ plugin: 'dhcp', command: 'STATUS', config: { ...good(), cniVersion: '1.1.0' } });
    assert.equal(r.code, 0, r.stdout);
    assert.ok(fs.existsSync(lab.socketPath));
  });
});
