import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deadlines6 } from '../../daemon/client6/timing6';
import type { Lease6Record, Lease6State, Machine6Action, Machine6Event } from '../../daemon/client6/types6';
import { INFINITY6, MessageType6 } from '../../daemon/dhcp6';
import { Harness6, IAID, SERVER_A, SERVER_B, T0, elapsedOf, makeReply6, sends6, type ReplySpec6 } from '../helpers/lease6-harness';

const inf = (s: number) => (s === INFINITY6 ? Infinity : s);
const seconds = fc.oneof(fc.nat(0xffffffff), fc.constantFrom(0, 1, 2, 10, 30, 60, 3600, 0xfffffffe, INFINITY6));
const addresses = fc.constantFrom('2001:db8:5::142', '2001:db8:5::143', 'fe80::1', '::', 'ff02::1');
/** undefined 9 times in 10 */
const rarely = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });
const status = fc.option(fc.record({ code: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 99), message: fc.constant('') }), { nil: undefined });

const wildPacket = fc.record({
  type: fc.constant('packet' as const),
  /** 0: what the state waits for */
  messageType: fc.constantFrom(0, 0, 0, 2, 7, 7, 10, 13),
  ourXid: fc.constantFrom(true, true, true, false),
  ours: fc.constantFrom(true, true, true, false),
  server: fc.constantFrom(SERVER_A, SERVER_A, SERVER_B, null),
  preference: fc.option(fc.constantFrom(0, 5, 255), { nil: undefined }),
  status,
  iaStatus: status,
  noIa: fc.boolean(),
  iaid: fc.constantFrom(IAID, IAID, IAID, 7),
  t1: seconds, t2: seconds, preferred: seconds, valid: seconds,
  address: addresses,
  unicast: fc.option(fc.constantFrom('2001:db8:5::1', 'fe80::1'), { nil: undefined }),
  rapidCommit: fc.boolean(),
});

/** Replies a real server might send, so that runs get past SOLICITING into every state. */
const plausiblePacket = fc.record({
  type: fc.constant('packet' as const),
  messageType: fc.constant(0),
  ourXid: fc.constant(true),
  ours: fc.constant(true),
  server: fc.constantFrom(SERVER_A, SERVER_A, SERVER_B),
  preference: fc.option(fc.constantFrom(0, 255), { nil: undefined }),
  status: rarely(fc.record({ code: fc.constantFrom(3, 4, 5), message: fc.constant('') })),
  iaStatus: rarely(fc.record({ code: fc.constantFrom(2, 3), message: fc.constant('') })),
  noIa: fc.constant(false),
  iaid: fc.constant(IAID),
  t1: fc.constantFrom(0, 10, 100), t2: fc.constantFrom(0, 20, 160), preferred: fc.constantFrom(30, 200, INFINITY6), valid: fc.constantFrom(60, 300, INFINITY6),
  address: fc.constantFrom('2001:db8:5::142', '2001:db8:5::143'),
  unicast: fc.option(fc.constant('2001:db8:5::1'), { nil: undefined }),
  rapidCommit: fc.boolean(),
}).filter((p) => inf(p.preferred) <= inf(p.valid));

const packet = fc.oneof({ weight: 1, arbitrary: wildPacket }, { weight: 2, arbitrary: plausiblePacket });

const step = fc.oneof(
  { weight: 40, arbitrary: packet },
  { weight: 30, arbitrary: fc.record({ type: fc.constant('timer' as const), when: fc.constantFrom('due', 'due', 'early', 'late') }) },
  { weight: 6, arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 4e6 }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('dad-failed' as const), address: fc.constantFrom('2001:db8:5::142', '2001:db8:5::9') }) },
  { weight: 1, arbitrary: fc.constantFrom({ type: 'release' as const }, { type: 'stop' as const }, { type: 'start' as const }, { type: 'start' as const }) },
);

type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

const storedLease = (h: Harness6) => fc.record({
  address: addresses,
  iaid: fc.constantFrom(IAID, 1),
  duid: fc.constantFrom(h.config.duid.toString('hex'), '0003'),
  serverId: fc.constantFrom(SERVER_A.toString('hex'), 'zz'),
  boundAt: fc.oneof(fc.integer({ min: T0 - 5e9, max: T0 + 5e9 }), fc.constantFrom(Number.NaN, 0)),
  preferredLifetime: seconds, validLifetime: seconds, t1: seconds, t2: seconds,
}) as fc.Arbitrary<Lease6Record>;

const HOLDS: readonly Lease6State[] = ['BOUND', 'RENEWING', 'REBINDING'];
const NEVER_HOLDS: readonly Lease6State[] = ['INIT', 'SOLICITING', 'DECLINING', 'RELEASING', 'RELEASED', 'STOPPED'];
const NEEDS_TIMER: readonly Lease6State[] = ['SOLICITING', 'REQUESTING', 'RENEWING', 'REBINDING', 'DECLINING', 'RELEASING'];

function assertLeaseSane(l: Lease6Record): void {
  assert.ok(1 <= inf(l.t1) && inf(l.t1) <= inf(l.t2) && inf(l.t2) <= inf(l.validLifetime) && inf(l.preferredLifetime) <= inf(l.validLifetime), JSON.stringify(l));
}

