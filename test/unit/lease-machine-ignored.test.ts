import assert from 'node:assert/strict';
import { MessageType } from '../../daemon/dhcp4/types';
import { makeAck, makeNak, makeOffer, makeReply, type PacketEvent } from '../helpers/dhcp-replies';
import { Harness } from '../helpers/lease-machine-harness';

type Setup = (h: Harness) => void;

const selecting: Setup = (h) => h.start();
const requesting: Setup = (h) => {
  h.start();
  h.offer();
};
const bound: Setup = (h) => h.bind();
const renewing: Setup = (h) => {
  h.bind();
  h.fire();
};

const cases: Array<{ title: string; setup: Setup; packet: (xid: number) => PacketEvent }> = [
  { title: 'an OFFER with the wrong xid', setup: selecting, packet: (xid) => makeOffer({ xid: xid + 1 }) },
  {
    title: 'an OFFER for another chaddr',
    setup: selecting,
    packet: (xid) => makeOffer({ xid, chaddr: Buffer.from([2, 0, 0, 0, 0, 9]) }),
  },
  { title: 'a BOOTREQUEST (op 1)', setup: selecting, packet: (xid) => makeOffer({ xid, op: 1 }) },
  { title: 'an ACK while SELECTING', setup: selecting, packet: (xid) => makeAck({ xid }) },
  { title: 'a NAK while SELECTING', setup: selecting, packet: (xid) => makeNak({ xid }) },
  { title: 'a DISCOVER looped back', setup: selecting, packet: (xid) => makeReply(MessageType.DISCOVER, {}, { xid }) },
  {
    title: 'a reply without a message type',
    setup: selecting,
    packet: (xid) => makeOffer({ xid, params: { messageType: undefined } }),
  },
  { title: 'a second OFFER while REQUESTING', setup: requesting, packet: (xid) => makeOffer({ xid }) },
  { title: 'an ACK with the wrong xid while REQUESTING', setup: requesting, packet: (xid) => makeAck({ xid: xid ^ 0xff }) },
  { title: 'an ACK with yiaddr 0.0.0.0', setup: requesting, packet: (xid) => makeAck({ xid, yiaddr: '0.0.0.0' }) },
  { title: 'an ACK while BOUND', setup: bound, packet: (xid) => makeAck({ xid }) },
  { title: 'a NAK while BOUND', setup: bound, packet: (xid) => makeNak({ xid }) },
  { title: 'an OFFER while RENEWING', setup: renewing, packet: (xid) => makeOffer({ xid }) },
  { title: 'an ACK before start', setup: () => undefined, packet: (xid) => makeAck({ xid }) },
];

describe('lease machine: ignored packets leave the state unchanged', () => {
  for (const { title, setup, packet } of cases) {
    it(`${title} is ignored`, () => {
      const h = new Harness();
      setup(h);
      const before = {
        state: h.machine.state,
        xid: h.machine.xid,
        timer: h.machine.nextTimerAt,
        lease: h.machine.lease,
      };
      const actions = h.handle(packet(h.machine.xid));
      assert.equal(actions.length, 1);
      assert.equal(actions[0]?.type, 'ignored');
      assert.ok(actions[0]?.type === 'ignored' && actions[0].reason.length > 0);
      assert.deepEqual(
        { state: h.machine.state, xid: h.machine.xid, timer: h.machine.nextTimerAt, lease: h.machine.lease },
        before,
      );
    });
  }

  it('a timer with none armed is ignored', () => {
    const h = new Harness();
    assert.deepEqual(h.handle({ type: 'timer' }).map((a) => a.type), ['ignored']);
    assert.equal(h.machine.state, 'INIT');
  });

  it('a second start is ignored', () => {
    const h = new Harness();
    h.start();
    const xid = h.machine.xid;
    assert.deepEqual(h.start().map((a) => a.type), ['ignored']);
    assert.equal(h.machine.xid, xid);
  });
});
