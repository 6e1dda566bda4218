import assert from 'node:assert/strict';
import { REBOOT_MAX_ATTEMPTS, RESUME_SPREAD_MS } from '../../daemon/client/lease-machine';
import type { LeaseRecord } from '../../daemon/client/machine-types';
import { MessageType, Opt } from '../../daemon/dhcp4/types';
import { OTHER_SERVER_ID, SERVER_ID, SERVER_MAC, makeNak } from '../helpers/dhcp-replies';
import { Harness, T0, armedAt, messageType, ofType, optionIp, sent } from '../helpers/lease-machine-harness';

const OLD_IP = '198.18.0.77';

function stored(ageMs: number, overrides: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    address: OLD_IP,
    prefixLength: 24,
    serverId: SERVER_ID,
    serverMac: '52:54:00:12:34:56',
    boundAt: T0 - ageMs,
    leaseTime: 3600,
    t1: 1800,
    t2: 3150,
    params: { rejected: [] },
    ...overrides,
  };
}

function nak(h: Harness, serverId = SERVER_ID) {
  return h.handle(makeNak({ xid: h.machine.xid, params: { serverId } }));
}

describe('lease machine: NAK', () => {
  it('a NAK from the selected server goes back to INIT and DISCOVERs at once with a new xid', () => {
    const h = new Harness();
    h.start();
    h.offer();
    const xid = h.machine.xid;
    const actions = nak(h);
    assert.deepEqual(ofType(actions, 'nak'), [{ type: 'nak', serverId: SERVER_ID, message: 'wrong network' }]);
    assert.deepEqual(ofType(actions, 'transition').map((t) => [t.from, t.to]), [
      ['REQUESTING', 'INIT'],
      ['INIT', 'SELECTING'],
    ]);
    const send = sent(actions);
    assert.equal(messageType(send.msg), MessageType.DISCOVER);
    assert.notEqual(send.msg.xid, xid);
    assert.equal(send.msg.options.has(Opt.REQUESTED_IP), false);
  });

  it('NAK from another server is ignored', () => {
    const h = new Harness();
    h.start();
    h.offer();
    assert.deepEqual(nak(h, OTHER_SERVER_ID).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'REQUESTING');
  });

  it('NAK from another server than ours is ignored while RENEWING', () => {
    const h = new Harness();
    h.bind();
    h.fire();
    assert.deepEqual(nak(h, OTHER_SERVER_ID).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'RENEWING');
    assert.ok(h.machine.lease);
  });

  it('a NAK without a server id is ignored', () => {
    const h = new Harness();
    h.start();
    h.offer();
    const noServerId = makeNak({ xid: h.machine.xid, params: { serverId: undefined } });
    assert.deepEqual(h.handle(noServerId).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'REQUESTING');
  });

  it('a NAK from our server while RENEWING drops the lease', () => {
    const h = new Harness();
    h.bind();
    h.fire();
    nak(h);
    assert.equal(h.machine.state, 'SELECTING');
    assert.equal(h.machine.lease, undefined);
  });

  it('a NAK from any server counts while REBINDING', () => {
    const h = new Harness();
    const lease = h.bind();
    h.runUntil(lease.boundAt + lease.t2 * 1000);
    assert.equal(h.machine.state, 'REBINDING');
    assert.equal(ofType(nak(h, OTHER_SERVER_ID), 'nak').length, 1);
    assert.equal(h.machine.state, 'SELECTING');
  });

  it('repeated NAKs back off 1 s, doubling up to -resendmax, until a lease is bound', () => {
    const h = new Harness({ config: { resendMaxMs: 5_000 } });
    h.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      h.offer();
      const actions = nak(h);
      if (h.machine.state === 'INIT') {
        delays.push((armedAt(actions) ?? 0) - h.now);
        assert.equal(sent(h.fire()).msg.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.DISCOVER);
      } else {
        delays.push(0);
      }
      assert.equal(h.machine.state, 'SELECTING');
    }
    assert.deepEqual(delays, [0, 1000, 2000, 4000, 5000, 5000]);
    h.offer();
    h.ack();
    h.fire();
    nak(h);
    assert.equal(h.machine.state, 'SELECTING', 'the first NAK after a bind restarts at once');
  });

  it('a packet during the NAK back-off is ignored', () => {
    const h = new Harness();
    h.start();
    h.offer();
    nak(h);
    h.offer();
    nak(h);
    assert.equal(h.machine.state, 'INIT');
    assert.deepEqual(h.offer().map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'INIT');
  });
});

