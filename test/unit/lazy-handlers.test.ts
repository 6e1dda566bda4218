/** shared/lazy-handlers.ts: VERSION loads no handler module; the first verb loads it once. */
import { strict as assert } from 'node:assert';
import { runCni, type PluginIo } from '../../shared/cni-skel';
import { lazyHandlers, type CniHandlers } from '../../shared/lazy-handlers';

function io(command: string, stdin: string): PluginIo & { out: string[] } {
  const out: string[] = [];
  return {
    env: { CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '/var/run/netns/x', CNI_PATH: '/opt/cni/bin' },
    stdin: async () => stdin,
    stdout: (t) => void out.push(t),
    out,
  };
}

describe('lazyHandlers', () => {
  it('VERSION never loads the handlers; each other verb is forwarded to them, loaded once', async () => {
    let loads = 0;
    const seen: string[] = [];
    const real = {} as CniHandlers;
    for (const verb of ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC'] as const) {
      real[verb] = async (env, stdin) => {
        seen.push(`${verb} ${env.containerId} ${stdin.length}`);
        return verb === 'ADD' ? { output: { verb } } : {};
      };
    }
    const handlers = lazyHandlers(() => {
      loads++;
      return real;
    });
    const v = io('VERSION', '{"cniVersion":"1.0.0"}');
    assert.equal(await runCni(v, handlers), 0);
    assert.match(v.out.join(''), /supportedVersions/);
    assert.equal(loads, 0);
    const cfg = '{"cniVersion":"1.1.0","name":"n","ipam":{"type":"dhcp"}}';
    for (const verb of ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC']) {
      const x = io(verb, cfg);
      assert.equal(await runCni(x, handlers), 0, x.out.join(''));
      if (verb === 'ADD') assert.deepEqual(JSON.parse(x.out.join('')), { verb: 'ADD' });
    }
    assert.equal(loads, 1);
    assert.deepEqual(seen, ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC'].map((v) => `${v} c1 ${cfg.length}`));
  });

  it('a module that fails to load is the verb\'s CNI error, and the next verb tries again', async () => {
    let tries = 0;
    const handlers = lazyHandlers(() => {
      tries++;
      throw new Error('cannot load');
    });
    const x = io('ADD', '{"cniVersion":"1.0.0","name":"n"}');
    assert.equal(await runCni(x, handlers), 1);
    assert.match(JSON.parse(x.out.join('')).msg as string, /cannot load/);
    assert.equal(await runCni(io('DEL', '{"cniVersion":"1.0.0","name":"n"}'), handlers), 1);
    assert.equal(tries, 2);
  });
});
