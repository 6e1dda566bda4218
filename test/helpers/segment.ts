/**
 * The L2 segment every lab and the bench build: a server namespace whose veth `srv0` holds
 * `serverCidr`, its peer plugged into a bridge in the node namespace. Resolves once the bridge
 * forwards: a new link forwards only after the kernel's link watcher has run (up to ~1 s), and a
 * DISCOVER sent before that is lost.
 */
import { sh, waitFor } from './sh';

export interface Segment {
  serverNs: string;
  nodeNs: string;
  bridge: string;
  /** at most 13 characters: `s`/`n` are appended for the two ends */
  vethPrefix: string;
  serverCidr: string;
}

export async function buildSegment(seg: Segment): Promise<void> {
  const inNs = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);
  const v = seg.vethPrefix.slice(0, 13);
  await sh('ip', 'netns', 'add', seg.serverNs);
  await sh('ip', 'netns', 'add', seg.nodeNs);
  await sh('ip', 'link', 'add', `${v}s`, 'netns', seg.serverNs, 'type', 'veth', 'peer', 'name', `${v}n`, 'netns', seg.nodeNs);
  await inNs(seg.serverNs, 'ip', 'link', 'set', `${v}s`, 'name', 'srv0');
  await inNs(seg.serverNs, 'ip', 'addr', 'add', seg.serverCidr, 'dev', 'srv0');
  await inNs(seg.serverNs, 'ip', 'link', 'set', 'srv0', 'up');
  await inNs(seg.serverNs, 'ip', 'link', 'set', 'lo', 'up');
  await inNs(seg.nodeNs, 'ip', 'link', 'add', seg.bridge, 'type', 'bridge');
  await inNs(seg.nodeNs, 'ip', 'link', 'set', `${v}n`, 'master', seg.bridge);
  await inNs(seg.nodeNs, 'ip', 'link', 'set', `${v}n`, 'up');
  await inNs(seg.nodeNs, 'ip', 'link', 'set', seg.bridge, 'up');
  await inNs(seg.nodeNs, 'ip', 'link', 'set', 'lo', 'up');
  await waitFor(`bridge ${seg.bridge} operstate UP`, async () => /state UP/.test(await inNs(seg.nodeNs, 'ip', 'link', 'show', seg.bridge)) || undefined, 5000, 20);
}
