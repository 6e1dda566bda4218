import assert from 'node:assert/strict';
import type { LeaseRecord } from '../../daemon/client/machine-types';
import { MessageType, Opt } from '../../daemon/dhcp4/types';
import { OFFERED_IP, SERVER_ID, makeNak } from '../helpers/dhcp-replies';
import { Harness, T0, messageType, ofType, optionIp, sends, sent, type HarnessOptions } from '../helpers/lease-machine-harness';

const NEW_IP = '198.18.1.9';
const NEW_ROUTER = '198.18.1.1';

/** A pod bound to OFFERED_IP, then NAKed at T1: the machine is back in SELECTING. */
function nakedAtRenewal(options: HarnessOptions = {}): { h: Harness; pod: LeaseRecord; discover: ReturnType<typeof sent> } {
  const h = new Harness(options);
  const pod = h.bind();
  h.fire();
  assert.equal(h.machine.state, 'RENEWING');
  const discover = sent(h.handle(makeNak({ xid: h.machine.xid, params: { serverId: SERVER_ID, message: 'lease not found' } })));
  return { h, pod, discover };
}

function renumbered(h: Harness) {
  h.offer({ yiaddr: NEW_IP, params: { routers: [NEW_ROUTER] } });
  return h.ack({ yiaddr: NEW_IP, params: { routers: [NEW_ROUTER] } });
}

