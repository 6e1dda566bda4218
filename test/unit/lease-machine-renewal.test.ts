import assert from 'node:assert/strict';
import { MessageType, Opt } from '../../daemon/dhcp4/types';
import { OFFERED_IP, OTHER_SERVER_ID, SERVER_ID, SERVER_MAC } from '../helpers/dhcp-replies';
import { Harness, armedAt, messageType, ofType, optionIp, sends, sent } from '../helpers/lease-machine-harness';

const T1 = 1_800_000;
const T2 = 3_150_000;
const LEASE = 3_600_000;

function bound(options: ConstructorParameters<typeof Harness>[0] = {}): { h: Harness; boundAt: number } {
  const h = new Harness(options);
  const lease = h.bind();
  return { h, boundAt: lease.boundAt };
}

describe('lease machine: renewal, rebinding, expiry', () => {
  it('at T1 a REQUEST goes by unicast to the server, from the leased address', () => {
    const { h, boundAt } = bound();
    const actions = h.fire();
    assert.equal(h.now, boundAt + T1);
    assert.equal(h.machine.state, 'RENEWING');
    const send = sent(actions);
    assert.equal(messageType(send.msg), MessageType.REQUEST);
    assert.equal(send.srcIp, OFFERED_IP);
    assert.equal(send.dstIp, SERVER_ID);
    assert.ok(send.dstMac?.equals(SERVER_MAC));
    assert.equal(send.msg.ciaddr, OFFERED_IP);
    assert.equal(send.msg.options.has(Opt.REQUESTED_IP), false);
    assert.equal(send.msg.options.has(Opt.SERVER_ID), false);
    assert.equal(send.msg.secs, 1);
  });

  it('without a known server MAC the renewal goes to the Ethernet broadcast address', () => {
    const h = new Harness();
    h.bind({ srcMac: null });
    const send = sent(h.fire());
    assert.equal(send.dstMac, undefined);
    assert.equal(send.dstIp, SERVER_ID);
  });

  it('renewal retries wait half the time left until T2, at least 60 s, and never past T2', () => {
    const { h, boundAt } = bound();
    h.fire();
    const retries: number[] = [];
    while (h.machine.state === 'RENEWING') {
      retries.push((h.machine.nextTimerAt ?? 0) - boundAt);
      h.fire();
    }
    // T1 = 1800 s, T2 = 3150 s: 675 s left → 2475, then 3150-2475=675/2 ... until 60 s steps, last one lands on T2
    assert.deepEqual(retries.slice(0, 3), [2_475_000, 2_812_500, 2_981_250]);
    for (let i = 1; i < retries.length; i++) {
      const step = (retries[i] ?? 0) - (retries[i - 1] ?? 0);
      assert.ok(step >= 60_000 || retries[i] === T2, `step ${step}`);
    }
    assert.equal(retries.at(-1), T2);
    assert.equal(h.machine.state, 'REBINDING');
  });

  it('an ACK while RENEWING extends the lease from when the renewal REQUEST left and re-arms T1', () => {
    const { h, boundAt } = bound();
    h.fire();
    h.now += 250;
    const actions = h.ack({ params: { leaseTime: 7200 } });
    assert.equal(h.machine.state, 'BOUND');
    const [b] = ofType(actions, 'bound');
    assert.equal(b?.renewed, true);
    assert.equal(b?.lease.boundAt, boundAt + T1);
    assert.equal(b?.lease.leaseTime, 7200);
    assert.equal(armedAt(actions), boundAt + T1 + 3_600_000);
  });

  it('a renewal ACK without subnet mask or server id keeps the lease values', () => {
    const { h } = bound();
    h.fire();
    const actions = h.ack({ params: { subnetMask: undefined, prefixLength: undefined, serverId: undefined }, srcMac: null });
    const [b] = ofType(actions, 'bound');
    assert.equal(b?.lease.prefixLength, 24);
    assert.equal(b?.lease.serverId, SERVER_ID);
    assert.equal(b?.lease.serverMac, '52:54:00:12:34:56');
  });

  it('an ACK from another server while RENEWING is ignored', () => {
    const { h } = bound();
    h.fire();
    assert.deepEqual(h.ack({ params: { serverId: OTHER_SERVER_ID } }).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'RENEWING');
  });

  it('an ACK for another address than the lease is ignored', () => {
    const { h } = bound();
    h.fire();
    assert.deepEqual(h.ack({ yiaddr: '198.18.0.99' }).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'RENEWING');
  });

  it('at T2 a REQUEST is broadcast with ciaddr set, not a DISCOVER', () => {
    const { h, boundAt } = bound();
    const renewXid = (h.fire(), h.machine.xid);
    const out = h.runUntil(boundAt + T2);
    assert.equal(h.machine.state, 'REBINDING');
    const send = sends(out).at(-1) ?? assert.fail('no send');
    assert.equal(messageType(send.msg), MessageType.REQUEST);
    assert.notEqual(send.msg.xid, renewXid);
    assert.equal(send.msg.ciaddr, OFFERED_IP);
    assert.equal(send.srcIp, OFFERED_IP);
    assert.equal(send.dstIp, '255.255.255.255');
    assert.equal(send.dstMac, undefined);
    assert.equal(send.msg.options.has(Opt.REQUESTED_IP), false);
    assert.equal(send.msg.options.has(Opt.SERVER_ID), false);
    assert.equal(send.msg.flags, 0);
  });

  it('rebinding retries wait half the time left until expiry, at least 60 s, never past it', () => {
    const { h, boundAt } = bound();
    h.runUntil(boundAt + T2);
    const retries: number[] = [];
    while (h.machine.state === 'REBINDING') {
      retries.push((h.machine.nextTimerAt ?? 0) - boundAt);
      h.fire();
    }
    assert.deepEqual(retries, [3_375_000, 3_487_500, 3_547_500, LEASE]);
  });

  it('an ACK from any server while REBINDING is accepted and becomes our server', () => {
    const { h, boundAt } = bound();
    h.runUntil(boundAt + T2);
    const actions = h.ack({ params: { serverId: OTHER_SERVER_ID } });
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(ofType(actions, 'bound')[0]?.lease.serverId, OTHER_SERVER_ID);
  });

  it('at expiry the lease is reported expired and DISCOVER asks for the old address', () => {
    const { h, boundAt } = bound();
    const out = h.runUntil(boundAt + LEASE);
    assert.equal(h.machine.state, 'EXPIRED');
    assert.equal(h.machine.lease, undefined);
    assert.equal(ofType(out, 'expired')[0]?.lease.address, OFFERED_IP);
    const send = sends(out).at(-1) ?? assert.fail('no send');
    assert.equal(messageType(send.msg), MessageType.DISCOVER);
    assert.equal(optionIp(send.msg, Opt.REQUESTED_IP), OFFERED_IP);
    assert.equal(send.msg.ciaddr, '0.0.0.0');
    assert.equal(send.srcIp, '0.0.0.0');
    assert.equal(send.msg.flags, 0x8000);
  });

  it('after expiry DISCOVER goes on forever, restarting exchanges, every interval within -resendmax', () => {
    const { h, boundAt } = bound({ config: { resendMaxMs: 20_000, resendTimeoutMs: 60_000 } });
    h.runUntil(boundAt + LEASE);
    const xids = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const before = h.now;
      const send = sent(h.fire());
      assert.ok(h.now - before <= 20_000);
      assert.equal(optionIp(send.msg, Opt.REQUESTED_IP), OFFERED_IP);
      xids.add(send.msg.xid);
    }
    assert.equal(h.machine.state, 'EXPIRED');
    assert.ok(xids.size > 10, `only ${xids.size} exchanges`);
  });

  it('after expiry an OFFER and ACK bind again', () => {
    const { h, boundAt } = bound();
    h.runUntil(boundAt + LEASE);
    h.offer();
    assert.equal(h.machine.state, 'REQUESTING');
    const [b] = ofType(h.ack(), 'bound');
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(b?.renewed, false);
  });

  it('a timer that fires after T2 has passed goes straight to REBINDING', () => {
    const { h, boundAt } = bound();
    h.now = boundAt + T2 + 5000;
    h.handle({ type: 'timer' });
    assert.equal(h.machine.state, 'REBINDING');
  });

  it('a timer that fires early is ignored and re-armed for the same instant', () => {
    const { h } = bound();
    const at = h.machine.nextTimerAt;
    const actions = h.handle({ type: 'timer' });
    assert.deepEqual(actions.map((a) => a.type), ['ignored', 'arm']);
    assert.equal(armedAt(actions), at);
    assert.equal(h.machine.state, 'BOUND');
  });
});

