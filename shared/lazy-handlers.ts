/**
 * A plugin's verb handlers, with their module required on the first verb that calls one.
 * VERSION needs no handler, so it never loads (nor runs the top level of) the code behind
 * ADD/DEL/CHECK: the RPC client, JSON-RPC, config parsing, result rendering.
 */
import type { runCni } from './cni-skel';

export type CniHandlers = Parameters<typeof runCni>[1];
type Verb = keyof CniHandlers;

// a Record over the verbs, so that a new verb in CniEnv['command'] fails the typecheck here
const VERBS: Record<Verb, true> = { ADD: true, DEL: true, CHECK: true, STATUS: true, GC: true };

export function lazyHandlers(load: () => CniHandlers): CniHandlers {
  let loaded: CniHandlers | undefined;
  const handlers = {} as CniHandlers;
  for (const verb of Object.keys(VERBS) as Verb[]) {
    handlers[verb] = (env, stdin, raw) => (loaded ??= load())[verb](env, stdin, raw);
  }
  return handlers;
}