function toEvent(h: Harness6, s: Step): Machine6Event | undefined {
  switch (s.type) {
    case 'packet': {
      const waits = h.machine.state === 'SOLICITING' ? MessageType6.ADVERTISE : MessageType6.REPLY;
      const spec: ReplySpec6 = {
        type: s.messageType === 0 ? waits : s.messageType,
        xid: s.ourXid ? h.machine.xid : (h.machine.xid + 1) & 0xffffff,
        clientId: s.ours ? h.config.duid : SERVER_B,
        serverId: s.server,
        ia: s.noIa ? null : { iaid: s.iaid, t1: s.t1, t2: s.t2, ...(s.iaStatus ? { status: s.iaStatus } : {}) },
        address: s.address, preferred: s.preferred, valid: s.valid, rapidCommit: s.rapidCommit,
      };
      if (s.preference !== undefined) spec.preference = s.preference;
      if (s.status !== undefined) spec.status = s.status;
      if (s.unicast !== undefined) spec.unicast = s.unicast;
      return { type: 'packet', reply: makeReply6(spec) };
    }
    case 'timer': {
      const at = h.machine.nextTimerAt;
      if (at !== undefined && s.when !== 'early') h.now = Math.max(h.now, at + (s.when === 'late' ? 5_000 : 0));
      return { type: 'timer' };
    }
    case 'advance':
      h.now += s.ms;
      return undefined;
    default:
      return s;
  }
}

interface Seen { at: number | undefined; lastSend?: { type: number; xid: number; elapsed: number } }

function checkStep(h: Harness6, before: Lease6State, actions: Machine6Action[], seen: Seen): void {
  const m = h.machine;
  const timer = actions.filter((a) => a.type === 'arm' || a.type === 'disarm');
  assert.ok(timer.length <= 2, 'at most an arm replaced once per event');
  for (const a of timer) {
    seen.at = a.type === 'arm' ? a.at : undefined;
    if (a.type === 'arm') assert.ok(Number.isFinite(a.at) && a.at > h.now, `arm at ${a.at}, now ${h.now}`);
  }
  assert.equal(m.nextTimerAt, seen.at);
  if (NEEDS_TIMER.includes(m.state)) assert.notEqual(m.nextTimerAt, undefined, `${m.state} without a timer`);
  if (m.state === 'RELEASED' || m.state === 'STOPPED') assert.equal(m.nextTimerAt, undefined);
  if (HOLDS.includes(m.state)) assert.ok(m.lease, `${m.state} without a lease`);
  if (NEVER_HOLDS.includes(m.state)) assert.equal(m.lease, undefined, `${m.state} with a lease`);
  if (m.lease !== undefined) {
    assertLeaseSane(m.lease);
    const d = deadlines6(m.lease.boundAt, { t1: m.lease.t1, t2: m.lease.t2, valid: m.lease.validLifetime });
    // never bound past the valid lifetime: the machine always acts by then
    if (d.expiresAt !== Infinity) assert.ok(m.nextTimerAt !== undefined && m.nextTimerAt <= d.expiresAt, `timer ${m.nextTimerAt} past expiry ${d.expiresAt}`);
  }
  for (const a of actions) if (a.type === 'bound') assertLeaseSane(a.lease);
  for (const s of sends6(actions)) {
    assert.equal(s.msg.xid, m.xid);
    const e = elapsedOf(s.msg);
    const last = seen.lastSend;
    if (last !== undefined && last.type !== s.msg.type) assert.notEqual(s.msg.xid, last.xid, 'a new exchange gets a new xid');
    if (last !== undefined && last.xid === s.msg.xid && last.type === s.msg.type) assert.ok(e >= last.elapsed, 'elapsed grows');
    else assert.equal(e, 0, 'a new exchange starts at elapsed 0');
    seen.lastSend = { type: s.msg.type, xid: s.msg.xid, elapsed: e };
  }
  let from = before;
  for (const t of actions) {
    if (t.type !== 'transition') continue;
    assert.equal(t.from, from);
    from = t.to;
  }
  assert.equal(from, m.state);
}

describe('dhcp6 lease machine: any sequence of events', () => {
  it('never throws; one timer; T1 <= T2 <= valid; never bound past valid; xid per exchange, not per retransmission', () => {
    fc.assert(
      fc.property(fc.integer(), fc.boolean(), fc.boolean(), fc.array(step, { maxLength: 120, size: "max" }), (seed, resume, rapid, steps) => {
        const h = new Harness6({ seed, config: { rapidCommit: rapid, acquireTimeoutMs: seed % 3 === 0 ? 10_000 : undefined } });
        const seen: Seen = { at: undefined };
        const first: Machine6Event = resume ? { type: 'resume', lease: fc.sample(storedLease(h), { seed, numRuns: 1 })[0]! } : { type: 'start' };
        checkStep(h, 'INIT', h.handle(first), seen);
        for (const s of steps) {
          const event = toEvent(h, s);
          if (event === undefined) continue;
          const before = h.machine.state;
          checkStep(h, before, h.handle(event), seen);
        }
      }),
      { numRuns: 300 },
    );
  });
});
