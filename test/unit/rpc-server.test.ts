/** The real RpcServer on a real Unix socket, with handlers that record and block as each test needs. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../daemon/log';
import { createMetrics } from '../../daemon/metrics';
import { MAX_INFLIGHT_PER_CONNECTION, RpcServer, type MethodHandler } from '../../daemon/rpc-server';
import { InvalidParams } from '../../daemon/rpc-validate';
import { CheckFailedError } from '../../shared/errors';
import { MAX_FRAME_BYTES } from '../../shared/rpc-protocol';
import { RawConn } from '../helpers/rpc-raw';

describe('RpcServer', () => {
  let dir: string;
  let sockPath: string;
  let rpc: RpcServer;
  let gate: { open: () => void; wait: Promise<void> };
  let entered = 0;

  const newGate = () => {
    let open = () => {};
    const wait = new Promise<void>((r) => (open = r));
    return { open, wait };
  };

  const methods: Record<string, MethodHandler> = {
    echo: async (p) => p ?? null,
    blocked: async () => {
      entered++;
      await gate.wait;
      return 'released';
    },
    check: async () => {
      throw new CheckFailedError('lease for x holds 198.18.0.9/24', 'the runtime has 198.18.0.8/24');
    },
    invalid: async () => {
      throw new InvalidParams('containerId must be a non-empty string');
    },
    bug: async () => {
      throw new TypeError('undefined is not a function');
    },
    huge: async () => 'x'.repeat(MAX_FRAME_BYTES),
    hangup: async (_p, call) => {
      calls.push(call);
      entered++;
      await gate.wait;
      return null;
    },
  };
  let calls: Array<{ gone: () => boolean }> = [];

  /** Handlers run on the server side of the socket: poll the counter they bump. */
  async function handlersRunning(n: number): Promise<void> {
    for (let i = 0; entered < n; i++) {
      if (i > 2000) assert.fail(`only ${entered} of ${n} handlers started`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'per-rpc-'));
    sockPath = path.join(dir, 'rpc.sock');
    gate = newGate();
    entered = 0;
    calls = [];
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sockPath, r));
    rpc = new RpcServer(server, methods, silentLogger, createMetrics(() => ({}), false));
  });
  afterEach(async () => {
    gate.open();
    await rpc.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a request split into single bytes is answered once', async () => {
    const c = await RawConn.connect(sockPath);
    const line = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'echo', params: { a: 'é' } }) + '\n');
    for (const b of line) await c.write(Buffer.from([b]));
    const r = await c.response(7);
    assert.deepEqual(r.result, { a: 'é' });
    c.destroy();
  });

  it('several requests in one chunk get one answer each, matched by id', async () => {
    const c = await RawConn.connect(sockPath);
    const lines = [1, 2, 3].map((id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'echo', params: [id] })).join('\n') + '\n';
    await c.write(lines);
    const rs = await c.atLeast(3);
    assert.deepEqual(rs.map((r) => [r.id, r.result]).sort(), [[1, [1]], [2, [2]], [3, [3]]]);
    c.destroy();
  });

  it('a notification is never answered; garbage gets a parse error and the connection stays usable', async () => {
    const c = await RawConn.connect(sockPath);
    await c.write(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: [1] }) + '\n');
    await c.write('{not json\n');
    const parseErr = await c.until('a parse error', () => c.responses.find((r) => r.error?.code === -32700));
    assert.equal(parseErr.id, null);
    assert.deepEqual((await c.call('echo', ['after'])).result, ['after']);
    assert.equal(c.responses.length, 2, 'nothing for the notification');
    c.destroy();
  });

  it('a frame over the limit gets an error and the connection is closed; other connections are unaffected', async () => {
    const c = await RawConn.connect(sockPath);
    const other = await RawConn.connect(sockPath);
    await c.write(Buffer.alloc(MAX_FRAME_BYTES + 10, 0x61)).catch(() => undefined);
    await c.waitEnded();
    assert.equal(c.responses[0]?.error?.code, -32600);
    assert.match(c.responses[0]?.error?.message ?? '', /exceeds/);
    assert.deepEqual((await other.call('echo', ['still here'])).result, ['still here']);
    c.destroy();
    other.destroy();
  });

  it(`more than ${MAX_INFLIGHT_PER_CONNECTION} requests in flight on one connection: the extra one is refused at once, the rest complete`, async () => {
    const c = await RawConn.connect(sockPath);
    const ids = Array.from({ length: MAX_INFLIGHT_PER_CONNECTION }, () => c.send('blocked'));
    await handlersRunning(MAX_INFLIGHT_PER_CONNECTION);
    const extra = c.send('blocked', undefined, 'extra');
    const refused = await c.response(extra);
    assert.equal(refused.error?.code, -32000);
    assert.match(refused.error?.message ?? '', /more than 32 requests in flight/);
    assert.equal(entered, MAX_INFLIGHT_PER_CONNECTION, 'the refused one never ran');
    gate.open();
    for (const id of ids) assert.equal((await c.response(id)).result, 'released');
    // the slots are free again
    assert.deepEqual((await c.call('echo', [1])).result, [1]);
    c.destroy();
  });

  it('a handler learns when its caller hung up (gone), and only its own caller', async () => {
    const c = await RawConn.connect(sockPath);
    const other = await RawConn.connect(sockPath);
    c.send('hangup');
    const kept = other.send('hangup');
    await handlersRunning(2);
    assert.deepEqual(calls.map((x) => x.gone()), [false, false]);
    c.destroy();
    for (let i = 0; !calls.some((x) => x.gone()); i++) {
      if (i > 2000) assert.fail('the server never saw the hang-up');
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(calls.filter((x) => x.gone()).length, 1, 'the other caller is still there');
    gate.open();
    assert.equal((await other.response(kept)).result, null);
    other.destroy();
  });

  it('the limit is per connection: another connection is served while one is full', async () => {
    const c = await RawConn.connect(sockPath);
    for (let i = 0; i < MAX_INFLIGHT_PER_CONNECTION; i++) c.send('blocked');
    await handlersRunning(MAX_INFLIGHT_PER_CONNECTION);
    const other = await RawConn.connect(sockPath);
    assert.deepEqual((await other.call('echo', ['ok'])).result, ['ok']);
    c.destroy();
    other.destroy();
  });

  it('errors: a CNI error keeps its code and details, bad params are -32602 with cniCode 4, a bug is 110, an unknown method -32601', async () => {
    const c = await RawConn.connect(sockPath);
    const check = await c.call('check');
    assert.equal(check.error?.code, 102);
    assert.deepEqual(check.error?.data, { details: 'the runtime has 198.18.0.8/24' });
    const invalid = await c.call('invalid');
    assert.equal(invalid.error?.code, -32602);
    assert.deepEqual(invalid.error?.data, { cniCode: 4 });
    assert.equal((await c.call('bug')).error?.code, 110);
    assert.equal((await c.call('toString')).error?.code, -32601, 'no method from Object.prototype');
    c.destroy();
  });

  it('an answer too large for one frame becomes an error with the same id, not a frame the client must refuse', async () => {
    const c = await RawConn.connect(sockPath);
    const r = await c.call('huge');
    assert.equal(r.error?.code, 5);
    assert.match(r.error?.message ?? '', /above the 1048576-byte frame limit.*offset and limit/);
    c.destroy();
  });
});
