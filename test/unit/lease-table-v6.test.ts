import { strict as assert } from 'node:assert';
import { leaseRows, LEASE_HEADER } from '../../cli/lease-table';
import type { LeaseView } from '../../shared/rpc-protocol';

describe('the lease table: the ipv6 row\'s address change', () => {
  it('shows from what and when the pod was moved, on the ipv6 row only', () => {
    const now = 1_700_000_000_000;
    const view: LeaseView = {
      containerId: 'c1', netName: 'net1', ifname: 'eth1', netns: '/run/netns/p', mac: '02:00:00:00:00:01', state: 'BOUND', xid: 1, expired: false,
      address: '198.18.1.9', prefixLength: 24, serverId: '198.18.1.1', families: ['ipv4', 'ipv6'],
      ipv6: { state: 'BOUND', xid: 2, duid: '0004aa', iaid: 7, address: '2001:db8:5::200', prefixLength: 64, serverId: '0001', changedFrom: '2001:db8:5::100/64', changedAt: now - 65_000 },
    };
    const rows = leaseRows([view], now);
    assert.equal(rows.length, 2);
    assert.equal(rows[0]?.at(-1), '-', 'the IPv4 lease did not change');
    assert.equal(rows[1]?.[4], 'ipv6');
    assert.equal(rows[1]?.at(-1), 'from 2001:db8:5::100/64 1m05s ago');
    assert.equal(rows[1]?.length, LEASE_HEADER.length);
    assert.equal(leaseRows([{ ...view, ipv6: { ...view.ipv6!, changedFrom: undefined, changedAt: undefined } }], now)[1]?.at(-1), '-');
  });
});
