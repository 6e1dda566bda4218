/**
 * Liveness on the `file` and `etcd` stores, judged by the node that made the allocation:
 *
 * - alive: its container id + ifname is in the runtime's most recent CNI GC list for its
 *   network ('gc-list'), or the network namespace its ADD named still exists ('netns');
 * - gone: the namespace's path is gone while the daemon, which saw that path at ADD, still
 *   sees its directory, or the path now names another namespace ('netns-gone'); or a GC list
 *   that arrived after the allocation does not list it ('not-in-gc-list');
 * - anything else is unknown (a namespace the daemon never could see, e.g. a daemon container
 *   without the host's /run/netns; an allocation older than these records), and is kept.
 *
 * "Still exists" compares the namespace's dev:ino with the one seen at ADD, so a path reused
 * for another namespace does not pass for the old one. A namespace is not looked for by its
 * inode alone (among /proc/<pid>/ns/net): the kernel hands a freed namespace inode number to
 * the next new namespace, so a dead pod's number soon names a live pod's namespace. The pin's
 * path is what the runtime removes when it tears the sandbox down.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AllocationRecord, StoreDeadline } from '../store';
import { attachmentKey, type LiveSet, type LivenessSource } from './live-set';
import { namespaceId, type NodeRecords } from './node-records';

export class NodeLiveness implements LivenessSource {
  readonly name = 'node (CNI GC list and network namespaces)';

  constructor(private readonly records: NodeRecords) {}

  async snapshot(allocations: readonly AllocationRecord[], _opts: StoreDeadline): Promise<LiveSet> {
    const alive = new Map<string, string>();
    const gone = new Map<string, string>();
    for (const r of this.records.netnsRecords()) {
      const key = attachmentKey(r.containerId, '*');
      const now = namespaceId(r.path);
      if (now !== undefined && (r.id === undefined || r.id === now)) alive.set(key, `netns ${r.path}`);
      else if (r.id !== undefined && now !== undefined) gone.set(key, `netns-gone (${r.path} now names another namespace)`);
      else if (r.id !== undefined && fs.existsSync(path.dirname(r.path))) gone.set(key, `netns-gone (${r.path})`);
      // else: never seen from here, or its directory is not visible: unknown
    }
    for (const a of allocations) {
      if (a.network === undefined) continue;
      const gc = this.records.gcList(a.network);
      if (!gc) continue;
      const key = attachmentKey(a.containerId, a.ifname);
      if (gc.valid.some((v) => v.containerId === a.containerId && v.ifname === a.ifname)) alive.set(key, `gc-list of ${new Date(gc.at).toISOString()}`);
      else if (gc.at > a.createdAt) gone.set(key, `not-in-gc-list of ${new Date(gc.at).toISOString()}`);
    }
    return { alive, gone, pods: new Map(), complete: false };
  }
}
