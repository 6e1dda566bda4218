import assert from 'node:assert/strict';
import fc from 'fast-check';
import { INFINITE_LEASE, MAX_LEASE_SECONDS } from '../../daemon/client/lease-timing';
import type { LeaseRecord, LeaseState, MachineAction, MachineEvent } from '../../daemon/client/machine-types';
import { MessageType } from '../../daemon/dhcp4/types';
import { CLIENT_MAC, makeReply } from '../helpers/dhcp-replies';
import { Harness, T0, messageType, sends } from '../helpers/lease-machine-harness';

const ips = fc.constantFrom('198.18.0.1', '198.18.0.2', '198.18.0.57', '0.0.0.0', '255.255.255.255', '10.1.2.3', 'x.y', '');
const seconds = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0, 1, 30, 60, 120, 3600, 0xfffffffe, INFINITE_LEASE),
);

const goodIps = fc.constantFrom('198.18.0.1', '198.18.0.2', '198.18.0.57', '198.18.0.77');

/** Anything at all in the fields the machine checks. */
const wildPacket = fc.record({
  type: fc.constant('packet' as const),
  messageType: fc.constantFrom(undefined, 1, 2, 3, 5, 6, 7, 200),
  op: fc.constantFrom(1, 2, 2, 2),
  ourXid: fc.boolean(),
  xid: fc.integer({ min: 0, max: 0xffffffff }),
  ourChaddr: fc.boolean(),
  yiaddr: ips,
  serverId: fc.option(ips),
  prefixLength: fc.option(fc.integer({ min: -1, max: 40 })),
  leaseTime: seconds,
  renewalTime: seconds,
  rebindingTime: seconds,
  srcMac: fc.option(fc.uint8Array({ minLength: 0, maxLength: 8 })),
});

/** Replies a real server might send, so that runs get past SELECTING into every state. */
const plausiblePacket = fc.record({
  type: fc.constant('packet' as const),
  /** 0: whatever the current state waits for (OFFER or ACK) */
  messageType: fc.constantFrom(0, 0, 0, 2, 5, 6),
  op: fc.constant(2),
  ourXid: fc.constant(true),
  xid: fc.constant(0),
  ourChaddr: fc.constant(true),
  yiaddr: goodIps,
  serverId: fc.option(fc.constantFrom('198.18.0.1', '198.18.0.1', '198.18.0.1', '198.18.0.2'), { freq: 8 }),
  prefixLength: fc.option(fc.integer({ min: 8, max: 32 }), { freq: 8 }),
  leaseTime: seconds,
  renewalTime: seconds,
  rebindingTime: seconds,
  srcMac: fc.option(fc.uint8Array({ minLength: 6, maxLength: 6 })),
});

const packet = fc.oneof({ weight: 2, arbitrary: wildPacket }, { weight: 3, arbitrary: plausiblePacket });

const storedLease = fc.record({
  address: ips,
  prefixLength: fc.integer({ min: -1, max: 40 }),
  serverId: ips,
  serverMac: fc.option(fc.constantFrom('52:54:00:12:34:56', 'zz', ''), { nil: undefined }),
  boundAt: fc.oneof(fc.integer({ min: T0 - 5e9, max: T0 + 5e9 }), fc.constantFrom(Number.NaN, 0)),
  leaseTime: fc.integer({ min: 0, max: 0xffffffff }),
  t1: fc.integer({ min: 0, max: 0xffffffff }),
  t2: fc.integer({ min: 0, max: 0xffffffff }),
  params: fc.constant({ rejected: [] }),
}) as fc.Arbitrary<LeaseRecord>;

const step = fc.oneof(
  { weight: 40, arbitrary: packet },
  { weight: 30, arbitrary: fc.record({ type: fc.constant('timer' as const), when: fc.constantFrom('due', 'due', 'early', 'late') }) },
  { weight: 6, arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 4e6 }) }) },
  { weight: 1, arbitrary: fc.constantFrom({ type: 'release' as const }, { type: 'stop' as const }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('abandon' as const), podLease: storedLease, reason: fc.constant('move failed') }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('start' as const), requestedIp: fc.option(ips, { nil: undefined }) }) },
);

const opening = fc.oneof(
  fc.record({ type: fc.constant('start' as const), requestedIp: fc.option(ips, { nil: undefined }) }),
  fc.record({ type: fc.constant('resume' as const), lease: storedLease }),
);

type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

const VALID_STATES: readonly LeaseState[] = ['INIT', 'INIT_REBOOT', 'SELECTING', 'REQUESTING', 'REBOOTING', 'BOUND', 'RENEWING', 'REBINDING', 'EXPIRED', 'RELEASED', 'STOPPED', 'LOST'];
const NEEDS_TIMER: readonly LeaseState[] = ['INIT_REBOOT', 'SELECTING', 'REQUESTING', 'REBOOTING', 'RENEWING', 'REBINDING', 'EXPIRED'];
const HOLDS_LEASE: readonly LeaseState[] = ['BOUND', 'RENEWING', 'REBINDING'];

