import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { trimmableMappings } from '../../daemon/resident-trim';

const block = (head: string, anonymousKb: number) => `${head}\nSize:               1024 kB\nRss:                 512 kB\nAnonymous:          ${anonymousKb} kB\nVmFlags: rd mr mw me\n`;

describe('resident-trim: which mappings may drop their pages', () => {
  it('keeps only private, read-only, file-backed mappings without anonymous pages', () => {
    const smaps = [
      block('00400000-00b6f000 r--p 00000000 fd:01 1234 /usr/bin/node', 0),
      block('00b72000-025fe000 r-xp 00771000 fd:01 1234 /usr/bin/node', 0),
      // RELRO relocated by the dynamic linker: its private copies would be lost
      block('02601000-0563a000 r--p 02200000 fd:01 1234 /usr/bin/node', 8),
      block('0563e000-0565d000 rw-p 0523d000 fd:01 1234 /usr/bin/node', 0),
      block('7f0000000000-7f0000001000 r--s 00000000 fd:01 99 /dev/shm/x', 0),
      block('7f0000002000-7f0000003000 r--p 00000000 00:00 0 ', 0),
      block('7f0000004000-7f0000005000 r-xp 00000000 00:00 0 [vdso]', 0),
      block('7f0000006000-7f0000007000 r--p 00000000 fd:01 77 /tmp/gone (deleted)', 0),
      block('7f0000008000-7f000000a000 r-xp 00000000 fd:01 55 /usr/lib/x86_64-linux-gnu/libc.so.6', 0),
    ].join('');
    assert.deepEqual(trimmableMappings(smaps), [
      { start: 0x400000, length: 0xb6f000 - 0x400000, file: '/usr/bin/node' },
      { start: 0xb72000, length: 0x25fe000 - 0xb72000, file: '/usr/bin/node' },
      { start: 0x7f0000008000, length: 0x2000, file: '/usr/lib/x86_64-linux-gnu/libc.so.6' },
    ]);
  });

  it('skips a mapping whose Anonymous line is missing (an smaps it does not understand)', () => {
    assert.deepEqual(trimmableMappings('00400000-00401000 r--p 00000000 fd:01 1 /usr/bin/node\nRss: 4 kB\n'), []);
    assert.deepEqual(trimmableMappings(''), []);
  });

  it("this process's own smaps parses, and trimming it leaves node running correctly", () => {
    const script = `
      const { trimResident, trimmableMappings } = require(${JSON.stringify(path.resolve(__dirname, '../../daemon/resident-trim.ts'))});
      const fs = require('fs');
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
      if (trimmableMappings(fs.readFileSync('/proc/self/smaps', 'utf8')).length === 0) throw new Error('no mapping found');
      const before = rss();
      const r = trimResident();
      const after = rss();
      // work after the trim: code, ICU, JSON, crypto all fault back in
      const h = require('crypto').createHash('sha256').update('x').digest('hex');
      const d = new Intl.DateTimeFormat('en', { month: 'long' }).format(new Date(0));
      process.stdout.write(JSON.stringify({ before, after, mappings: r.mappings, h, d }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { before: number; after: number; mappings: number; h: string; d: string };
    assert.ok(out.mappings > 0);
    assert.ok(out.after < out.before, `RSS ${out.before} → ${out.after} kB`);
    assert.equal(out.h, '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
    assert.equal(out.d, 'January');
  });
});
