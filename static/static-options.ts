import type { RunCniOptions } from '../shared/cni-skel';

/** CNI_ARGS is parsed by the ADD and CHECK verbs themselves, with the reference's rules. */
export const staticRunOptions: RunCniOptions = { strictArgs: false };