describe('lease machine: release and stop', () => {
  for (const where of ['BOUND', 'RENEWING', 'REBINDING'] as const) {
    it(`release in ${where} sends RELEASE by unicast and stops`, () => {
      const { h, boundAt } = bound();
      if (where === 'RENEWING') h.fire();
      if (where === 'REBINDING') h.runUntil(boundAt + T2);
      assert.equal(h.machine.state, where);
      const actions = h.handle({ type: 'release' });
      const send = sent(actions);
      assert.equal(messageType(send.msg), MessageType.RELEASE);
      assert.equal(send.srcIp, OFFERED_IP);
      assert.equal(send.dstIp, SERVER_ID);
      assert.ok(send.dstMac?.equals(SERVER_MAC));
      assert.equal(h.machine.state, 'RELEASED');
      assert.equal(h.machine.nextTimerAt, undefined);
      assert.equal(ofType(actions, 'disarm').length, 1);
    });
  }

  it('release in SELECTING sends nothing and stops', () => {
    const h = new Harness();
    h.start();
    const actions = h.handle({ type: 'release' });
    assert.equal(sends(actions).length, 0);
    assert.equal(h.machine.state, 'RELEASED');
    assert.equal(h.machine.nextTimerAt, undefined);
  });

  it('stop sends nothing, disarms and is final', () => {
    const { h } = bound();
    const actions = h.handle({ type: 'stop' });
    assert.deepEqual(actions.map((a) => a.type), ['transition', 'disarm']);
    assert.equal(h.machine.state, 'STOPPED');
    assert.deepEqual(h.handle({ type: 'release' }).map((a) => a.type), ['ignored']);
    assert.deepEqual(h.handle({ type: 'start' }).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'STOPPED');
  });

  it('after RELEASED every event is ignored', () => {
    const { h } = bound();
    h.handle({ type: 'release' });
    for (const event of [{ type: 'timer' }, { type: 'stop' }, { type: 'release' }] as const) {
      assert.deepEqual(h.handle(event).map((a) => a.type), ['ignored']);
    }
    assert.deepEqual(h.ack().map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'RELEASED');
  });
});
