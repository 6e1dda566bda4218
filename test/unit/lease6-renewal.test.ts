import assert from 'node:assert/strict';
import { ALL_DHCP_SERVERS, INFINITY6, MessageType6, Opt6, Status6 } from '../../daemon/dhcp6';
import { Harness6, SERVER_A, SERVER_B, SERVER_MAC, T0, elapsedOf, iaOf, ofType6, opt, sends6, sent6 } from '../helpers/lease6-harness';

describe('dhcp6 lease machine: renewal, rebinding, expiry, status codes', () => {
  it('RENEW at T1 by multicast when the server granted no unicast; REBIND at T2 without a Server ID; new xid each', () => {
    const h = new Harness6();
    h.bind();
    const renew = sent6(h.fire());
    assert.equal(h.now, T0 + 100_000);
    assert.equal(h.machine.state, 'RENEWING');
    assert.equal(renew.msg.type, MessageType6.RENEW);
    assert.equal(renew.dst, ALL_DHCP_SERVERS);
    assert.deepEqual(opt(renew.msg, Opt6.SERVERID), SERVER_A);
    assert.deepEqual(iaOf(renew.msg)?.addresses.map((a) => a.address), ['2001:db8:5::142']);
    assert.equal(elapsedOf(renew.msg), 0);
    const renewXid = renew.msg.xid;
    const during = sends6(h.runUntil(T0 + 160_000 - 1));
    assert.ok(during.length >= 2 && during.every((s) => s.msg.xid === renewXid && s.msg.type === MessageType6.RENEW), 'retransmitted with its xid');
    const rebind = sends6(h.runUntil(T0 + 160_000));
    assert.equal(h.machine.state, 'REBINDING');
    assert.equal(rebind[0]?.msg.type, MessageType6.REBIND);
    assert.notEqual(rebind[0]?.msg.xid, renewXid);
    assert.equal(opt(rebind[0]!.msg, Opt6.SERVERID), undefined);
    assert.equal(rebind[0]?.dst, ALL_DHCP_SERVERS);
  });

  it('RENEW goes unicast to the option 12 address (to the server MAC) when granted', () => {
    const h = new Harness6();
    h.bind({ unicast: '2001:db8:5::1' });
    const renew = sent6(h.fire());
    assert.equal(renew.dst, '2001:db8:5::1');
    assert.deepEqual(renew.dstMac, SERVER_MAC);
  });

  it('UseMulticast on a unicast RENEW: resent at once by multicast, and from then on', () => {
    const h = new Harness6();
    h.bind({ unicast: '2001:db8:5::1' });
    const xid = sent6(h.fire()).msg.xid;
    const again = sent6(h.reply({ status: { code: Status6.USE_MULTICAST, message: '' }, ia: null }));
    assert.equal(again.dst, ALL_DHCP_SERVERS);
    assert.equal(again.msg.xid, xid);
    assert.equal(sent6(h.fire()).dst, ALL_DHCP_SERVERS);
  });

  it('a REPLY to RENEW renews: new boundAt, renewed = true, T1 armed again', () => {
    const h = new Harness6();
    h.bind();
    h.fire();
    h.now += 2000;
    const bound = ofType6(h.reply({ valid: 600, preferred: 400, ia: { t1: 0, t2: 0 } }), 'bound')[0];
    assert.equal(bound?.renewed, true);
    assert.equal(bound?.lease.boundAt, T0 + 102_000);
    assert.deepEqual([bound?.lease.t1, bound?.lease.t2], [200, 320], 'T1/T2 0 → 0.5/0.8 of preferred');
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(h.machine.nextTimerAt, T0 + 102_000 + 200_000);
  });

  it('REBIND answered by another server moves the lease to it', () => {
    const h = new Harness6();
    h.bind();
    h.runUntil(T0 + 160_000);
    assert.equal(h.machine.state, 'REBINDING');
    const bound = ofType6(h.reply({ serverId: SERVER_B }), 'bound')[0];
    assert.equal(bound?.lease.serverId, SERVER_B.toString('hex'));
  });

  it('no answer until the valid lifetime ends: expired, never BOUND past it, SOLICIT again without a deadline', () => {
    const h = new Harness6();
    const lease = h.bind();
    const actions = h.runUntil(T0 + 300_000);
    const expired = ofType6(actions, 'expired');
    assert.equal(expired.length, 1);
    assert.equal(expired[0]?.lease.address, lease.address);
    assert.equal(h.machine.state, 'SOLICITING');
    assert.equal(h.machine.lease, undefined);
    h.runUntil(T0 + 400_000);
    assert.equal(h.machine.state, 'SOLICITING', 'background SOLICIT does not give up');
    assert.equal(ofType6(h.log, 'gave-up').length, 0);
  });

  it('NoBinding in a RENEW or REBIND reply: REQUEST for the held address to that server, keeping the lease', () => {
    for (const at of [100_000, 160_000]) {
      const h = new Harness6();
      h.bind();
      h.runUntil(T0 + at);
      const s = sent6(h.reply({ serverId: SERVER_B, ia: { addresses: [], status: { code: Status6.NO_BINDING, message: '' } } }));
      assert.equal(h.machine.state, 'REQUESTING');
      assert.equal(s.msg.type, MessageType6.REQUEST);
      assert.deepEqual(opt(s.msg, Opt6.SERVERID), SERVER_B);
      assert.deepEqual(iaOf(s.msg)?.addresses.map((a) => a.address), ['2001:db8:5::142']);
      assert.ok(h.machine.lease, 'still held');
      assert.equal(ofType6(h.reply({ serverId: SERVER_B }), 'bound')[0]?.renewed, true);
      // and with no answer the lease still ends at its valid lifetime
      const g = new Harness6();
      g.bind();
      g.runUntil(T0 + at);
      g.reply({ ia: { addresses: [], status: { code: Status6.NO_BINDING, message: '' } } });
      g.runUntil(T0 + 300_000);
      assert.equal(ofType6(g.log, 'expired').length, 1);
      assert.equal(g.machine.state, 'SOLICITING');
    }
  });

  it('NotOnLink in a RENEW reply: the address is lost, SOLICIT', () => {
    const h = new Harness6();
    h.bind();
    h.fire();
    const a = h.reply({ status: { code: Status6.NOT_ON_LINK, message: 'wrong link' }, ia: null });
    assert.match(ofType6(a, 'expired')[0]!.reason, /not on link/);
    assert.equal(h.machine.state, 'SOLICITING');
  });

  it('NoAddrsAvail and UnspecFail in a RENEW reply are ignored; retransmission carries on', () => {
    const h = new Harness6();
    h.bind();
    h.fire();
    for (const spec of [{ ia: { addresses: [], status: { code: Status6.NO_ADDRS_AVAIL, message: '' } } }, { status: { code: Status6.UNSPEC_FAIL, message: '' } }]) {
      const a = h.reply(spec);
      assert.equal(ofType6(a, 'ignored').length, 1);
      assert.equal(h.machine.state, 'RENEWING');
    }
  });

  it('infinite lifetimes: BOUND with no timer', () => {
    const h = new Harness6();
    h.bind({ preferred: INFINITY6, valid: INFINITY6, ia: { t1: INFINITY6, t2: INFINITY6 } });
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(h.machine.nextTimerAt, undefined);
  });
});