function assertLeaseSane(lease: LeaseRecord): void {
  if (lease.leaseTime === INFINITE_LEASE) {
    assert.equal(lease.t1, INFINITE_LEASE);
    assert.equal(lease.t2, INFINITE_LEASE);
    return;
  }
  assert.ok(0 < lease.t1 && lease.t1 < lease.t2 && lease.t2 < lease.leaseTime, JSON.stringify(lease));
  assert.ok(lease.leaseTime <= MAX_LEASE_SECONDS);
  assert.ok(Number.isFinite(lease.boundAt));
}

function toEvent(h: Harness, s: Step): MachineEvent | undefined {
  switch (s.type) {
    case 'packet': {
      const chaddr = s.ourChaddr ? CLIENT_MAC : Buffer.from([2, 0, 0, 0, 0, 7]);
      const fitting = h.machine.state === 'SELECTING' || h.machine.state === 'EXPIRED' ? 2 : 5;
      const type = s.messageType === 0 ? fitting : s.messageType;
      const params = { messageType: type, serverId: s.serverId ?? undefined, prefixLength: s.prefixLength ?? undefined };
      const times = { leaseTime: s.leaseTime, renewalTime: s.renewalTime, rebindingTime: s.rebindingTime };
      const event = makeReply(type ?? MessageType.ACK, {}, {
        xid: s.ourXid ? h.machine.xid : s.xid,
        op: s.op,
        chaddr,
        yiaddr: s.yiaddr,
        params: { ...params, ...times },
        srcMac: s.srcMac === null ? null : Buffer.from(s.srcMac),
      });
      return event;
    }
    case 'timer': {
      const at = h.machine.nextTimerAt;
      if (at !== undefined && s.when !== 'early') h.now = Math.max(h.now, at + (s.when === 'late' ? 90_000 : 0));
      return { type: 'timer' };
    }
    case 'advance':
      h.now += s.ms;
      return undefined;
    default:
      return s;
  }
}

function checkStep(h: Harness, before: LeaseState, actions: MachineAction[], armed: { at: number | undefined }): void {
  const m = h.machine;
  assert.ok(VALID_STATES.includes(m.state), m.state);
  const timerActions = actions.filter((a) => a.type === 'arm' || a.type === 'disarm');
  assert.ok(timerActions.length <= 1, 'at most one arm/disarm per event');
  for (const a of timerActions) {
    armed.at = a.type === 'arm' ? a.at : undefined;
    if (a.type === 'arm') assert.ok(Number.isFinite(a.at) && a.at > h.now, `arm at ${a.at} now ${h.now}`);
  }
  assert.equal(m.nextTimerAt, armed.at, 'nextTimerAt matches the last arm/disarm');
  if (NEEDS_TIMER.includes(m.state)) assert.notEqual(m.nextTimerAt, undefined, `${m.state} without a timer`);
  if (m.state === 'RELEASED' || m.state === 'STOPPED' || m.state === 'LOST') assert.equal(m.nextTimerAt, undefined);
  if (m.state === 'LOST') assert.ok(m.podLease?.lost !== undefined, 'LOST keeps the lease the pod carries');
  for (const a of actions) {
    if (a.type === 'bound' && a.changedFrom !== undefined) {
      assert.notEqual(`${a.changedFrom.address}/${a.changedFrom.prefixLength}`, `${a.lease.address}/${a.lease.prefixLength}`);
      assert.equal(h.config.onAddressChange ?? 'move', 'move');
    }
  }
  assert.equal(m.lease !== undefined, HOLDS_LEASE.includes(m.state), `lease presence in ${m.state}`);
  if (m.lease !== undefined) {
    assertLeaseSane(m.lease);
    if (m.state === 'BOUND') assert.equal(m.nextTimerAt === undefined, m.lease.leaseTime === INFINITE_LEASE);
  }
  for (const a of actions) if (a.type === 'bound') assertLeaseSane(a.lease);
  for (const s of sends(actions)) {
    assert.equal(s.msg.xid, m.xid);
    if (messageType(s.msg) !== MessageType.RELEASE) assert.ok(s.msg.secs >= 1 && s.msg.secs <= 0xffff);
    if (s.srcIp === '0.0.0.0' && (h.config.acquireBroadcast ?? 'always') === 'always') assert.equal(s.msg.flags, 0x8000, 'broadcast flag before BOUND');
  }
  const transitions = actions.filter((a) => a.type === 'transition');
  let from = before;
  for (const t of transitions) {
    assert.equal(t.from, from);
    assert.notEqual(t.to, t.from);
    from = t.to;
  }
  assert.equal(from, m.state, 'transitions end in the current state');
}

describe('lease machine: any sequence of events', () => {
  it('never throws, keeps a valid state, one timer at most, and 0 < T1 < T2 < lease on every lease', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom('move' as const, 'release' as const), fc.constantFrom('always' as const, 'alternate' as const), opening, fc.array(step, { maxLength: 120, size: 'max' }), (seed, onAddressChange, acquireBroadcast, first, steps) => {
        const h = new Harness({ seed, config: { onAddressChange, acquireBroadcast } });
        const armed: { at: number | undefined } = { at: undefined };
        checkStep(h, 'INIT', h.handle(first), armed);
        for (const s of steps) {
          const event = toEvent(h, s);
          if (event === undefined) continue;
          const before = h.machine.state;
          checkStep(h, before, h.handle(event), armed);
        }
      }),
      { numRuns: 300 },
    );
  });
});
