import assert from 'node:assert/strict';
import type { LeaseRecord } from '../../daemon/client/machine-types';
import { MIN_INTERVAL_MS } from '../../daemon/client/lease-timing';
import { MessageType, Opt } from '../../daemon/dhcp4/types';
import { OFFERED_IP, SERVER_ID } from '../helpers/dhcp-replies';
import { Harness, T0, messageType, ofType, optionIp, sent } from '../helpers/lease-machine-harness';

function probing(): Harness {
  const h = new Harness({ config: { probeAddress: true } });
  h.start();
  h.offer();
  return h;
}

describe('lease machine: ARP probe and DECLINE', () => {
  it('an ACK in REQUESTING asks for a probe and binds nothing, with no timer armed', () => {
    const h = probing();
    const actions = h.ack();
    assert.deepEqual(ofType(actions, 'probe'), [{ type: 'probe', address: OFFERED_IP }]);
    assert.equal(ofType(actions, 'bound').length, 0);
    assert.equal(h.machine.state, 'REQUESTING');
    assert.equal(h.machine.nextTimerAt, undefined);
    assert.deepEqual(h.handle({ type: 'timer' }).map((a) => a.type), ['ignored']);
    assert.deepEqual(h.ack().map((a) => a.type), ['ignored'], 'a duplicate ACK during the probe');
  });

  it('a clear probe binds the lease the ACK granted', () => {
    const h = probing();
    h.ack();
    const actions = h.handle({ type: 'probe-result', address: OFFERED_IP, conflict: false });
    const bound = ofType(actions, 'bound')[0];
    assert.equal(bound?.lease.address, OFFERED_IP);
    assert.equal(bound?.renewed, false);
    assert.equal(h.machine.state, 'BOUND');
  });

  it('a conflict sends DECLINE (ciaddr 0, option 50 and 54, broadcast) and DISCOVERs again without option 50', () => {
    const h = new Harness({ config: { probeAddress: true } });
    h.start('198.18.0.99');
    h.offer();
    h.ack();
    const xid = h.machine.xid;
    const actions = h.handle({ type: 'probe-result', address: OFFERED_IP, conflict: true });
    const [decline, discover] = ofType(actions, 'send');
    assert.ok(decline && discover);
    assert.equal(messageType(decline.msg), MessageType.DECLINE);
    assert.equal(decline.msg.xid, xid);
    assert.equal(decline.msg.ciaddr, '0.0.0.0');
    assert.equal(decline.msg.secs, 0);
    assert.equal(optionIp(decline.msg, Opt.REQUESTED_IP), OFFERED_IP);
    assert.equal(optionIp(decline.msg, Opt.SERVER_ID), SERVER_ID);
    assert.ok(decline.msg.options.has(Opt.CLIENT_ID));
    assert.equal(decline.msg.options.has(Opt.PARAMETER_REQUEST_LIST), false);
    assert.deepEqual([decline.srcIp, decline.dstIp, decline.dstMac], ['0.0.0.0', '255.255.255.255', undefined]);
    assert.equal(messageType(discover.msg), MessageType.DISCOVER);
    assert.notEqual(discover.msg.xid, xid);
    assert.equal(discover.msg.options.has(Opt.REQUESTED_IP), false, 'neither the declined nor the first wished-for address');
    assert.deepEqual(ofType(actions, 'transition').map((t) => t.to), ['INIT', 'SELECTING']);
    assert.equal(ofType(actions, 'bound').length, 0);
  });

  it('repeated conflicts back off; a bind resets the count', () => {
    const h = probing();
    h.ack();
    h.handle({ type: 'probe-result', address: OFFERED_IP, conflict: true });
    h.offer();
    h.ack();
    const second = h.handle({ type: 'probe-result', address: OFFERED_IP, conflict: true });
    assert.equal(messageType(sent(second).msg), MessageType.DECLINE);
    assert.equal(h.machine.state, 'INIT');
    assert.ok((h.machine.nextTimerAt ?? 0) >= h.now + MIN_INTERVAL_MS, 'the second restart waits');
    h.fire();
    assert.equal(h.machine.state, 'SELECTING');
    h.offer();
    h.ack();
    h.handle({ type: 'probe-result', address: OFFERED_IP, conflict: false });
    assert.equal(h.machine.state, 'BOUND');
  });

  it('renewals are never probed', () => {
    const h = new Harness({ config: { probeAddress: true } });
    h.start();
    h.offer();
    h.ack();
    h.handle({ type: 'probe-result', address: OFFERED_IP, conflict: false });
    h.fire();
    assert.equal(h.machine.state, 'RENEWING');
    const actions = h.ack();
    assert.equal(ofType(actions, 'probe').length, 0);
    assert.equal(ofType(actions, 'bound')[0]?.renewed, true);
  });

  it('an INIT-REBOOT ACK after a restart is probed too', () => {
    const h = new Harness({ config: { probeAddress: true } });
    const lease: LeaseRecord = {
      address: OFFERED_IP, prefixLength: 24, serverId: SERVER_ID, boundAt: T0 - 7_200_000,
      leaseTime: 3600, t1: 1800, t2: 3150, params: { rejected: [] },
    };
    h.handle({ type: 'resume', lease });
    h.fire();
    assert.equal(h.machine.state, 'REBOOTING');
    assert.deepEqual(ofType(h.ack(), 'probe'), [{ type: 'probe', address: OFFERED_IP }]);
  });

  it('a result for another address, or with no probe pending, is ignored; release during a probe sends nothing', () => {
    const h = probing();
    assert.deepEqual(h.handle({ type: 'probe-result', address: OFFERED_IP, conflict: true }).map((a) => a.type), ['ignored']);
    h.ack();
    assert.deepEqual(h.handle({ type: 'probe-result', address: '198.18.0.5', conflict: true }).map((a) => a.type), ['ignored']);
    const released = h.handle({ type: 'release' });
    assert.equal(ofType(released, 'send').length, 0);
    assert.equal(h.machine.state, 'RELEASED');
  });

  it('without probeAddress the ACK binds at once, as before', () => {
    const h = new Harness();
    h.start();
    h.offer();
    assert.equal(ofType(h.ack(), 'bound').length, 1);
  });
});
