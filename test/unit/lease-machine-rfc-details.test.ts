import assert from 'node:assert/strict';
import { leaseDeadlines } from '../../daemon/client/lease-timing';
import { MessageType } from '../../daemon/dhcp4/types';
import { OFFERED_IP } from '../helpers/dhcp-replies';
import { Harness, T0, messageType, ofType, sent } from '../helpers/lease-machine-harness';

const OTHER_IP = '198.18.0.99';

describe('lease machine: RFC 2131 details', () => {
  it("the REQUEST in SELECTING carries the 'secs' of the DISCOVER whose OFFER it accepts, also when retransmitted", () => {
    const h = new Harness({ random: () => 0.5 });
    h.start();
    const second = sent(h.fire());
    assert.equal(messageType(second.msg), MessageType.DISCOVER);
    assert.equal(second.msg.secs, 2);
    h.now += 3_000;
    const request = sent(h.offer());
    assert.equal(messageType(request.msg), MessageType.REQUEST);
    assert.equal(request.msg.secs, 2, 'not the 5 s since the exchange began');
    assert.equal(sent(h.fire()).msg.secs, 2);
  });

  it('the lease starts when the last REQUEST left, not when the ACK arrived', () => {
    const h = new Harness({ random: () => 0.5 });
    h.start();
    h.offer();
    h.fire();
    const resentAt = h.now;
    h.now += 2_500;
    const [b] = ofType(h.ack(), 'bound');
    assert.equal(b?.lease.boundAt, resentAt);
    assert.equal(leaseDeadlines(b!.lease)?.expiresAt, resentAt + 3_600_000);
  });

  it('an ACK in REQUESTING for another address than the offered one is ignored and counted, the REQUEST goes on', () => {
    const h = new Harness();
    h.start();
    h.offer();
    const actions = h.ack({ yiaddr: OTHER_IP });
    assert.deepEqual(actions, [
      { type: 'ignored', reason: `ACK for ${OTHER_IP}, not the requested ${OFFERED_IP}`, label: 'ack-wrong-address' },
    ]);
    assert.equal(h.machine.state, 'REQUESTING');
    assert.equal(messageType(sent(h.fire()).msg), MessageType.REQUEST);
    h.ack();
    assert.equal(h.machine.lease?.address, OFFERED_IP);
  });

  it('an ACK in REBOOTING for another address than the remembered one is ignored and counted', () => {
    const h = new Harness();
    h.handle({
      type: 'resume',
      lease: { address: OFFERED_IP, prefixLength: 24, serverId: '198.18.0.1', boundAt: T0 - 7_200_000, leaseTime: 3600, t1: 1800, t2: 3150, params: { rejected: [] } },
    });
    h.fire();
    assert.equal(h.machine.state, 'REBOOTING');
    assert.deepEqual(ofType(h.ack({ yiaddr: OTHER_IP }), 'ignored').map((a) => a.label), ['ack-wrong-address']);
    assert.equal(h.machine.state, 'REBOOTING');
  });

  it('an ACK while RENEWING for another address is ignored and counted; the lease is kept', () => {
    const h = new Harness();
    h.bind();
    h.fire();
    assert.deepEqual(ofType(h.ack({ yiaddr: OTHER_IP }), 'ignored').map((a) => a.label), ['ack-wrong-address']);
    assert.equal(h.machine.state, 'RENEWING');
    assert.equal(h.machine.lease?.address, OFFERED_IP);
  });

  it('a 2 s lease expires 2 s after the REQUEST, and is renewed at 1 s, never held longer', () => {
    const h = new Harness();
    const lease = h.bind({ params: { leaseTime: 2 } });
    assert.equal(lease.leaseTime, 2);
    assert.deepEqual(leaseDeadlines(lease), { t1At: lease.boundAt + 1_000, t2At: lease.boundAt + 1_750, expiresAt: lease.boundAt + 2_000 });
    const renewal = h.fire();
    assert.equal(h.now, lease.boundAt + 1_000);
    assert.equal(messageType(sent(renewal).msg), MessageType.REQUEST);
    h.runUntil(lease.boundAt + 2_000);
    assert.equal(h.machine.state, 'EXPIRED');
  });

  it('a lease whose T1 is already past when the ACK arrives (tiny lease, slow answer) is renewed at once', () => {
    const h = new Harness({ random: () => 0.5 });
    h.start();
    h.offer();
    h.now += 1_500;
    const actions = h.ack({ params: { leaseTime: 2 } });
    const at = ofType(actions, 'arm').at(-1)?.at;
    assert.equal(at, h.now + 1);
    h.fire();
    assert.equal(h.machine.state, 'RENEWING');
  });
});