describe('dhcp6 lease machine: release, decline, resume', () => {
  it('RELEASE names the server and the address, retransmits up to REL_MAX_RC (4), then RELEASED', () => {
    const h = new Harness6();
    h.bind();
    const s = sent6(h.handle({ type: 'release' }));
    assert.equal(s.msg.type, MessageType6.RELEASE);
    assert.deepEqual(opt(s.msg, Opt6.SERVERID), SERVER_A);
    assert.deepEqual(iaOf(s.msg)?.addresses.map((a) => a.address), ['2001:db8:5::142']);
    assert.equal(h.machine.state, 'RELEASING');
    assert.equal(sends6(h.runUntil(T0 + 60_000)).length, 3);
    assert.equal(h.machine.state, 'RELEASED');
    const g = new Harness6();
    g.bind();
    g.handle({ type: 'release' });
    g.reply({ ia: null, status: { code: 0, message: '' } });
    assert.equal(g.machine.state, 'RELEASED');
    const idle = new Harness6();
    idle.handle({ type: 'start' });
    assert.equal(sends6(idle.handle({ type: 'release' })).length, 0, 'nothing bound: nothing to release');
    assert.equal(idle.machine.state, 'RELEASED');
  });

  it('dad-failed for our address: declined, DECLINE sent, then SOLICIT again', () => {
    const h = new Harness6();
    const lease = h.bind();
    assert.equal(ofType6(h.handle({ type: 'dad-failed', address: '2001:db8:5::99' }), 'ignored').length, 1);
    const a = h.handle({ type: 'dad-failed', address: lease.address });
    assert.equal(ofType6(a, 'declined')[0]?.lease.address, lease.address);
    const s = sent6(a);
    assert.equal(s.msg.type, MessageType6.DECLINE);
    assert.deepEqual(iaOf(s.msg)?.addresses.map((x) => x.address), [lease.address]);
    assert.equal(h.machine.state, 'DECLINING');
    assert.equal(h.machine.lease, undefined);
    h.reply({ ia: null });
    assert.equal(h.machine.state, 'SOLICITING');
    assert.equal(sent6(h.fire()).msg.type, MessageType6.SOLICIT);
  });

  it('resume picks BOUND, RENEWING, REBINDING or a new SOLICIT from the clock', () => {
    const base = new Harness6();
    const lease = base.bind();
    const cases: Array<[number, string, number | undefined]> = [
      [50_000, 'BOUND', undefined], [120_000, 'RENEWING', MessageType6.RENEW], [200_000, 'REBINDING', MessageType6.REBIND], [400_000, 'SOLICITING', MessageType6.SOLICIT],
    ];
    for (const [after, state, first] of cases) {
      const h = new Harness6({ seed: after });
      h.now = T0 + after;
      const a = h.handle({ type: 'resume', lease });
      assert.equal(h.machine.state, state, `after ${after}`);
      assert.equal(sends6(a).length, 0, 'due exchanges are spread, not sent at once');
      if (first === undefined) {
        assert.equal(h.machine.nextTimerAt, T0 + 100_000);
        continue;
      }
      assert.ok(h.machine.nextTimerAt! - h.now <= 5_000);
      assert.equal(sent6(h.fire()).msg.type, first);
      if (state === 'SOLICITING') assert.equal(ofType6(a, 'expired').length, 1);
    }
  });

  it('resume refuses a stored lease of another DUID or IAID, or with broken times, and SOLICITs', () => {
    const base = new Harness6();
    const lease = base.bind();
    for (const bad of [{ ...lease, duid: '0003' }, { ...lease, iaid: lease.iaid ^ 1 }, { ...lease, t1: 999 }, { ...lease, address: 'x' }, { ...lease, boundAt: Number.NaN }]) {
      const h = new Harness6();
      h.handle({ type: 'resume', lease: bad });
      assert.equal(h.machine.state, 'SOLICITING');
      assert.equal(h.machine.lease, undefined);
    }
  });
});
