// Preloaded into our daemon by `npm run bench -- --profile` (node --require): SIGUSR2 writes
// process.memoryUsage() and V8's heap-space statistics, then a heap snapshot, to
// $CNI_DHCP_BENCH_PROFILE_DIR. (This node build ignores --heapsnapshot-signal.)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');
process.on('SIGUSR2', () => {
  const dir = process.env.CNI_DHCP_BENCH_PROFILE_DIR || process.cwd();
  const base = path.join(dir, `daemon-${process.pid}-${Date.now()}`);
  const mem = { memoryUsage: process.memoryUsage(), heapSpaces: v8.getHeapSpaceStatistics(), heap: v8.getHeapStatistics() };
  fs.writeFileSync(`${base}.memory.json`, JSON.stringify(mem, null, 1));
  v8.writeHeapSnapshot(`${base}.heapsnapshot`);
});
