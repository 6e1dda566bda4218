import assert from 'node:assert/strict';
import { DEFAULT_ARP_PROBE, parseDhcpConfig } from '../../shared/dhcp-config';
import { InvalidConfigError } from '../../shared/errors';
import { addParams, InvalidParams } from '../../daemon/rpc-validate';

const cfg = (arpProbe: unknown) => ({ cniVersion: '1.0.0', name: 'n', ipam: { type: 'dhcp', arpProbe } });

describe('ipam.arpProbe', () => {
  it('absent or true is the default, false is off, an object sets count and interval', () => {
    assert.deepEqual(parseDhcpConfig({ cniVersion: '1.0.0', name: 'n', ipam: { type: 'dhcp' } }).arpProbe, DEFAULT_ARP_PROBE);
    assert.deepEqual(parseDhcpConfig(cfg(true)).arpProbe, DEFAULT_ARP_PROBE);
    assert.equal(parseDhcpConfig(cfg(false)).arpProbe, false);
    assert.deepEqual(parseDhcpConfig(cfg({ count: 3, intervalMs: 200 })).arpProbe, { count: 3, intervalMs: 200 });
    assert.deepEqual(parseDhcpConfig(cfg({ count: 1 })).arpProbe, { count: 1, intervalMs: (DEFAULT_ARP_PROBE as { intervalMs: number }).intervalMs });
  });

  it('bad values are code 7 naming the key and the value', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['yes', /ipam\.arpProbe must be false, true or \{"count": N, "intervalMs": M\}, got "yes"/],
      [[1], /ipam\.arpProbe must be .*got \[1\]/],
      [{ count: 0 }, /ipam\.arpProbe\.count must be an integer from 1 to 10, got 0/],
      [{ count: 2.5 }, /ipam\.arpProbe\.count .* got 2\.5/],
      [{ intervalMs: 5000 }, /ipam\.arpProbe\.intervalMs must be an integer from 1 to 2000, got 5000/],
      [{ intervalMs: '50' }, /ipam\.arpProbe\.intervalMs .* got "50"/],
      [{ count: 2, waitMs: 5 }, /ipam\.arpProbe\.waitMs: unknown key/],
    ];
    for (const [value, re] of cases) {
      assert.throws(() => parseDhcpConfig(cfg(value)), (err: unknown) => err instanceof InvalidConfigError && err.code === 7 && re.test(err.message), JSON.stringify(value));
    }
  });

  it('the daemon checks the RPC field the same way', () => {
    const base = { containerId: 'c', netName: 'n', ifname: 'eth0', netns: '/run/netns/x' };
    assert.deepEqual(addParams({ ...base, arpProbe: { count: 1, intervalMs: 10 } }).arpProbe, { count: 1, intervalMs: 10 });
    assert.equal(addParams(base).arpProbe, undefined);
    assert.throws(() => addParams({ ...base, arpProbe: { count: 99 } }), InvalidParams);
  });
});
