/**
 * Drives a Lease6Machine with a fake clock and seeded randomness, builds the server messages it
 * reads (Reply6, as the codec would produce them), and picks apart its actions. Only for tests.
 */
import assert from 'node:assert/strict';
import { Lease6Machine } from '../../daemon/client6/lease6-machine';
import type { Lease6Record, Machine6Action, Machine6Config, Machine6Event } from '../../daemon/client6/types6';
import { duidForContainer, iaidFor } from '../../daemon/client6/identity6';
import { MessageType6, Opt6, decodeElapsed, decodeIaNa, type Dhcp6Message, type IaNa, type Reply6, type StatusCode6 } from '../../daemon/dhcp6';
import { T0, seededRandom } from './lease-machine-harness';

export { T0 };
export type Send6 = Extract<Machine6Action, { type: 'send' }>;

export const DUID = duidForContainer('c0ffee');
export const IAID = iaidFor('net1', 'eth0');
export const SERVER_A = Buffer.from('000100012a2b2c2d525400123456', 'hex');
export const SERVER_B = Buffer.from('0003000152540012abcd', 'hex');
export const SERVER_MAC = Buffer.from([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

export function testConfig6(overrides: Partial<Machine6Config> = {}): Machine6Config {
  return { duid: DUID, iaid: IAID, oro: [23, 24], rapidCommit: false, acquireTimeoutMs: 10_000, solicitDelayMs: 0, ...overrides };
}

export interface ReplySpec6 {
  type?: number;
  xid?: number;
  clientId?: Buffer | null;
  serverId?: Buffer | null;
  preference?: number;
  status?: StatusCode6;
  /** null: no IA_NA at all */
  ia?: Partial<IaNa> | null;
  address?: string;
  preferred?: number;
  valid?: number;
  unicast?: string;
  rapidCommit?: boolean;
  dns?: string[];
}

export function makeReply6(spec: ReplySpec6 = {}): Reply6 {
  const r: Reply6 = { type: spec.type ?? MessageType6.REPLY, xid: spec.xid ?? 0, iaNa: [], rapidCommit: spec.rapidCommit ?? false, reconfigureAccept: false, rejected: [] };
  if (spec.clientId !== null) r.clientId = spec.clientId ?? DUID;
  if (spec.serverId !== null) r.serverId = spec.serverId ?? SERVER_A;
  if (spec.preference !== undefined) r.preference = spec.preference;
  if (spec.status !== undefined) r.status = spec.status;
  if (spec.unicast !== undefined) r.serverUnicast = spec.unicast;
  if (spec.dns !== undefined) r.dnsServers = spec.dns;
  if (spec.ia !== null) {
    r.iaNa.push({
      iaid: IAID, t1: 100, t2: 160,
      addresses: [{ address: spec.address ?? '2001:db8:5::142', preferredLifetime: spec.preferred ?? 200, validLifetime: spec.valid ?? 300 }],
      ...(spec.ia ?? {}),
    });
  }
  return r;
}

export class Harness6 {
  now = T0;
  readonly config: Machine6Config;
  readonly machine: Lease6Machine;
  readonly log: Machine6Action[] = [];

  constructor(opts: { config?: Partial<Machine6Config>; seed?: number; random?: () => number } = {}) {
    this.config = testConfig6(opts.config);
    const rng = seededRandom(opts.seed ?? 1);
    this.machine = new Lease6Machine(this.config, {
      now: () => this.now,
      randomU32: () => Math.floor(rng() * 2 ** 32) >>> 0,
      random: opts.random ?? rng,
    });
  }

  handle(event: Machine6Event): Machine6Action[] {
    const actions = this.machine.handle(event);
    this.log.push(...actions);
    return actions;
  }

  fire(): Machine6Action[] {
    const at = this.machine.nextTimerAt;
    assert.ok(at !== undefined, `no timer armed in ${this.machine.state}`);
    this.now = Math.max(this.now, at);
    return this.handle({ type: 'timer' });
  }

  runUntil(at: number): Machine6Action[] {
    const out: Machine6Action[] = [];
    for (let next = this.machine.nextTimerAt; next !== undefined && next <= at; next = this.machine.nextTimerAt) out.push(...this.fire());
    this.now = Math.max(this.now, at);
    return out;
  }

  reply(spec: ReplySpec6 = {}, srcMac: Buffer = SERVER_MAC): Machine6Action[] {
    return this.handle({ type: 'packet', reply: makeReply6({ xid: this.machine.xid, ...spec }), srcMac });
  }

  advertise(spec: ReplySpec6 = {}): Machine6Action[] {
    return this.reply({ type: MessageType6.ADVERTISE, ...spec });
  }

  /** start → ADVERTISE (preference 255) → REPLY; returns the lease. */
  bind(spec: ReplySpec6 = {}): Lease6Record {
    this.handle({ type: 'start' });
    this.advertise({ preference: 255, ...spec });
    const bound = ofType6(this.reply(spec), 'bound')[0];
    assert.ok(bound, 'expected a bound action');
    return bound.lease;
  }
}

export function ofType6<T extends Machine6Action['type']>(actions: Machine6Action[], type: T): Array<Extract<Machine6Action, { type: T }>> {
  return actions.filter((a): a is Extract<Machine6Action, { type: T }> => a.type === type);
}

export function sends6(actions: Machine6Action[]): Send6[] {
  return ofType6(actions, 'send');
}

export function sent6(actions: Machine6Action[]): Send6 {
  const all = sends6(actions);
  assert.equal(all.length, 1, `expected exactly one send, got ${all.length}`);
  return all[0]!;
}

export function opt(msg: Dhcp6Message, code: number): Buffer | undefined {
  return msg.options.find((o) => o.code === code)?.data;
}

export function elapsedOf(msg: Dhcp6Message): number {
  const v = opt(msg, Opt6.ELAPSED_TIME);
  assert.ok(v, 'Elapsed Time present');
  return decodeElapsed(v);
}

export function iaOf(msg: Dhcp6Message): IaNa | undefined {
  const v = opt(msg, Opt6.IA_NA);
  return v === undefined ? undefined : decodeIaNa(v);
}
