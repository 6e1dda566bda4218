/** Names for option 53 values, for logs. */
import { MessageType } from './types';

const NAMES = new Map<number, string>(Object.entries(MessageType).map(([name, v]) => [v, name]));

/** "OFFER" for 2; "UNKNOWN(42)" for anything outside 1..8. */
export function describeMessageType(n: number | undefined): string {
  if (n === undefined) return 'NONE';
  return NAMES.get(n) ?? `UNKNOWN(${n})`;
}
