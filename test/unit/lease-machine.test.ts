import assert from 'node:assert/strict';
import { REQUEST_MAX_ATTEMPTS } from '../../daemon/client/lease-machine';
import { MessageType, Opt } from '../../daemon/dhcp4/types';
import { OFFERED_IP, OTHER_SERVER_ID, SERVER_ID, SERVER_MAC } from '../helpers/dhcp-replies';
import { Harness, T0, armedAt, messageType, ofType, optionIp, sends, sent } from '../helpers/lease-machine-harness';

describe('lease machine: acquisition', () => {
  it('start sends a broadcast DISCOVER from 0.0.0.0 and enters SELECTING', () => {
    const h = new Harness();
    const actions = h.start();
    assert.equal(h.machine.state, 'SELECTING');
    assert.deepEqual(ofType(actions, 'transition').map((t) => [t.from, t.to]), [['INIT', 'SELECTING']]);
    const send = sent(actions);
    assert.equal(messageType(send.msg), MessageType.DISCOVER);
    assert.equal(send.srcIp, '0.0.0.0');
    assert.equal(send.dstIp, '255.255.255.255');
    assert.equal(send.dstMac, undefined);
    assert.equal(send.msg.op, 1);
    assert.equal(send.msg.xid, h.machine.xid);
    assert.equal(send.msg.ciaddr, '0.0.0.0');
    assert.ok(send.msg.chaddr.equals(h.config.chaddr));
  });

  it('DISCOVER carries client id, max size, the parameter list and the provided options', () => {
    const h = new Harness();
    const { msg } = sent(h.start());
    assert.deepEqual([...msg.options.keys()], [53, 61, 57, 55, 12]);
    assert.ok(msg.options.get(Opt.CLIENT_ID)?.equals(h.config.clientId));
    assert.equal(msg.options.get(Opt.MAX_MESSAGE_SIZE)?.readUInt16BE(0), 1472);
    assert.deepEqual([...(msg.options.get(Opt.PARAMETER_REQUEST_LIST) ?? [])], h.config.paramRequestList);
    assert.equal(msg.options.get(Opt.HOST_NAME)?.toString(), 'pod-a');
    assert.equal(msg.options.has(Opt.REQUESTED_IP), false);
  });

  it('a requested address goes into DISCOVER as option 50', () => {
    const h = new Harness();
    assert.equal(optionIp(sent(h.start('198.18.0.99')).msg, Opt.REQUESTED_IP), '198.18.0.99');
  });

  it('provided options cannot override the protocol options', () => {
    const provide = new Map([
      [Opt.MESSAGE_TYPE, Buffer.from([7])],
      [Opt.SERVER_ID, Buffer.from([1, 2, 3, 4])],
      [Opt.USER_CLASS, Buffer.from('gold')],
    ]);
    const h = new Harness({ config: { provide } });
    const { msg } = sent(h.start());
    assert.equal(messageType(msg), MessageType.DISCOVER);
    assert.equal(msg.options.has(Opt.SERVER_ID), false);
    assert.equal(msg.options.get(Opt.USER_CLASS)?.toString(), 'gold');
  });

  it('DISCOVER is retransmitted with the same xid at 2, 4, 8, 16, 32, 64 s ±1 s, capped at -resendmax', () => {
    const h = new Harness({ seed: 7, config: { resendMaxMs: 62_000, resendTimeoutMs: 1e9 } });
    h.start();
    const xid = h.machine.xid;
    const intervals: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = h.now;
      const at = h.machine.nextTimerAt ?? assert.fail('no timer');
      intervals.push(at - before);
      const send = sent(h.fire());
      assert.equal(send.msg.xid, xid);
      assert.equal(messageType(send.msg), MessageType.DISCOVER);
    }
    [2000, 4000, 8000, 16000, 32000].forEach((base, i) => {
      const got = intervals[i] ?? 0;
      assert.ok(got >= base - 1000 && got <= base + 1000, `interval ${i} = ${got}`);
    });
    for (const got of intervals.slice(5)) assert.ok(got >= 61_000 && got <= 62_000, `capped interval ${got}`);
  });

  it('secs counts the seconds since the exchange began and is never 0', () => {
    const h = new Harness({ random: () => 0.5 });
    assert.equal(sent(h.start()).msg.secs, 1);
    assert.equal(sent(h.fire()).msg.secs, 2);
    assert.equal(sent(h.fire()).msg.secs, 6);
  });

  it('after -resendtimeout the exchange restarts with a new xid', () => {
    const h = new Harness({ random: () => 0.5, config: { resendTimeoutMs: 30_000 } });
    h.start();
    const first = h.machine.xid;
    const xids = new Set<number>();
    const out = h.runUntil(T0 + 30_000);
    for (const s of sends(out)) xids.add(s.msg.xid);
    assert.equal(h.machine.state, 'SELECTING');
    assert.notEqual(h.machine.xid, first);
    const last = sends(out).at(-1) ?? assert.fail('no send');
    assert.equal(last.msg.xid, h.machine.xid);
    assert.equal(last.msg.secs, 1);
    assert.deepEqual(sends(out).slice(0, -1).map((s) => s.msg.xid), [first, first, first]);
    assert.equal(ofType(out, 'transition').length, 0);
  });

  it('the first valid OFFER leads to a broadcast REQUEST naming the offered address and server', () => {
    const h = new Harness();
    h.start();
    const xid = h.machine.xid;
    const actions = h.offer();
    assert.equal(h.machine.state, 'REQUESTING');
    const send = sent(actions);
    assert.equal(messageType(send.msg), MessageType.REQUEST);
    assert.equal(send.msg.xid, xid);
    assert.equal(send.msg.ciaddr, '0.0.0.0');
    assert.equal(optionIp(send.msg, Opt.REQUESTED_IP), OFFERED_IP);
    assert.equal(optionIp(send.msg, Opt.SERVER_ID), SERVER_ID);
    assert.equal(send.dstIp, '255.255.255.255');
    assert.equal(send.srcIp, '0.0.0.0');
    assert.deepEqual([...(send.msg.options.get(Opt.PARAMETER_REQUEST_LIST) ?? [])], h.config.paramRequestList);
    assert.equal(h.offer({ params: { serverId: OTHER_SERVER_ID } })[0]?.type, 'ignored');
  });

  it('an OFFER without a server id or with yiaddr 0.0.0.0 is ignored', () => {
    const h = new Harness();
    h.start();
    assert.equal(h.offer({ params: { serverId: undefined } })[0]?.type, 'ignored');
    assert.equal(h.offer({ yiaddr: '0.0.0.0' })[0]?.type, 'ignored');
    assert.equal(h.machine.state, 'SELECTING');
  });

  it(`REQUEST is retried ${REQUEST_MAX_ATTEMPTS} times in all, then DISCOVER starts over with a new xid`, () => {
    const h = new Harness();
    h.start();
    h.offer();
    const xid = h.machine.xid;
    for (let i = 1; i < REQUEST_MAX_ATTEMPTS; i++) {
      const send = sent(h.fire());
      assert.equal(messageType(send.msg), MessageType.REQUEST);
      assert.equal(send.msg.xid, xid);
    }
    const actions = h.fire();
    assert.equal(h.machine.state, 'SELECTING');
    const send = sent(actions);
    assert.equal(messageType(send.msg), MessageType.DISCOVER);
    assert.notEqual(send.msg.xid, xid);
  });

  it('an ACK binds the lease, which starts when the REQUEST left (RFC 2131 4.4.1), and arms T1', () => {
    const h = new Harness();
    h.start();
    h.offer();
    const requestSentAt = h.now;
    h.now += 1500;
    const actions = h.ack({ params: { routers: ['198.18.0.254'] } });
    assert.equal(h.machine.state, 'BOUND');
    const [bound] = ofType(actions, 'bound');
    assert.ok(bound);
    assert.equal(bound.renewed, false);
    assert.deepEqual(
      { ...bound.lease, params: undefined },
      {
        address: OFFERED_IP,
        prefixLength: 24,
        serverId: SERVER_ID,
        serverMac: '52:54:00:12:34:56',
        boundAt: requestSentAt,
        leaseTime: 3600,
        t1: 1800,
        t2: 3150,
        params: undefined,
      },
    );
    assert.deepEqual(bound.lease.params.routers, ['198.18.0.254']);
    assert.equal(armedAt(actions), requestSentAt + 1_800_000);
    assert.deepEqual(h.machine.lease, bound.lease);
    assert.equal(sends(actions).length, 0);
  });

  it('an ACK from another server than the selected one is ignored', () => {
    const h = new Harness();
    h.start();
    h.offer();
    const actions = h.ack({ params: { serverId: OTHER_SERVER_ID } });
    assert.deepEqual(actions.map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'REQUESTING');
  });

  it('an ACK without a subnet mask is a bad reply on the first bind and changes nothing', () => {
    const h = new Harness();
    h.start();
    h.offer();
    const timer = h.machine.nextTimerAt;
    const actions = h.ack({ params: { subnetMask: undefined, prefixLength: undefined } });
    assert.deepEqual(actions.map((a) => a.type), ['bad-reply']);
    assert.equal(h.machine.state, 'REQUESTING');
    assert.equal(h.machine.nextTimerAt, timer);
  });

  it('an ACK without a server id is a bad reply on the first bind', () => {
    const h = new Harness();
    h.start();
    h.offer();
    assert.deepEqual(h.ack({ params: { serverId: undefined } }).map((a) => a.type), ['bad-reply']);
    assert.equal(h.machine.state, 'REQUESTING');
  });

  it('by default ("always") the broadcast flag is set until BOUND and cleared for the renewal', () => {
    const h = new Harness();
    assert.equal(sent(h.start()).msg.flags, 0x8000);
    assert.equal(sent(h.offer()).msg.flags, 0x8000);
    h.ack();
    assert.equal(sent(h.fire()).msg.flags, 0);
  });

  describe('"alternate" broadcast flag (links that carry a frame unicast to the pod MAC)', () => {
    const flagOf = (a: ReturnType<Harness['start']>) => sent(a).msg.flags;

    it('DISCOVER asks for a unicast reply first, and each retransmission flips the flag', () => {
      const h = new Harness({ config: { acquireBroadcast: 'alternate', resendTimeoutMs: 1e9 } });
      const flags = [flagOf(h.start())];
      for (let i = 0; i < 5; i++) flags.push(flagOf(h.fire()));
      assert.deepEqual(flags, [0, 0x8000, 0, 0x8000, 0, 0x8000]);
    });

    it('an OFFER for the unflagged DISCOVER: the REQUEST goes unflagged, its retransmission flagged', () => {
      const h = new Harness({ config: { acquireBroadcast: 'alternate' } });
      h.start();
      assert.equal(flagOf(h.offer()), 0);
      assert.equal(flagOf(h.fire()), 0x8000);
      assert.equal(flagOf(h.fire()), 0);
    });

    it('an OFFER that came after a flagged retransmission: the REQUEST keeps the flag first', () => {
      const h = new Harness({ config: { acquireBroadcast: 'alternate' } });
      h.start();
      assert.equal(flagOf(h.fire()), 0x8000);
      assert.equal(flagOf(h.offer()), 0x8000);
      assert.equal(flagOf(h.fire()), 0);
      h.ack();
      assert.equal(h.machine.state, 'BOUND');
    });

    it('a new exchange (budget spent) starts unflagged again', () => {
      const h = new Harness({ config: { acquireBroadcast: 'alternate', resendTimeoutMs: 10_000 } });
      h.start();
      const xid = h.machine.xid;
      const flags: number[] = [];
      while (h.machine.xid === xid) flags.push(flagOf(h.fire()));
      assert.equal(flags.at(-1), 0, 'the first send with the new xid');
    });

    it('the renewal is unicast without the flag, and -broadcast overrides "alternate"', () => {
      const h = new Harness({ config: { acquireBroadcast: 'alternate' } });
      h.bind();
      assert.equal(flagOf(h.fire()), 0);
      const b = new Harness({ config: { acquireBroadcast: 'alternate', alwaysBroadcast: true } });
      assert.equal(flagOf(b.start()), 0x8000);
      assert.equal(flagOf(b.fire()), 0x8000);
    });
  });

  it('-broadcast keeps the broadcast flag on after BOUND', () => {
    const h = new Harness({ config: { alwaysBroadcast: true } });
    h.bind();
    assert.equal(sent(h.fire()).msg.flags, 0x8000);
  });

  it('an infinite lease binds with no timer at all', () => {
    const h = new Harness();
    h.start();
    h.offer();
    const actions = h.ack({ params: { leaseTime: 0xffffffff } });
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(h.machine.nextTimerAt, undefined);
    assert.equal(ofType(actions, 'arm').length, 0);
    assert.equal(ofType(actions, 'disarm').length, 1);
    assert.equal(h.machine.lease?.leaseTime, 0xffffffff);
  });

  it('a server MAC comes from the ACK frame, and is absent when the edge gives none', () => {
    const h = new Harness();
    const lease = h.bind({ srcMac: null });
    assert.equal(lease.serverMac, undefined);
    const g = new Harness();
    assert.equal(g.bind({ srcMac: SERVER_MAC }).serverMac, '52:54:00:12:34:56');
  });

  it('every transition names its reason and the current xid', () => {
    const h = new Harness();
    h.bind();
    const transitions = ofType(h.log, 'transition');
    assert.deepEqual(transitions.map((t) => t.to), ['SELECTING', 'REQUESTING', 'BOUND']);
    for (const t of transitions) {
      assert.ok(t.reason.length > 0);
      assert.equal(t.xid, h.machine.xid);
    }
  });

  it('each exchange gets a new xid: DISCOVER, RENEWING, REBINDING', () => {
    const h = new Harness();
    h.bind();
    const selecting = h.machine.xid;
    h.fire();
    const renewing = h.machine.xid;
    h.runUntil(h.machine.lease ? h.machine.lease.boundAt + h.machine.lease.t2 * 1000 : 0);
    assert.equal(h.machine.state, 'REBINDING');
    assert.equal(new Set([selecting, renewing, h.machine.xid]).size, 3);
  });
});