describe('lease machine: after a NAK or an expiry, the same address first; another one moves the pod', () => {
  it("a NAK on renewal DISCOVERs at once with a new xid, asking for the pod's address (option 50)", () => {
    const { h, pod, discover } = nakedAtRenewal();
    assert.equal(h.machine.state, 'SELECTING');
    assert.equal(messageType(discover.msg), MessageType.DISCOVER);
    assert.equal(optionIp(discover.msg, Opt.REQUESTED_IP), pod.address);
    assert.equal(h.machine.podLease?.address, pod.address, 'the pod still carries it');
    // retransmissions ask for it too
    assert.equal(optionIp(sent(h.fire()).msg, Opt.REQUESTED_IP), pod.address);
  });

  it('a server that lost its database gives the address back: bound again, no change reported', () => {
    const { h, pod } = nakedAtRenewal();
    h.offer({ yiaddr: pod.address });
    const [b] = ofType(h.ack({ yiaddr: pod.address }), 'bound');
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(b?.lease.address, pod.address);
    assert.equal(b?.changedFrom, undefined);
    assert.equal(b?.lease.changedFrom, undefined);
  });

  it('another address is bound and reported as a change from the pod\'s lease, with when', () => {
    const { h, pod } = nakedAtRenewal();
    const actions = renumbered(h);
    const [b] = ofType(actions, 'bound');
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(b?.lease.address, NEW_IP);
    assert.deepEqual(b?.changedFrom, pod);
    assert.deepEqual(b?.lease.changedFrom, { address: OFFERED_IP, prefixLength: 24, at: h.now });
    assert.equal(h.machine.podLease?.address, NEW_IP, 'the edge moves the pod; from now on it carries the new address');
    assert.equal(sends(actions).length, 0);
  });

  it('the change stays on the lease through its renewals, and a later NAK asks for the new address', () => {
    const { h } = nakedAtRenewal();
    renumbered(h);
    const changedAt = h.now;
    h.fire();
    const [b] = ofType(h.ack({ yiaddr: NEW_IP }), 'bound');
    assert.equal(b?.renewed, true);
    assert.equal(b?.changedFrom, undefined, 'a renewal is no change');
    assert.deepEqual(b?.lease.changedFrom, { address: OFFERED_IP, prefixLength: 24, at: changedAt });
    h.fire();
    const again = sent(h.handle(makeNak({ xid: h.machine.xid })));
    assert.equal(optionIp(again.msg, Opt.REQUESTED_IP), NEW_IP);
  });

  it('the same address with another mask is a change too', () => {
    const { h, pod } = nakedAtRenewal();
    h.offer({ yiaddr: pod.address });
    const [b] = ofType(h.ack({ yiaddr: pod.address, params: { subnetMask: '255.255.0.0', prefixLength: 16 } }), 'bound');
    assert.equal(b?.changedFrom?.prefixLength, 24);
    assert.equal(b?.lease.prefixLength, 16);
  });

  it("at expiry the DISCOVER asks for the pod's address, and another address is a change", () => {
    const h = new Harness();
    const pod = h.bind({ params: { leaseTime: 60 } });
    const seen = h.runUntil(pod.boundAt + 60_000);
    assert.equal(ofType(seen, 'expired').length, 1);
    assert.equal(h.machine.state, 'EXPIRED');
    assert.equal(optionIp(sends(seen).at(-1)!.msg, Opt.REQUESTED_IP), pod.address);
    const [b] = ofType(renumbered(h), 'bound');
    assert.equal(b?.changedFrom?.address, pod.address);
  });

  it('after a restart past expiry, a NAKed INIT-REBOOT DISCOVERs for the stored address; another one is a change', () => {
    const h = new Harness();
    const stored: LeaseRecord = {
      address: OFFERED_IP, prefixLength: 24, serverId: SERVER_ID, boundAt: T0 - 7200_000,
      leaseTime: 3600, t1: 1800, t2: 3150, params: { rejected: [], routers: ['198.18.0.1'] },
    };
    h.handle({ type: 'resume', lease: stored });
    assert.equal(optionIp(sent(h.fire()).msg, Opt.REQUESTED_IP), OFFERED_IP);
    const discover = sent(h.handle(makeNak({ xid: h.machine.xid })));
    assert.equal(optionIp(discover.msg, Opt.REQUESTED_IP), OFFERED_IP);
    const [b] = ofType(renumbered(h), 'bound');
    assert.equal(b?.changedFrom?.address, OFFERED_IP);
  });

  it('the first lease of an ADD is never a change, even when it is not the address asked for', () => {
    const h = new Harness();
    h.start('198.18.0.99');
    h.offer();
    const [b] = ofType(h.ack(), 'bound');
    assert.equal(b?.changedFrom, undefined);
    assert.equal(b?.lease.changedFrom, undefined);
  });

  describe('onAddressChange "release"', () => {
    const release: HarnessOptions = { config: { onAddressChange: 'release' } };

    it('gives the new lease back (RELEASE from it to the server) and goes LOST, keeping the pod\'s lease', () => {
      const { h, pod } = nakedAtRenewal(release);
      const actions = renumbered(h);
      assert.equal(h.machine.state, 'LOST');
      assert.equal(ofType(actions, 'bound').length, 0, 'never reported as bound');
      const rel = sent(actions);
      assert.equal(messageType(rel.msg), MessageType.RELEASE);
      assert.equal(rel.msg.ciaddr, NEW_IP);
      assert.equal(rel.srcIp, NEW_IP);
      assert.equal(optionIp(rel.msg, Opt.SERVER_ID), SERVER_ID);
      const [lost] = ofType(actions, 'lost');
      assert.equal(lost?.offered?.address, NEW_IP);
      assert.equal(lost?.podLease.address, pod.address);
      assert.deepEqual(lost?.podLease.lost, { at: h.now, offered: `${NEW_IP}/24`, reason: lost?.reason });
      assert.match(lost?.reason ?? '', new RegExp(`${NEW_IP}/24 instead of the pod's ${OFFERED_IP}/24`));
      assert.equal(h.machine.lease, undefined);
      assert.equal(h.machine.podLease?.address, pod.address);
      assert.equal(h.machine.nextTimerAt, undefined);
    });

    it('LOST ignores packets and timers, and DEL sends nothing more', () => {
      const { h } = nakedAtRenewal(release);
      renumbered(h);
      assert.deepEqual(h.ack({ yiaddr: NEW_IP }).map((a) => a.type), ['ignored']);
      assert.deepEqual(h.handle({ type: 'timer' }).map((a) => a.type), ['ignored']);
      const actions = h.handle({ type: 'release' });
      assert.equal(sends(actions).length, 0);
      assert.equal(h.machine.state, 'RELEASED');
    });

    it('the same address back is no change: bound as usual', () => {
      const { h, pod } = nakedAtRenewal(release);
      h.offer({ yiaddr: pod.address });
      h.ack({ yiaddr: pod.address });
      assert.equal(h.machine.state, 'BOUND');
    });

    it('a restart resumes a LOST lease as LOST, sending nothing', () => {
      const { h } = nakedAtRenewal(release);
      const [lost] = ofType(renumbered(h), 'lost');
      const again = new Harness(release);
      again.now = h.now;
      const actions = again.handle({ type: 'resume', lease: lost!.podLease });
      assert.equal(again.machine.state, 'LOST');
      assert.equal(sends(actions).length, 0);
      assert.equal(again.machine.nextTimerAt, undefined);
      assert.equal(again.machine.podLease?.address, OFFERED_IP);
    });
  });

  it('abandon (the edge could not move the pod) releases the new lease and goes LOST with the pod\'s lease', () => {
    const { h, pod } = nakedAtRenewal();
    renumbered(h);
    const actions = h.handle({ type: 'abandon', podLease: pod, reason: 'RTM_NEWADDR: EPERM' });
    assert.equal(h.machine.state, 'LOST');
    assert.equal(sent(actions).msg.ciaddr, NEW_IP);
    const [lost] = ofType(actions, 'lost');
    assert.equal(lost?.podLease.address, pod.address);
    assert.equal(lost?.reason, 'RTM_NEWADDR: EPERM');
    assert.equal(h.machine.podLease?.lost?.offered, `${NEW_IP}/24`);
  });
});
