import assert from 'node:assert/strict';
import { PacketIoError } from '../../daemon/io/errors';
import type { UdpSender } from '../../daemon/io/udp-socket';
import { silentLogger } from '../../daemon/log';
import { UnicastPath } from '../../daemon/unicast-path';

/** Stands in for the kernel: which sockets were opened, what each sent, which were closed. */
class FakeKernel {
  local = new Set<string>();
  sendFails = false;
  opened: Array<{ address: string; sent: string[]; closed: boolean }> = [];

  open = (_netns: string, _ifname: string, address: string): UdpSender => {
    if (!this.local.has(address)) throw new PacketIoError(`bind ${address}: EADDRNOTAVAIL`, 'EADDRNOTAVAIL', 'bind');
    const rec = { address, sent: [] as string[], closed: false };
    this.opened.push(rec);
    return {
      address,
      send: (payload, dstIp) => {
        if (this.sendFails) throw new PacketIoError('sendto: EINVAL', 'EINVAL', 'sendto');
        rec.sent.push(`${payload.toString()}->${dstIp}`);
      },
      close: () => {
        rec.closed = true;
      },
    };
  };
}

describe('unicast through the pod\'s routing (UnicastPath)', () => {
  const msg = Buffer.from('renew');

  it('opens the socket at the first send, then reuses it', () => {
    const k = new FakeKernel();
    k.local.add('198.18.0.5');
    const u = new UnicastPath('/run/netns/p', 'eth1', silentLogger, k.open);
    assert.equal(k.opened.length, 0, 'nothing at construction: the address may not be on the interface yet');
    assert.equal(u.send(msg, '198.18.0.5', '198.18.2.10'), true);
    assert.equal(u.send(msg, '198.18.0.5', '198.18.2.10'), true);
    assert.equal(k.opened.length, 1);
    assert.deepEqual(k.opened[0]?.sent, ['renew->198.18.2.10', 'renew->198.18.2.10']);
  });

  it('an address not on the pod\'s side falls back, and is tried again at the next send', () => {
    const k = new FakeKernel();
    const u = new UnicastPath('/run/netns/p', 'eth1', silentLogger, k.open);
    assert.equal(u.send(msg, '198.18.0.5', '198.18.2.10'), false);
    k.local.add('198.18.0.5');
    assert.equal(u.send(msg, '198.18.0.5', '198.18.2.10'), true);
  });

  it('a new leased address gets a new socket; the old one is closed', () => {
    const k = new FakeKernel();
    k.local.add('198.18.0.5').add('198.18.0.6');
    const u = new UnicastPath('/run/netns/p', 'eth1', silentLogger, k.open);
    u.send(msg, '198.18.0.5', '198.18.2.10');
    u.send(msg, '198.18.0.6', '198.18.2.10');
    assert.deepEqual(k.opened.map((o) => [o.address, o.closed]), [['198.18.0.5', true], ['198.18.0.6', false]]);
    u.close();
    assert.equal(k.opened[1]?.closed, true);
  });

  it('a failing send (the address was removed) closes the socket and falls back', () => {
    const k = new FakeKernel();
    k.local.add('198.18.0.5');
    const u = new UnicastPath('/run/netns/p', 'eth1', silentLogger, k.open);
    u.send(msg, '198.18.0.5', '198.18.2.10');
    k.sendFails = true;
    assert.equal(u.send(msg, '198.18.0.5', '198.18.2.10'), false);
    assert.equal(k.opened[0]?.closed, true);
    k.sendFails = false;
    assert.equal(u.send(msg, '198.18.0.5', '198.18.2.10'), true);
    assert.equal(k.opened.length, 2);
  });
});
