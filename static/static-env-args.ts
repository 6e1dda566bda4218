/**
 * CNI_ARGS as the reference static plugin reads it: libcni's types.LoadArgs into
 * `struct { types.CommonArgs; IP, GATEWAY UnmarshallableString }`. Keys match field names
 * exactly (case-sensitive); any other key fails the call unless IgnoreUnknown is true. The
 * messages and code 999 are the reference's: the spec gives CNI_ARGS syntax no code.
 */
import { UnclassifiedError } from '../shared/errors';
import { goQuote, goQuoteList } from './go-quote';

export interface StaticEnvArgs {
  /** the raw IP value, "" when absent */
  ip: string;
  /** the raw GATEWAY value, "" when absent */
  gateway: string;
}

/** UnmarshallableBool.UnmarshalText */
function parseGoBool(pair: string, value: string): boolean {
  const s = value.toLowerCase();
  if (s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  throw new UnclassifiedError(
    `ARGS: error parsing value of pair ${goQuote(pair)}: boolean unmarshal error: invalid input ${s}`,
  );
}

export function loadStaticEnvArgs(raw: string): StaticEnvArgs {
  const out: StaticEnvArgs = { ip: '', gateway: '' };
  if (raw === '') return out;
  let ignoreUnknown = false;
  const unknown: string[] = [];
  for (const pair of raw.split(';')) {
    const kv = pair.split('=');
    if (kv.length !== 2) throw new UnclassifiedError(`ARGS: invalid pair ${goQuote(pair)}`);
    const [key, value] = kv as [string, string];
    switch (key) {
      case 'IP':
        out.ip = value;
        break;
      case 'GATEWAY':
        out.gateway = value;
        break;
      case 'IgnoreUnknown':
        ignoreUnknown = parseGoBool(pair, value);
        break;
      case 'CommonArgs':
        // the embedded struct is itself a field that LoadArgs finds, and cannot fill
        throw new UnclassifiedError(
          "ARGS: cannot unmarshal into field 'CommonArgs' - type '*types.CommonArgs' does not implement encoding.TextUnmarshaler",
        );
      default:
        unknown.push(pair);
    }
  }
  if (unknown.length > 0 && !ignoreUnknown) throw new UnclassifiedError(`ARGS: unknown args ${goQuoteList(unknown)}`);
  return out;
}
