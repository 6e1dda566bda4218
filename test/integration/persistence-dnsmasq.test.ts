/**
 * What the state dir promises, against real dnsmasq and the real daemon: a lease that cannot
 * be written fails the ADD and goes back to the server; unreadable lease files never stop the
 * daemon from starting and are reported.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, REPO } from '../helpers/lab';
import { leases, stateFiles } from '../helpers/daemon-rpc';
import { requireRootTools, run, sh, waitFor } from '../helpers/sh';

const CLI = path.join(REPO, 'dist', 'bin', 'cni-dhcp');

describe('persistence against dnsmasq @root', function () {
  this.timeout(180_000);
  let lab: Lab;
  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq']);
    lab = await Lab.create('per');
    await lab.startDnsmasq();
  });
  after(async () => {
    await lab?.cleanup();
  });

  const add = (pod: string) => lab.cni({ plugin: 'dhcp', command: 'ADD', pod, config: { cniVersion: '1.0.0', name: 'per', ipam: lab.ipamConfig() } });

  it('an ADD whose lease cannot be written fails with code 5 (path and errno) and the server gets the lease back', async () => {
    await lab.startDaemon();
    const pod = await lab.addPod();
    await lab.plugVeth(pod);
    // a file where the state dir should be: every write fails (ENOTDIR), also for root
    const away = `${lab.stateDir}.away`;
    fs.renameSync(lab.stateDir, away);
    fs.writeFileSync(lab.stateDir, 'not a directory\n');
    try {
      const r = await add(pod);
      assert.notEqual(r.code, 0, `ADD must fail: ${r.stdout}`);
      const err = r.json as { code: number; msg: string; details?: string };
      assert.equal(err.code, 5, r.stdout);
      assert.ok(err.msg.includes(lab.stateDir), err.msg);
      assert.match(err.msg, /ENOTDIR/);
      // dnsmasq logs the RELEASE and drops the lease from its table
      await waitFor('dnsmasq to see the DHCPRELEASE', () => (/DHCPRELEASE\(srv0\)/.test(fs.readFileSync(path.join(lab.dir, 'dnsmasq.log'), 'utf8')) ? true : undefined), 15_000);
      await waitFor('dnsmasq to forget the lease', () => (lab.dnsmasqLeases().length === 0 ? true : undefined), 15_000);
      assert.deepEqual(await leases(lab), [], 'the daemon holds nothing');
    } finally {
      fs.rmSync(lab.stateDir);
      fs.renameSync(away, lab.stateDir);
    }
    // with the state dir back, the same ADD works and is on disk
    const again = await add(pod);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(stateFiles(lab).length, 1);
    await lab.stopDaemon();
  });

  it('a read-only state dir (EROFS, a read-only bind mount the daemon started on) fails ADD with code 5 too, and releases', async () => {
    await sh('mount', '--bind', lab.stateDir, lab.stateDir);
    try {
      await sh('mount', '-o', 'remount,bind,ro', lab.stateDir);
      // `ip netns exec` gives the daemon its own mount namespace, a copy taken at its start
      await lab.startDaemon();
      const pod = await lab.addPod();
      await lab.plugVeth(pod);
      const r = await add(pod);
      const err = r.json as { code: number; msg: string };
      assert.equal(err?.code, 5, r.stdout);
      assert.match(err.msg, /EROFS/);
      assert.ok(err.msg.includes(lab.stateDir), err.msg);
      const releases = () => fs.readFileSync(path.join(lab.dir, 'dnsmasq.log'), 'utf8').split('DHCPRELEASE(srv0)').length - 1;
      await waitFor('dnsmasq to see the second DHCPRELEASE', () => (releases() === 2 ? true : undefined), 15_000);
      await waitFor('dnsmasq to forget the lease', () => (lab.dnsmasqLeases().length === 1 ? true : undefined), 15_000);
      assert.equal(lab.dnsmasqLeases().length, 1, 'only the first test\'s pod holds a lease');
      assert.deepEqual((await leases(lab)).map((l) => l.containerId).includes(pod), false);
      await lab.stopDaemon();
    } finally {
      await lab.stopDaemon();
      await run('umount', [lab.stateDir]);
    }
  });

  it('truncated, garbage, wrongly shaped and dangling-symlink lease files are quarantined at start-up and shown by `cni-dhcp status`', async () => {
    const before = stateFiles(lab).length;
    const good = fs.readFileSync(path.join(lab.stateDir, stateFiles(lab)[0] as string), 'utf8');
    fs.writeFileSync(path.join(lab.stateDir, 'truncated.json'), good.slice(0, 40));
    fs.writeFileSync(path.join(lab.stateDir, 'garbage.json'), Buffer.from([0, 1, 2, 0xff, 0xfe]));
    fs.writeFileSync(path.join(lab.stateDir, 'shape.json'), JSON.stringify({ ...JSON.parse(good), lease: { address: 42 } }));
    fs.symlinkSync(path.join(lab.dir, 'nowhere.json'), path.join(lab.stateDir, 'dangling.json'));
    await lab.startDaemon();
    const log = lab.daemonLog();
    for (const name of ['truncated.json', 'garbage.json', 'shape.json', 'dangling.json']) {
      assert.match(log, new RegExp(`unreadable lease file quarantined.*${name.replace('.', '\\.')}`), `log line for ${name}`);
    }
    const status = JSON.parse((await run(CLI, ['--socket', lab.socketPath, 'status', '--json'])).stdout) as { quarantined: Array<{ name: string; reason: string }>; leases: number };
    assert.deepEqual(status.quarantined.map((q) => q.name).sort(), ['dangling.json', 'garbage.json', 'shape.json', 'truncated.json']);
    assert.equal(status.leases, before, 'the good lease was resumed');
    const text = (await run(CLI, ['--socket', lab.socketPath, 'status'])).stdout;
    assert.match(text, /4 unreadable lease file\(s\) set aside/);
    assert.deepEqual(stateFiles(lab).length, before, 'the bad files are no longer in the state dir');
    assert.equal(fs.readdirSync(path.join(lab.stateDir, 'quarantine')).length, 4);
    await lab.stopDaemon();
  });
});