describe('lease machine: resume after a daemon restart', () => {
  it('before T1 it is BOUND with T1 armed and sends nothing', () => {
    const h = new Harness();
    const actions = h.handle({ type: 'resume', lease: stored(1000 * 1000) });
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(armedAt(actions), T0 - 1_000_000 + 1_800_000);
    assert.equal(ofType(actions, 'send').length, 0);
    assert.equal(h.machine.lease?.address, OLD_IP);
  });

  it('between T1 and T2 it is RENEWING and renews by unicast within the resume spread', () => {
    const h = new Harness();
    const resumed = h.handle({ type: 'resume', lease: stored(2000 * 1000) });
    assert.equal(ofType(resumed, 'send').length, 0, 'not in the same instant as every other lease');
    const at = armedAt(resumed) as number;
    assert.ok(at > T0 && at <= T0 + 1 + RESUME_SPREAD_MS, `renewal spread to ${at - T0} ms`);
    const send = sent(h.fire());
    assert.equal(h.machine.state, 'RENEWING');
    assert.equal(send.dstIp, SERVER_ID);
    assert.ok(send.dstMac?.equals(SERVER_MAC));
    assert.equal(send.msg.ciaddr, OLD_IP);
  });

  it('between T2 and expiry it is REBINDING and rebinds by broadcast within the resume spread', () => {
    const h = new Harness();
    const resumed = h.handle({ type: 'resume', lease: stored(3300 * 1000) });
    assert.equal(ofType(resumed, 'send').length, 0);
    assert.ok((armedAt(resumed) as number) <= T0 + 1 + RESUME_SPREAD_MS);
    const send = sent(h.fire());
    assert.equal(h.machine.state, 'REBINDING');
    assert.equal(send.dstIp, '255.255.255.255');
    assert.equal(send.msg.ciaddr, OLD_IP);
  });

  it('past expiry it reports the loss and sends an INIT-REBOOT REQUEST', () => {
    const h = new Harness();
    const resumed = h.handle({ type: 'resume', lease: stored(4000 * 1000) });
    assert.equal(h.machine.state, 'INIT_REBOOT');
    assert.equal(ofType(resumed, 'expired').length, 1);
    assert.equal(h.machine.lease, undefined);
    assert.ok((armedAt(resumed) as number) <= T0 + 1 + RESUME_SPREAD_MS);
    const actions = h.fire();
    assert.equal(h.machine.state, 'REBOOTING');
    assert.deepEqual(ofType([...resumed, ...actions], 'transition').map((t) => t.to), ['INIT_REBOOT', 'REBOOTING']);
    const send = sent(actions);
    assert.equal(optionIp(send.msg, Opt.REQUESTED_IP), OLD_IP);
    assert.equal(send.msg.options.has(Opt.SERVER_ID), false);
    assert.equal(send.msg.ciaddr, '0.0.0.0');
  });

  it('an ACK in REBOOTING binds, from whichever server answers', () => {
    const h = new Harness();
    h.handle({ type: 'resume', lease: stored(4000 * 1000) });
    h.fire();
    const [b] = ofType(h.ack({ yiaddr: OLD_IP, params: { serverId: OTHER_SERVER_ID } }), 'bound');
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(b?.lease.address, OLD_IP);
    assert.equal(b?.lease.serverId, OTHER_SERVER_ID);
  });

  it("a NAK in REBOOTING goes to DISCOVER still asking for the pod's address (option 50)", () => {
    const h = new Harness();
    h.handle({ type: 'resume', lease: stored(4000 * 1000) });
    h.fire();
    const send = sent(nak(h, OTHER_SERVER_ID));
    assert.equal(h.machine.state, 'SELECTING');
    assert.equal(optionIp(send.msg, Opt.REQUESTED_IP), OLD_IP);
  });

  it(`no answer to ${REBOOT_MAX_ATTEMPTS} INIT-REBOOT REQUESTs falls back to DISCOVER with the old address`, () => {
    const h = new Harness();
    h.handle({ type: 'resume', lease: stored(4000 * 1000) });
    h.fire();
    for (let i = 1; i < REBOOT_MAX_ATTEMPTS; i++) assert.equal(messageType(sent(h.fire()).msg), MessageType.REQUEST);
    const send = sent(h.fire());
    assert.equal(h.machine.state, 'EXPIRED');
    assert.equal(messageType(send.msg), MessageType.DISCOVER);
    assert.equal(optionIp(send.msg, Opt.REQUESTED_IP), OLD_IP);
  });

  it('an infinite stored lease resumes BOUND with no timer', () => {
    const h = new Harness();
    h.handle({ type: 'resume', lease: stored(1e10, { leaseTime: 0xffffffff, t1: 0xffffffff, t2: 0xffffffff }) });
    assert.equal(h.machine.state, 'BOUND');
    assert.equal(h.machine.nextTimerAt, undefined);
  });

  it('stored times are sanitized again on resume', () => {
    const h = new Harness();
    h.handle({ type: 'resume', lease: stored(10_000, { t1: 5000, t2: 4000 }) });
    const lease = h.machine.lease;
    assert.deepEqual([lease?.t1, lease?.t2, lease?.leaseTime], [1800, 3150, 3600]);
  });

  it('a stored lease without a usable address starts a plain DISCOVER', () => {
    const h = new Harness();
    const send = sent(h.handle({ type: 'resume', lease: stored(1000, { address: 'garbage' }) }));
    assert.equal(h.machine.state, 'SELECTING');
    assert.equal(send.msg.options.has(Opt.REQUESTED_IP), false);
  });

  it('resume after start is ignored', () => {
    const h = new Harness();
    h.start();
    assert.deepEqual(h.handle({ type: 'resume', lease: stored(1000) }).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'SELECTING');
  });
});
