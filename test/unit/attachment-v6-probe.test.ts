/**
 * The IPv6 driver (Family6) around the DAD probe and the address move, with a socket that
 * records what the machine sends and a probe whose verdict the test picks; the real codec and
 * machine. The move itself is real: a namespace path that does not exist makes it fail, as a
 * pod gone from under the daemon would.
 */
import { strict as assert } from 'node:assert';
import { Family6 } from '../../daemon/attachment-v6';
import type { ConflictVerdict } from '../../daemon/conflict-check';
import {
  MessageType6, Opt6, decodeIaNa, decodeMessage6, encodeIaNa, encodeMessage6, option6, type Dhcp6Message,
} from '../../daemon/dhcp6';
import { silentLogger } from '../../daemon/log';
import { noMetrics } from '../../daemon/metrics';
import type { Udp6Socket, OpenUdp6Options } from '../../daemon/io/udp6-socket';
import type { Lease6Record } from '../../daemon/client6/types6';
import type { AttachmentSpec } from '../../daemon/attachment-spec';

const SERVER = Buffer.from('000100012a2b2c2d525400123456', 'hex');
const MAC = Buffer.from('02a1b2c3d4e5', 'hex');

class Rig {
  sent: Dhcp6Message[] = [];
  probed: string[] = [];
  verdicts: ConflictVerdict[] = [];
  onMessage: OpenUdp6Options['onMessage'] | undefined;
  readonly family: Family6;

  constructor(stored?: Lease6Record) {
    const spec: AttachmentSpec = { containerId: 'c6d-unit', netName: 'net1', ifname: 'eth1', netns: '/nonexistent/c6d-netns', provide: [], requestList: [], ipv6PrefixLength: 64 };
    this.family = new Family6(spec, {
      log: silentLogger,
      metrics: noMetrics(),
      now: Date.now,
      persist: () => undefined,
      onGone: () => undefined,
      timeoutMs: 20_000,
      openSocket6: (o: OpenUdp6Options): Udp6Socket => {
        this.onMessage = o.onMessage;
        return {
          ifindex: 2,
          mac: MAC,
          dad: 'accept_dad=0',
          send: (p) => void this.sent.push(decodeMessage6(p) as Dhcp6Message),
          isRunning: () => true,
          peerSettled: () => true,
          close: () => undefined,
        };
      },
      dadCheck: (o) => {
        this.probed.push(o.address);
        const v = this.verdicts.shift() ?? { conflict: false };
        setImmediate(() => o.onDone(v));
        return () => undefined;
      },
    }, stored ? { lease6: stored } : undefined);
  }

  async next(type: number): Promise<Dhcp6Message> {
    for (let i = 0; i < 400; i++) {
      const m = this.sent.find((x) => x.type === type);
      if (m) {
        this.sent = this.sent.filter((x) => x !== m);
        return m;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no message of type ${type}; sent ${this.sent.map((x) => x.type).join(',')}`);
  }

  /** A Rapid Commit REPLY (or a REPLY to DECLINE/RELEASE when `address` is undefined). */
  reply(to: Dhcp6Message, address?: string): void {
    const clientId = to.options.find((o) => o.code === Opt6.CLIENTID)!.data;
    const options = [option6(Opt6.CLIENTID, clientId), option6(Opt6.SERVERID, SERVER)];
    if (address) {
      options.push(option6(Opt6.RAPID_COMMIT));
      options.push(option6(Opt6.IA_NA, encodeIaNa({ iaid: this.family.iaid, t1: 100, t2: 160, addresses: [{ address, preferredLifetime: 200, validLifetime: 300 }] })));
    }
    this.onMessage!(encodeMessage6({ kind: 'message', type: MessageType6.REPLY, xid: to.xid, options }), 'fe80::1', 547);
  }
}

describe('IPv6 driver: DAD probe and address move', () => {
  it('probes the first lease; a conflict DECLINEs it and the ADD is answered with the next, probed too', async () => {
    const rig = new Rig();
    rig.verdicts.push({ conflict: true, mac: Buffer.from('02ffeeddccbb', 'hex'), reason: 'Neighbour Advertisement from 2001:db8:5::100' });
    const added = rig.family.acquire();
    rig.reply(await rig.next(MessageType6.SOLICIT), '2001:db8:5::100');
    const decline = await rig.next(MessageType6.DECLINE);
    const ia = decodeIaNa(decline.options.find((o) => o.code === Opt6.IA_NA)!.data);
    assert.deepEqual(ia.addresses.map((a) => a.address), ['2001:db8:5::100']);
    assert.match(rig.family.lastError ?? '', /2001:db8:5::100 is in use by 02:ff:ee:dd:cc:bb/);
    rig.reply(decline);
    rig.reply(await rig.next(MessageType6.SOLICIT), '2001:db8:5::101');
    const lease = await added;
    assert.equal(lease.address, '2001:db8:5::101');
    assert.deepEqual(rig.probed, ['2001:db8:5::100', '2001:db8:5::101']);
    assert.equal(rig.family.lastError, undefined);
    assert.equal(rig.family.view().changedFrom, undefined, 'the first lease is not a change');
    rig.family.stop(new Error('done'));
  });

  it('"arpProbe": false takes the lease unprobed', async () => {
    const rig = new Rig();
    (rig.family.spec as AttachmentSpec).arpProbe = false;
    const added = rig.family.acquire();
    rig.reply(await rig.next(MessageType6.SOLICIT), '2001:db8:5::100');
    assert.equal((await added).address, '2001:db8:5::100');
    assert.deepEqual(rig.probed, []);
    rig.family.stop(new Error('done'));
  });

  it('another address after an expiry is probed, then moved onto the pod; when the move fails the new lease is RELEASEd and the pod record kept', async () => {
    const base = new Rig();
    const old: Lease6Record = {
      address: '2001:db8:5::100', iaid: base.family.iaid, duid: base.family.duid.toString('hex'), serverId: SERVER.toString('hex'),
      boundAt: Date.now() - 400_000, preferredLifetime: 200, validLifetime: 300, t1: 100, t2: 160,
    };
    base.family.stop(new Error('done'));
    const rig = new Rig(old);
    rig.family.resume(old);
    rig.reply(await rig.next(MessageType6.SOLICIT), '2001:db8:5::200');
    const release = await rig.next(MessageType6.RELEASE);
    const ia = decodeIaNa(release.options.find((o) => o.code === Opt6.IA_NA)!.data);
    assert.deepEqual(ia.addresses.map((a) => a.address), ['2001:db8:5::200']);
    assert.deepEqual(rig.probed, ['2001:db8:5::200']);
    assert.match(rig.family.lastError ?? '', /cannot move the pod from 2001:db8:5::100\/64 to 2001:db8:5::200\/64: .*; the new lease was released/);
    assert.equal(rig.family.current?.address, '2001:db8:5::100', 'the file keeps what the pod carries');
    rig.family.stop(new Error('done'));
  });
});
