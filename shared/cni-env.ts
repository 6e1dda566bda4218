import { InvalidEnvError } from './errors';

export const VERBS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type Verb = (typeof VERBS)[number];

export interface CniEnv {
  command: Verb;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as key → value, in order; later keys win */
  args: Map<string, string>;
  /** CNI_ARGS exactly as given, for plugins that parse it with the reference's own rules (static) */
  rawArgs: string;
  path: string;
}

const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Linux interface name rules (dev_valid_name), as the CNI library checks them. */
export function validateIfname(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (Buffer.byteLength(name) > 15) return 'is longer than 15 bytes';
  if (name === '.' || name === '..') return 'is "." or ".."';
  if (/[/:\s\0]/.test(name)) return 'contains "/", ":", whitespace or NUL';
  return undefined;
}

/** Which variables each verb needs (CNI spec 1.1, section "Parameters"). */
const REQUIRED: Record<Verb, Array<'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME'>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  VERSION: [],
  STATUS: [],
  GC: [],
};

/** With strict false, malformed pairs are skipped instead of failing the call. */
export function parseCniArgs(raw: string | undefined, strict = true): Map<string, string> {
  const out = new Map<string, string>();
  if (!raw) return out;
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      if (!strict) continue;
      throw new InvalidEnvError(`CNI_ARGS: invalid pair ${JSON.stringify(pair)}, expected KEY=VALUE`);
    }
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

export interface ParseEnvOptions {
  /**
   * false: a malformed CNI_ARGS does not fail the call here. `static` needs this: the
   * reference reads CNI_ARGS only in ADD and CHECK, with its own rules, so DEL must succeed.
   */
  strictArgs?: boolean;
}

export function parseCniEnv(env: NodeJS.ProcessEnv, options: ParseEnvOptions = {}): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') throw new InvalidEnvError('required env variables [CNI_COMMAND] missing');
  if (!(VERBS as readonly string[]).includes(command)) {
    throw new InvalidEnvError(`unknown CNI_COMMAND ${JSON.stringify(command)}`, `expected one of ${VERBS.join(', ')}`);
  }
  const verb = command as Verb;
  const missing = REQUIRED[verb].filter((k) => !env[k]);
  if (missing.length) throw new InvalidEnvError(`required env variables [${missing.join(',')}] missing`);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !CONTAINER_ID_RE.test(containerId)) {
    throw new InvalidEnvError(
      `invalid CNI_CONTAINERID ${JSON.stringify(containerId)}`,
      'must start with an alphanumeric character, followed by alphanumerics, "_", "." or "-"',
    );
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (ifname) {
    const bad = validateIfname(ifname);
    if (bad) throw new InvalidEnvError(`invalid CNI_IFNAME ${JSON.stringify(ifname)}: ${bad}`);
  }
  return {
    command: verb,
    containerId,
    netns: env.CNI_NETNS ?? '',
    ifname,
    args: parseCniArgs(env.CNI_ARGS, options.strictArgs ?? true),
    rawArgs: env.CNI_ARGS ?? '',
    path: env.CNI_PATH ?? '',
  };
}
