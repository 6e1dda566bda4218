/**
 * Drives a LeaseMachine with a fake clock and seeded randomness, and picks apart the actions
 * it returns. Only for tests.
 */
import assert from 'node:assert/strict';
import { LeaseMachine } from '../../daemon/client/lease-machine';
import type { LeaseRecord, MachineAction, MachineConfig, MachineEvent } from '../../daemon/client/machine-types';
import type { DhcpMessage } from '../../daemon/dhcp4/types';
import { CLIENT_MAC, makeAck, makeOffer, type ReplySpec } from './dhcp-replies';

export type SendAction = Extract<MachineAction, { type: 'send' }>;

export const T0 = 1_700_000_000_000;

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function testConfig(overrides: Partial<MachineConfig> = {}): MachineConfig {
  return {
    clientId: Buffer.from('\x00c0ffee/net1/eth0', 'latin1'),
    chaddr: Buffer.from(CLIENT_MAC),
    provide: new Map([[12, Buffer.from('pod-a')]]),
    paramRequestList: [1, 3, 6, 15, 119, 121],
    alwaysBroadcast: false,
    resendMaxMs: 62_000,
    resendTimeoutMs: 208_000,
    maxMessageSize: 1472,
    ...overrides,
  };
}

export interface HarnessOptions {
  config?: Partial<MachineConfig>;
  seed?: number;
  /** fixed fuzz input instead of the seeded one */
  random?: () => number;
}

export class Harness {
  now = T0;
  readonly config: MachineConfig;
  readonly machine: LeaseMachine;
  /** every action ever returned, oldest first */
  readonly log: MachineAction[] = [];

  constructor(options: HarnessOptions = {}) {
    this.config = testConfig(options.config);
    const rng = seededRandom(options.seed ?? 1);
    this.machine = new LeaseMachine(this.config, {
      now: () => this.now,
      randomU32: () => Math.floor(rng() * 2 ** 32) >>> 0,
      random: options.random ?? rng,
    });
  }

  handle(event: MachineEvent): MachineAction[] {
    const actions = this.machine.handle(event);
    this.log.push(...actions);
    return actions;
  }

  /** Move the clock to the armed timer and fire it. */
  fire(): MachineAction[] {
    const at = this.machine.nextTimerAt;
    assert.ok(at !== undefined, `no timer armed in ${this.machine.state}`);
    this.now = Math.max(this.now, at);
    return this.handle({ type: 'timer' });
  }

  /** Fire timers until `at` is reached; returns everything they produced. */
  runUntil(at: number): MachineAction[] {
    const out: MachineAction[] = [];
    for (let next = this.machine.nextTimerAt; next !== undefined && next <= at; next = this.machine.nextTimerAt) {
      out.push(...this.fire());
    }
    this.now = Math.max(this.now, at);
    return out;
  }

  start(requestedIp?: string): MachineAction[] {
    return this.handle(requestedIp === undefined ? { type: 'start' } : { type: 'start', requestedIp });
  }

  offer(spec: Partial<ReplySpec> = {}): MachineAction[] {
    return this.handle(makeOffer({ xid: this.machine.xid, ...spec }));
  }

  ack(spec: Partial<ReplySpec> = {}): MachineAction[] {
    return this.handle(makeAck({ xid: this.machine.xid, ...spec }));
  }

  /** start → OFFER → ACK; returns the bound lease. */
  bind(ack: Partial<ReplySpec> = {}): LeaseRecord {
    this.start();
    this.offer();
    const actions = this.ack(ack);
    const bound = actions.find((a) => a.type === 'bound');
    assert.ok(bound?.type === 'bound', 'expected a bound action');
    return bound.lease;
  }
}

export function sends(actions: MachineAction[]): SendAction[] {
  return actions.filter((a): a is SendAction => a.type === 'send');
}

/** The only send among `actions`. */
export function sent(actions: MachineAction[]): SendAction {
  const all = sends(actions);
  assert.equal(all.length, 1, `expected exactly one send, got ${all.length}`);
  return all[0] as SendAction;
}

export function ofType<T extends MachineAction['type']>(
  actions: MachineAction[],
  type: T,
): Array<Extract<MachineAction, { type: T }>> {
  return actions.filter((a): a is Extract<MachineAction, { type: T }> => a.type === type);
}

export function armedAt(actions: MachineAction[]): number | undefined {
  return ofType(actions, 'arm').at(-1)?.at;
}

export function messageType(msg: DhcpMessage): number | undefined {
  return msg.options.get(53)?.[0];
}

export function optionIp(msg: DhcpMessage, code: number): string | undefined {
  const value = msg.options.get(code);
  return value === undefined ? undefined : [...value].join('.');
}
