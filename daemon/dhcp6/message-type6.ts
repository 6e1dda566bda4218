import { MessageType6 } from './types';

const NAMES = new Map<number, string>(Object.entries(MessageType6).map(([k, v]) => [v, k.replace(/_/g, '-')]));

/** "ADVERTISE", "REPLY", ... or "type N" for anything else. */
export function describeMessageType6(type: number): string {
  return NAMES.get(type) ?? `type ${type}`;
}
