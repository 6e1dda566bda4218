import assert from 'node:assert/strict';
import { ALL_DHCP_SERVERS, MessageType6, Opt6, Status6, decodeOro } from '../../daemon/dhcp6';
import { Harness6, IAID, SERVER_A, SERVER_B, T0, elapsedOf, iaOf, ofType6, opt, sends6, sent6 } from '../helpers/lease6-harness';

describe('dhcp6 lease machine: acquisition', () => {
  it('SOLICIT carries Client ID, an empty IA_NA with our IAID, ORO 23/24, Elapsed Time 0, to ff02::1:2', () => {
    const h = new Harness6();
    const s = sent6(h.handle({ type: 'start' }));
    assert.equal(h.machine.state, 'SOLICITING');
    assert.equal(s.msg.type, MessageType6.SOLICIT);
    assert.equal(s.dst, ALL_DHCP_SERVERS);
    assert.deepEqual(s.dstMac, Buffer.from([0x33, 0x33, 0, 1, 0, 2]));
    assert.deepEqual(opt(s.msg, Opt6.CLIENTID), h.config.duid);
    assert.deepEqual(iaOf(s.msg), { iaid: IAID, t1: 0, t2: 0, addresses: [] });
    assert.deepEqual(decodeOro(opt(s.msg, Opt6.ORO)!), [23, 24]);
    assert.equal(elapsedOf(s.msg), 0);
    assert.equal(opt(s.msg, Opt6.RAPID_COMMIT), undefined);
    assert.equal(opt(s.msg, Opt6.SERVERID), undefined);
  });

  it('the first SOLICIT waits a random delay up to solicitDelayMs when configured', () => {
    const h = new Harness6({ config: { solicitDelayMs: 1000 }, random: () => 0.5 });
    const a = h.handle({ type: 'start' });
    assert.equal(sends6(a).length, 0);
    assert.equal(h.machine.nextTimerAt, T0 + 500);
    const s = sent6(h.fire());
    assert.equal(elapsedOf(s.msg), 0, 'elapsed counts from the first transmission, not the delay');
  });

  it('preference 255 is taken at once; REQUEST names the server and the address, with a new xid', () => {
    const h = new Harness6();
    h.handle({ type: 'start' });
    const solicitXid = h.machine.xid;
    const s = sent6(h.advertise({ preference: 255, serverId: SERVER_B, address: '2001:db8:5::177' }));
    assert.equal(h.machine.state, 'REQUESTING');
    assert.equal(s.msg.type, MessageType6.REQUEST);
    assert.notEqual(s.msg.xid, solicitXid);
    assert.deepEqual(opt(s.msg, Opt6.SERVERID), SERVER_B);
    assert.deepEqual(iaOf(s.msg)?.addresses.map((a) => a.address), ['2001:db8:5::177']);
    assert.equal(elapsedOf(s.msg), 0);
  });

  it('other ADVERTISEs are collected until the first RT is over, then the highest preference wins', () => {
    const h = new Harness6();
    h.handle({ type: 'start' });
    assert.equal(sends6(h.advertise({ preference: 5, serverId: SERVER_A, address: '2001:db8:5::1a' })).length, 0);
    assert.equal(sends6(h.advertise({ preference: 9, serverId: SERVER_B, address: '2001:db8:5::1b' })).length, 0);
    assert.equal(sends6(h.advertise({ preference: 9, serverId: Buffer.from('0003000102030405', 'hex') })).length, 0);
    assert.equal(h.machine.state, 'SOLICITING');
    const s = sent6(h.fire());
    assert.equal(s.msg.type, MessageType6.REQUEST);
    assert.deepEqual(opt(s.msg, Opt6.SERVERID), SERVER_B, 'first of the highest preference');
  });

  it('after the first RT without an ADVERTISE, SOLICIT is retransmitted with the same xid, and the next ADVERTISE is taken at once', () => {
    const h = new Harness6();
    h.handle({ type: 'start' });
    const xid = h.machine.xid;
    h.now += 300;
    const again = sent6(h.fire());
    assert.equal(again.msg.type, MessageType6.SOLICIT);
    assert.equal(again.msg.xid, xid);
    assert.ok(elapsedOf(again.msg) > 100 && elapsedOf(again.msg) <= 140, String(elapsedOf(again.msg)));
    assert.equal(sent6(h.advertise({ preference: 0 })).msg.type, MessageType6.REQUEST);
  });

  it('REPLY binds: lease with sanitized lifetimes, DNS, the server MAC; T1 armed', () => {
    const h = new Harness6();
    const lease = h.bind({ dns: ['2001:db8:5::53'], unicast: '2001:db8:5::1' });
    assert.equal(h.machine.state, 'BOUND');
    assert.deepEqual(lease, {
      address: '2001:db8:5::142', iaid: IAID, duid: h.config.duid.toString('hex'), serverId: SERVER_A.toString('hex'),
      boundAt: T0, preferredLifetime: 200, validLifetime: 300, t1: 100, t2: 160,
      serverUnicast: '2001:db8:5::1', serverMac: '52:54:00:12:34:56', dnsServers: ['2001:db8:5::53'],
    });
    assert.equal(h.machine.nextTimerAt, T0 + 100_000);
    assert.equal(ofType6(h.log, 'bound')[0]?.renewed, false);
  });

  it('Rapid Commit: SOLICIT carries option 14, a REPLY with 14 binds at once; without 14 it is ignored', () => {
    const h = new Harness6({ config: { rapidCommit: true } });
    const s = sent6(h.handle({ type: 'start' }));
    assert.deepEqual(opt(s.msg, Opt6.RAPID_COMMIT), Buffer.alloc(0));
    assert.equal(ofType6(h.reply({}), 'ignored').length, 1, 'REPLY without Rapid Commit');
    assert.equal(h.machine.state, 'SOLICITING');
    assert.equal(ofType6(h.reply({ rapidCommit: true }), 'bound').length, 1);
    assert.equal(h.machine.state, 'BOUND');
    const plain = new Harness6();
    plain.handle({ type: 'start' });
    assert.equal(ofType6(plain.reply({ rapidCommit: true }), 'ignored').length, 1, 'we did not ask for Rapid Commit');
  });

  it('a Rapid Commit REPLY with NoAddrsAvail is ignored like an empty ADVERTISE (no SOLICIT storm)', () => {
    const h = new Harness6({ config: { rapidCommit: true } });
    h.handle({ type: 'start' });
    const a = h.reply({ rapidCommit: true, ia: { addresses: [], status: { code: Status6.NO_ADDRS_AVAIL, message: '' } } });
    assert.equal(sends6(a).length, 0);
    assert.equal(h.machine.state, 'SOLICITING');
  });

  it('ADVERTISEs with NoAddrsAvail, no usable address, T1 > T2, or another IAID are ignored', () => {
    const h = new Harness6();
    h.handle({ type: 'start' });
    const ignored = (spec: Parameters<Harness6['advertise']>[0]) => {
      const a = h.advertise({ preference: 255, ...spec });
      assert.equal(sends6(a).length, 0, JSON.stringify(spec));
      assert.equal(ofType6(a, 'ignored').length, 1);
    };
    ignored({ status: { code: Status6.NO_ADDRS_AVAIL, message: 'none' } });
    ignored({ ia: { addresses: [], status: { code: Status6.NO_ADDRS_AVAIL, message: '' } } });
    ignored({ ia: { addresses: [] } });
    ignored({ preferred: 500, valid: 300 });
    ignored({ valid: 0, preferred: 0 });
    ignored({ address: 'fe80::1' });
    ignored({ ia: { t1: 200, t2: 100 } });
    ignored({ ia: { iaid: IAID ^ 1 } });
    assert.equal(h.machine.state, 'SOLICITING');
  });

  it('wrong xid, a foreign or missing Client ID, or no Server ID are ignored', () => {
    const h = new Harness6();
    h.handle({ type: 'start' });
    for (const spec of [{ xid: (h.machine.xid + 1) & 0xffffff }, { clientId: SERVER_B }, { clientId: null }, { serverId: null }]) {
      const a = h.advertise({ preference: 255, ...spec });
      assert.equal(sends6(a).length, 0);
      assert.match(ofType6(a, 'ignored')[0]!.reason, /xid|Client ID|Server ID/);
    }
    assert.equal(ofType6(h.reply({ type: MessageType6.RECONFIGURE }), 'ignored').length, 1);
  });

  it('REQUEST retransmits with its xid up to REQ_MAX_RC (10), then SOLICITs anew', () => {
    const h = new Harness6({ config: { acquireTimeoutMs: undefined } });
    h.handle({ type: 'start' });
    h.advertise({ preference: 255 });
    const xid = h.machine.xid;
    const all = sends6(h.runUntil(T0 + 500_000).slice(0, 40));
    const requests = all.filter((s) => s.msg.type === MessageType6.REQUEST);
    assert.equal(requests.length, 9, 'nine retransmissions after the first');
    assert.ok(requests.every((s) => s.msg.xid === xid));
    const next = all[requests.length];
    assert.equal(next?.msg.type, MessageType6.SOLICIT);
    assert.notEqual(next?.msg.xid, xid);
    const elapsed = requests.map((s) => elapsedOf(s.msg));
    assert.ok(elapsed.every((e, i) => i === 0 || e > elapsed[i - 1]!), 'elapsed grows within the exchange');
  });

  it('a REQUEST answered with NoAddrsAvail or NotOnLink goes back to SOLICIT after a short random delay', () => {
    for (const status of [Status6.NO_ADDRS_AVAIL, Status6.NOT_ON_LINK]) {
      const h = new Harness6();
      h.handle({ type: 'start' });
      h.advertise({ preference: 255 });
      const a = h.reply({ ia: { addresses: [], status: { code: status, message: '' } } });
      assert.equal(h.machine.state, 'SOLICITING');
      assert.equal(sends6(a).length, 0);
      assert.equal(sent6(h.fire()).msg.type, MessageType6.SOLICIT);
      assert.ok(h.now - T0 <= 1001);
    }
  });

  it('the acquisition deadline (-timeout) bounds retransmission: gave-up, STOPPED, no send after it', () => {
    const h = new Harness6({ config: { acquireTimeoutMs: 10_000 } });
    h.handle({ type: 'start' });
    const actions = h.runUntil(T0 + 60_000);
    assert.equal(h.machine.state, 'STOPPED');
    assert.equal(ofType6(actions, 'gave-up').length, 1);
    const arms = ofType6(h.log, 'arm').map((a) => a.at);
    assert.ok(arms.every((at) => at <= T0 + 10_000), 'no timer past the deadline');
    assert.equal(sends6(h.log).length, 4, 'SOLICIT at 0, ~1.05, ~3.1, ~7.3 s');
    assert.equal(h.machine.nextTimerAt, undefined);
  });
});
