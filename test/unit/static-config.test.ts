import assert from 'node:assert/strict';
import { CniCode, CniError } from '../../shared/errors';
import { cidrString, ipString } from '../../shared/go-ip';
import { loadStaticConfig, type StaticConfig } from '../../static/static-config';
import { readNetworkHeader } from '../../shared/network-header';
import type { JsonObject } from '../../shared/go-json-fields';

function load(raw: JsonObject, cniArgs = ''): StaticConfig {
  return loadStaticConfig(raw, cniArgs, readNetworkHeader(raw));
}

function addresses(cfg: StaticConfig): string[] {
  return cfg.addresses.map((a) => (a.gateway ? `${cidrString(a.cidr)} via ${ipString(a.gateway)}` : cidrString(a.cidr)));
}

function failsWith(fn: () => unknown, code: number, msg: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CniError, String(e));
    assert.equal(e.message, msg);
    assert.equal(e.code, code);
    return true;
  });
}

const net = (ipam: unknown, extra: JsonObject = {}): JsonObject => ({ cniVersion: '1.0.0', name: 'n', ipam, ...extra });

describe('static: config', function () {
  describe('network header', function () {
    it('takes a missing cniVersion as 0.1.0, as libcni does', function () {
      assert.equal(readNetworkHeader({ name: 'n' }).cniVersion, '0.1.0');
      assert.equal(readNetworkHeader({ name: 'n', cniVersion: '' }).cniVersion, '0.1.0');
    });

    it('checks the name like libcni\'s skel', function () {
      failsWith(() => readNetworkHeader({ cniVersion: '1.0.0' }), CniCode.InvalidConfig, 'missing network name');
      failsWith(() => readNetworkHeader({ name: '.n' }), CniCode.InvalidConfig, 'invalid characters found in network name');
      assert.throws(() => readNetworkHeader({ name: 5 }), (e: unknown) => e instanceof CniError && e.code === CniCode.Decode);
      assert.throws(() => readNetworkHeader({ name: 'n', cniVersion: 1 }), (e: unknown) => e instanceof CniError && e.code === CniCode.Decode);
    });
  });

  it('reads addresses, routes and dns, and Go\'s case-insensitive keys', function () {
    const cfg = load({
      CniVersion: '1.0.0',
      NAME: 'n',
      Ipam: {
        addresses: [{ Address: '198.18.0.10/24', GATEWAY: '198.18.0.1' }],
        routes: [{ dst: '0.0.0.0/0', gw: '198.18.0.1', mtu: 0, table: 0 }],
        dns: { nameservers: ['198.18.0.53'], domain: 'example.test', search: [], options: ['ndots:1'] },
      },
    });
    assert.deepEqual(addresses(cfg), ['198.18.0.10/24 via 198.18.0.1']);
    assert.deepEqual(cfg.routes, [{ dst: '0.0.0.0/0', gw: '198.18.0.1', table: 0 }]);
    assert.deepEqual(cfg.dns, { nameservers: ['198.18.0.53'], domain: 'example.test', search: [], options: ['ndots:1'] });
  });

  it('appends CNI_ARGS IPs and gives each GATEWAY to every CNI_ARGS address whose subnet holds it', function () {
    const cfg = load(net({ addresses: [{ address: '198.18.0.10/24' }] }), 'IP=198.18.0.11/24, 198.18.0.12/24,2001:db8::5/64;GATEWAY=198.18.0.1,2001:db8::1,198.18.0.254');
    assert.deepEqual(addresses(cfg), [
      '198.18.0.10/24',
      '198.18.0.11/24 via 198.18.0.254',
      '198.18.0.12/24 via 198.18.0.254',
      '2001:db8::5/64 via 2001:db8::1',
    ]);
  });

  it('lets a non-empty args.cni.ips replace everything, and runtimeConfig.ips replace that', function () {
    const withArgs = net({ addresses: [{ address: '198.18.0.10/24' }] }, { args: { cni: { ips: ['198.18.9.9/24'] } } });
    assert.deepEqual(addresses(load(withArgs, 'IP=198.18.5.5/24')), ['198.18.9.9/24']);
    const withBoth = { ...withArgs, runtimeConfig: { ips: ['198.18.7.7/24', '2001:db8::7/64'] } };
    assert.deepEqual(addresses(load(withBoth, 'IP=198.18.5.5/24;GATEWAY=198.18.5.1')), ['198.18.7.7/24', '2001:db8::7/64']);
    const empty = net({ addresses: [{ address: '198.18.0.10/24' }] }, { runtimeConfig: { ips: [] }, args: { cni: { ips: [] } } });
    assert.deepEqual(addresses(load(empty)), ['198.18.0.10/24']);
  });

  it('names the key and the value of every bad address, with code 7', function () {
    const cases: Array<[JsonObject, string, string]> = [
      [net({ addresses: [{ address: '198.18.0.10/24' }, {}] }), '', 'ipam.addresses[1].address must be in CIDR notation, got ""'],
      [net({ addresses: [{ address: '198.18.0.10/24', gateway: '198.18.0' }] }), '', 'ipam.addresses[0].gateway must be an IP address, got "198.18.0"'],
      [net({ addresses: [] }), 'IP=198.18.0.10', 'CNI_ARGS IP must be in CIDR notation, got "198.18.0.10"'],
      [net({ addresses: [] }), 'GATEWAY= x ', 'CNI_ARGS GATEWAY must be an IP address, got " x "'],
      [net({ addresses: [] }, { args: { cni: { ips: ['x'] } } }), '', 'args.cni.ips[0] must be in CIDR notation, got "x"'],
      [net({ addresses: [] }, { runtimeConfig: { ips: ['198.18.0.1/24', 'y'] } }), '', 'runtimeConfig.ips[1] must be in CIDR notation, got "y"'],
      [net({ addresses: [], routes: [{ dst: '::/129' }] }), '', 'ipam.routes[0].dst must be in CIDR notation, got "::/129"'],
      [net({ addresses: [], routes: [{ dst: '::/0', gw: 'fe80::1%eth0' }] }), '', 'ipam.routes[0].gw must be an IP address, got "fe80::1%eth0"'],
    ];
    for (const [raw, args, msg] of cases) failsWith(() => load(raw, args), CniCode.InvalidConfig, msg);
  });

  it('refuses values of the wrong JSON type with code 7 and the key', function () {
    failsWith(() => load(net({ addresses: {} })), CniCode.InvalidConfig, 'ipam.addresses must be an array, got object');
    failsWith(() => load(net({ dns: { search: 'a' } })), CniCode.InvalidConfig, 'ipam.dns.search must be an array, got string');
    failsWith(() => load(net('static')), CniCode.InvalidConfig, 'ipam must be an object, got string');
    failsWith(() => load(net({ routes: [{ dst: '0.0.0.0/0', mtu: 'big' }] })), CniCode.InvalidConfig, 'ipam.routes[0].mtu must be an integer, got "big"');
  });

  it('allows one address per family before 0.3.0, quoting the version as written', function () {
    const two = { name: 'n', ipam: { addresses: [{ address: '198.18.0.1/24' }, { address: '198.18.0.2/24' }] } };
    failsWith(() => load(two), CniCode.InvalidConfig, 'CNI version  does not support more than 1 address per family');
    const mixed = { name: 'n', cniVersion: '0.2.0', ipam: { addresses: [{ address: '198.18.0.1/24' }, { address: '2001:db8::1/64' }] } };
    assert.equal(load(mixed).addresses.length, 2);
    // a v4-mapped address counts as IPv4
    const mapped = { ...mixed, ipam: { addresses: [{ address: '198.18.0.1/24' }, { address: '::ffff:198.18.0.2/120' }] } };
    failsWith(() => load(mapped), CniCode.InvalidConfig, 'CNI version 0.2.0 does not support more than 1 address per family');
  });

  it('checks CNI_ARGS before args.cni.ips and runtimeConfig.ips replace the list', function () {
    const raw = net({ addresses: [] }, { runtimeConfig: { ips: ['198.18.7.7/24'] } });
    failsWith(() => load(raw, 'FOO=1'), CniCode.Unclassified, 'ARGS: unknown args ["FOO=1"]');
  });
});
