import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectUnix, transportKind } from '../../shared/unix-stream';

type Outcome = { connected: boolean; data: string; error?: string; ended: boolean };

/** Sends `line` (if given) on connect and collects everything until error or end. */
function exchange(sockPath: string, via: 'pipe' | 'net', line?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const o: Outcome = { connected: false, data: '', ended: false };
    const s = connectUnix(
      sockPath,
      {
        connect: () => {
          o.connected = true;
          if (line !== undefined) s.write(line);
        },
        data: (c) => {
          o.data += c.toString('utf8');
        },
        error: (code) => {
          o.error = code;
          s.destroy();
          resolve(o);
        },
        end: () => {
          o.ended = true;
          s.destroy();
          resolve(o);
        },
      },
      via,
    );
  });
}

describe('unix-stream: the shims’ Unix socket without net', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cni-dhcp-us-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('uses the pipe binding on this Node (a silent fallback would hide the cost it saves)', () => {
    assert.equal(transportKind(), 'pipe');
  });

  for (const via of ['pipe', 'net'] as const) {
    it(`${via}: writes a line, reads the answer in pieces, sees the end`, async () => {
      const p = path.join(dir, 's.sock');
      const srv = net.createServer((c) => {
        let got = '';
        c.on('data', (d) => {
          got += d.toString('utf8');
          if (!got.endsWith('\n')) return;
          const big = 'x'.repeat(200_000);
          c.write(`${got.trim()}:`);
          setTimeout(() => c.end(`${big}\n`), 20);
        });
      });
      await new Promise<void>((r) => srv.listen(p, r));
      try {
        const o = await exchange(p, via, 'hello\n');
        assert.equal(o.connected, true);
        assert.equal(o.error, undefined);
        assert.equal(o.ended, true);
        assert.equal(o.data, `hello:${'x'.repeat(200_000)}\n`);
      } finally {
        srv.close();
      }
    });

    it(`${via}: no socket is ENOENT, a dead one ECONNREFUSED`, async () => {
      assert.equal((await exchange(path.join(dir, 'none.sock'), via)).error, 'ENOENT');
      const p = path.join(dir, 'dead.sock');
      // a socket file that nothing listens on any more, as a crashed daemon leaves it
      const bound = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', p]);
      assert.equal(bound.status, 0, String(bound.stderr));
      assert.ok(fs.existsSync(p));
      const o = await exchange(p, via);
      assert.equal(o.error, 'ECONNREFUSED');
      assert.equal(o.connected, false);
    });
  }
});
