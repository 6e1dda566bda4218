import assert from 'node:assert/strict';
import { acquireBroadcastOf } from '../../daemon/pod-address';

describe('the broadcast flag before BOUND, from the pod link kind', () => {
  it('ipvlan and ipvtap (slaves share the master MAC) always set it', () => {
    assert.equal(acquireBroadcastOf({ ok: true, kind: 'ipvlan' }), 'always');
    assert.equal(acquireBroadcastOf({ ok: true, kind: 'ipvtap' }), 'always');
  });

  it('veth, macvlan, macvtap, vlan, a NIC without a kind: alternate', () => {
    for (const kind of ['veth', 'macvlan', 'macvtap', 'vlan', 'bond', undefined]) {
      assert.equal(acquireBroadcastOf({ ok: true, kind }), 'alternate', String(kind));
    }
  });

  it('a kind that could not be read, or a socket that has none (tests): always, as before', () => {
    assert.equal(acquireBroadcastOf({ ok: false, error: 'ENODEV' }), 'always');
    assert.equal(acquireBroadcastOf(undefined), 'always');
  });
});
