import { strict as assert } from 'node:assert';
import { parseDhcpConfig } from '../../shared/dhcp-config';
import { CniError } from '../../shared/errors';
import { addParams, InvalidParams } from '../../daemon/rpc-validate';
import { changeCell, leaseRows, LEASE_HEADER } from '../../cli/lease-table';
import type { LeaseView } from '../../shared/rpc-protocol';

const base = { cniVersion: '1.0.0', name: 'net1', ipam: { type: 'dhcp' } };

describe('onAddressChange: config, RPC and the lease table', () => {
  it('defaults to "move"; "release" is taken', () => {
    assert.equal(parseDhcpConfig(base).onAddressChange, 'move');
    assert.equal(parseDhcpConfig({ ...base, ipam: { type: 'dhcp', onAddressChange: 'move' } }).onAddressChange, 'move');
    assert.equal(parseDhcpConfig({ ...base, ipam: { type: 'dhcp', onAddressChange: 'release' } }).onAddressChange, 'release');
  });

  it('anything else is code 7 naming the key and the value', () => {
    for (const bad of ['Release', 'keep', '', 1, true, null, ['move']]) {
      try {
        parseDhcpConfig({ ...base, ipam: { type: 'dhcp', onAddressChange: bad } });
        assert.fail(`accepted ${JSON.stringify(bad)}`);
      } catch (err) {
        assert.ok(err instanceof CniError);
        assert.equal(err.code, 7);
        assert.match(err.message, /ipam\.onAddressChange/);
        assert.ok(err.message.includes(JSON.stringify(bad)), err.message);
      }
    }
  });

  it('the daemon checks it again on the RPC', () => {
    const p = { containerId: 'c1', netName: 'net1', ifname: 'eth1', netns: '/run/netns/x', provide: [], requestList: [] };
    assert.equal(addParams({ ...p, onAddressChange: 'release' }).onAddressChange, 'release');
    assert.equal(addParams(p).onAddressChange, undefined);
    assert.throws(() => addParams({ ...p, onAddressChange: 'x' }), InvalidParams);
  });

  it('the lease table shows from what and when the address changed, and what a LOST attachment was offered', () => {
    const now = 1_700_000_000_000;
    const view: LeaseView = {
      containerId: 'c1', netName: 'net1', ifname: 'net1', netns: '/run/netns/p', mac: '02:00:00:00:00:01', state: 'BOUND', xid: 1, expired: false,
      address: '198.18.1.9', prefixLength: 24, serverId: '198.18.1.1', changedFrom: '198.18.0.9/24', changedAt: now - 190_000,
    };
    assert.equal(changeCell(view, now), 'from 198.18.0.9/24 3m10s ago');
    assert.equal(leaseRows([view], now)[0]?.length, LEASE_HEADER.length);
    const lost: LeaseView = { ...view, state: 'LOST', address: '198.18.0.9', changedFrom: undefined, lost: { at: now - 5_000, offered: '198.18.1.9/24', reason: 'x' } };
    assert.equal(changeCell(lost, now), 'offered 198.18.1.9/24 (released) 5s ago');
    assert.equal(changeCell({ ...view, changedFrom: undefined }, now), '-');
  });
});
