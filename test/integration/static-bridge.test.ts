/**
 * End to end: the reference bridge plugin with `ipam: {type: "static"}` finds our `static` on
 * CNI_PATH (through a shim script, as a runtime would lay it out) and the pod's interface gets
 * the address. The bridge runs inside a throwaway "node" namespace, so nothing is created in
 * the root namespace; both namespaces are deleted afterwards, even on failure.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireRootTools } from '../helpers/sh';
import { REFERENCE_PLUGIN_DIR, runPlugin, staticShim, type PluginRun } from '../helpers/run-plugin';

const IP = '/usr/sbin/ip';
const BRIDGE = path.join(REFERENCE_PLUGIN_DIR, 'bridge');

async function ip(...args: string[]): Promise<PluginRun> {
  return runPlugin([IP, ...args], { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, '');
}

async function ipOk(...args: string[]): Promise<string> {
  const r = await ip(...args);
  assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

describe('static: end to end with the bridge plugin @root', function () {
  const node = `cdt-static-${process.pid}-0`;
  const pod = `cdt-static-${process.pid}-1`;
  let pluginDir = '';
  let created: string[] = [];

  const network = {
    cniVersion: '1.0.0',
    name: 'cdt-static-e2e',
    type: 'bridge',
    bridge: 'cdtst0',
    isGateway: false,
    ipMasq: false,
    ipam: {
      type: 'static',
      addresses: [{ address: '198.18.100.10/24', gateway: '198.18.100.1' }],
      routes: [{ dst: '198.19.0.0/16', gw: '198.18.100.1' }],
    },
  };

  function bridge(command: string, config: unknown): Promise<PluginRun> {
    const env = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: `cdt-static-${process.pid}`,
      CNI_NETNS: `/var/run/netns/${pod}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: pluginDir,
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    };
    // the bridge is created in the namespace the plugin runs in: the node namespace, not ours
    return runPlugin([IP, 'netns', 'exec', node, BRIDGE], env, JSON.stringify(config));
  }

  before(async function () {
    requireRootTools(this, [BRIDGE]);
    pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdt-static-cni-'));
    fs.writeFileSync(path.join(pluginDir, 'static'), staticShim(), { mode: 0o755 });
    for (const ns of [node, pod]) {
      await ipOk('netns', 'add', ns);
      created.push(ns);
    }
  });

  after(async function () {
    for (const ns of created) await ip('netns', 'del', ns);
    created = [];
    if (pluginDir) fs.rmSync(pluginDir, { recursive: true, force: true });
  });

  it('ADD puts the static address on the pod interface, CHECK passes, DEL removes it', async function () {
    const add = await bridge('ADD', network);
    assert.equal(add.code, 0, `bridge ADD: ${add.stdout} ${add.stderr}`);
    const result = JSON.parse(add.stdout) as { ips: Array<{ address: string; gateway?: string }> };
    assert.deepEqual(
      result.ips.map((i) => [i.address, i.gateway]),
      [['198.18.100.10/24', '198.18.100.1']],
    );

    const addrs = await ipOk('-n', pod, 'addr', 'show', 'dev', 'eth0');
    assert.match(addrs, /inet 198\.18\.100\.10\/24 /);
    const routes = await ipOk('-n', pod, 'route', 'show');
    assert.match(routes, /198\.19\.0\.0\/16 via 198\.18\.100\.1 dev eth0/);

    const check = await bridge('CHECK', { ...network, prevResult: result });
    assert.equal(check.code, 0, `bridge CHECK: ${check.stdout} ${check.stderr}`);

    const del = await bridge('DEL', { ...network, prevResult: result });
    assert.equal(del.code, 0, `bridge DEL: ${del.stdout} ${del.stderr}`);
    const after = await ip('-n', pod, 'link', 'show', 'dev', 'eth0');
    assert.notEqual(after.code, 0, 'eth0 should be gone from the pod after DEL');
  });
});
