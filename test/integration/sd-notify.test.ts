import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { SHIM } from '../helpers/lab';
import { requireRootTools, stopProcess, waitFor } from '../helpers/sh';

describe('readiness to systemd (sd_notify) @root', function () {
  this.timeout(30_000);
  it('the daemon sends READY=1 from its main PID to NOTIFY_SOCKET once it serves the socket', async function () {
    requireRootTools(this, ['/usr/bin/python3']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdt-notify-'));
    const notify = path.join(dir, 'notify.sock');
    const received = path.join(dir, 'received');
    // a Unix datagram receiver that records the sender's PID (SO_PASSCRED), as systemd checks it
    const py = spawn('python3', ['-c', [
      'import socket, struct, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      `s.bind(${JSON.stringify(notify)})`,
      's.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)',
      'msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))',
      'pid = struct.unpack("iII", anc[0][2])[0] if anc else -1',
      `open(${JSON.stringify(received)}, "w").write(f"{pid} {msg.decode()}")`,
    ].join('\n')]);
    await waitFor('receiver', () => (fs.existsSync(notify) ? true : undefined));
    const daemon = spawn(process.execPath, [SHIM, 'daemon', '-socketpath', path.join(dir, 'run', 'd.sock'), '--state-dir', path.join(dir, 'state')], {
      env: { ...process.env, NOTIFY_SOCKET: notify },
      stdio: 'ignore',
    });
    try {
      const text = await waitFor('READY=1', () => (fs.existsSync(received) ? fs.readFileSync(received, 'utf8') : undefined));
      const [pid, msg] = text.split(' ');
      assert.equal(msg, 'READY=1');
      assert.equal(Number(pid), daemon.pid, 'sent by the main PID, so NotifyAccess=main works');
      assert.ok(fs.existsSync(path.join(dir, 'run', 'd.sock')), 'ready only once the RPC socket exists');
    } finally {
      await stopProcess(daemon);
      py.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
