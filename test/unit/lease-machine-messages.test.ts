import assert from 'node:assert/strict';
import type { LeaseRecord } from '../../daemon/client/machine-types';
import { MessageType, Opt } from '../../daemon/dhcp4/types';
import { OFFERED_IP, SERVER_ID } from '../helpers/dhcp-replies';
import { Harness, T0, messageType, optionIp, sent, type SendAction } from '../helpers/lease-machine-harness';

const OLD_IP = '198.18.0.77';

function storedLease(boundAt: number): LeaseRecord {
  return {
    address: OLD_IP,
    prefixLength: 24,
    serverId: SERVER_ID,
    serverMac: '52:54:00:12:34:56',
    boundAt,
    leaseTime: 3600,
    t1: 1800,
    t2: 3150,
    params: { rejected: [] },
  };
}

/** One message of each kind, produced by driving the machine into the state that sends it. */
/** A restart resumes the lease, and the packet already due goes out when the spread timer fires. */
function resumedThenFired(lease: LeaseRecord): SendAction {
  const h = new Harness();
  assert.equal(h.handle({ type: 'resume', lease }).filter((a) => a.type === 'send').length, 0);
  return sent(h.fire());
}

const producers: Record<string, () => SendAction> = {
  DISCOVER: () => sent(new Harness().start()),
  'REQUEST (REQUESTING)': () => {
    const h = new Harness();
    h.start();
    return sent(h.offer());
  },
  'REQUEST (INIT-REBOOT)': () => resumedThenFired(storedLease(T0 - 4_000_000)),
  'REQUEST (RENEWING)': () => {
    const h = new Harness();
    h.bind();
    return sent(h.fire());
  },
  'REQUEST (REBINDING)': () => resumedThenFired(storedLease(T0 - 3_200_000)),
  RELEASE: () => {
    const h = new Harness();
    h.bind();
    return sent(h.handle({ type: 'release' }));
  },
};

interface Expected {
  type: number;
  ciaddr: 'zero' | 'address';
  opt50: string | undefined;
  opt54: string | undefined;
  unicast: boolean;
  prl: boolean;
}

const table: Record<string, Expected> = {
  DISCOVER: { type: MessageType.DISCOVER, ciaddr: 'zero', opt50: undefined, opt54: undefined, unicast: false, prl: true },
  'REQUEST (REQUESTING)': { type: MessageType.REQUEST, ciaddr: 'zero', opt50: OFFERED_IP, opt54: SERVER_ID, unicast: false, prl: true },
  'REQUEST (INIT-REBOOT)': { type: MessageType.REQUEST, ciaddr: 'zero', opt50: OLD_IP, opt54: undefined, unicast: false, prl: true },
  'REQUEST (RENEWING)': { type: MessageType.REQUEST, ciaddr: 'address', opt50: undefined, opt54: undefined, unicast: true, prl: true },
  'REQUEST (REBINDING)': { type: MessageType.REQUEST, ciaddr: 'address', opt50: undefined, opt54: undefined, unicast: false, prl: true },
  RELEASE: { type: MessageType.RELEASE, ciaddr: 'address', opt50: undefined, opt54: SERVER_ID, unicast: true, prl: false },
};

describe('lease machine: fields of each message', () => {
  for (const [name, expected] of Object.entries(table)) {
    it(`${name}: ciaddr ${expected.ciaddr}, option 50 ${expected.opt50 ?? 'absent'}, option 54 ${expected.opt54 ?? 'absent'}, ${expected.unicast ? 'unicast' : 'broadcast'}`, () => {
      const produce = producers[name] ?? assert.fail(name);
      const send = produce();
      const { msg } = send;
      assert.equal(messageType(msg), expected.type);
      const held = name.includes('REBINDING') ? OLD_IP : OFFERED_IP;
      assert.equal(msg.ciaddr, expected.ciaddr === 'zero' ? '0.0.0.0' : held);
      assert.equal(send.srcIp, expected.ciaddr === 'zero' ? '0.0.0.0' : held);
      assert.equal(optionIp(msg, Opt.REQUESTED_IP), expected.opt50);
      assert.equal(optionIp(msg, Opt.SERVER_ID), expected.opt54);
      assert.equal(send.dstIp, expected.unicast ? SERVER_ID : '255.255.255.255');
      assert.equal(msg.options.has(Opt.CLIENT_ID), true, 'client id in every message');
      assert.equal(msg.options.has(Opt.PARAMETER_REQUEST_LIST), expected.prl);
      assert.equal(msg.options.has(Opt.MAX_MESSAGE_SIZE), expected.prl);
      assert.equal(msg.op, 1);
      assert.equal(msg.htype, 1);
      assert.equal(msg.hlen, 6);
      assert.equal(msg.yiaddr, '0.0.0.0');
      if (expected.type === MessageType.RELEASE) assert.equal(msg.secs, 0);
      else assert.ok(msg.secs >= 1, 'secs is never 0');
    });
  }

  it('RELEASE carries only message type, server id and client id', () => {
    const msg = (producers.RELEASE ?? assert.fail())().msg;
    assert.deepEqual([...msg.options.keys()], [Opt.MESSAGE_TYPE, Opt.SERVER_ID, Opt.CLIENT_ID]);
    assert.equal(msg.flags, 0);
  });

  it('DISCOVER and every REQUEST send the same parameter request list', () => {
    const lists = Object.entries(producers)
      .filter(([name]) => name !== 'RELEASE')
      .map(([, produce]) => [...(produce().msg.options.get(Opt.PARAMETER_REQUEST_LIST) ?? [])]);
    for (const list of lists) assert.deepEqual(list, [1, 3, 6, 15, 119, 121]);
  });
});
