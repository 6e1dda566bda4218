/**
 * Issue 6 §3: the guarded RPC. Every bad request over the daemon's Unix socket gets a JSON-RPC
 * error with a precise code and message; bad frames, garbage, half-written frames and clients
 * that vanish mid-request cost only their own connection; 1,000 random requests leave a daemon
 * that still answers and still leases. Then the socket file's life: modes, stale and live files,
 * SIGTERM.
 */
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Method, MAX_FRAME_BYTES } from '../../shared/rpc-protocol';
import { Lab, SHIM } from '../helpers/lab';
import { plugPod } from '../helpers/fake-dhcp-server';
import { RawConn, rawCall, type RpcResponse } from '../helpers/rpc-raw';
import { requireRootTools, startProcess, stopProcess, waitFor } from '../helpers/sh';

/**
 * Long enough for one retransmission (4 ± 1 s): the bridge ADD at the end may lose its first
 * DISCOVER to the link-watcher race described at plugPod().
 */
const TIMEOUT_MS = 6000;
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;

function assertError(r: RpcResponse, code: number, message: RegExp, what = ''): void {
  assert.ok(r.error, `${what}: expected an error, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, `${what}: ${JSON.stringify(r)}`);
  const text = `${r.error.message} ${JSON.stringify(r.error.data ?? '')}`;
  assert.match(text, message, `${what}: ${JSON.stringify(r)}`);
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

describe('guarded RPC: abuse of the daemon socket @root', function () {
  this.timeout(60_000);
  let lab: Lab;
  let livePod: string;
  let silentPod: string;
  let podN = 0;
  const sock = () => lab.socketPath;
  const pid = () => lab.daemon?.pid as number;
  /** valid add params; override fields per case */
  const addP = (over: Record<string, unknown> = {}) => ({ containerId: 'abuse1', netName: 'abusenet', ifname: 'eth1', netns: lab.podPath(livePod), provide: [], requestList: [], ...over });
  const ref = (over: Record<string, unknown> = {}) => ({ containerId: 'abuse1', netName: 'abusenet', ifname: 'eth1', ...over });

  before(async function () {
    requireRootTools(this, ['/usr/sbin/dnsmasq', '/usr/lib/cni/bridge']);
    lab = await Lab.create('rpca');
    await lab.startDnsmasq();
    await lab.startDaemon(['-timeout', `${TIMEOUT_MS / 1000}s`]);
    livePod = await lab.addPod();
    await plugPod(lab, livePod, podN++);
    // an eth1 on no segment: nobody answers, so an ADD there stays in flight until -timeout
    silentPod = await lab.addPod();
    await plugPod(lab, silentPod, podN++, false);
  });
  after(async () => {
    await lab?.cleanup();
  });
  afterEach(function () {
    if (lab?.daemon && lab.daemon.exitCode !== null) throw new Error(`the daemon died: ${lab.daemonLog().slice(-3000)}`);
  });

  describe('envelope errors', () => {
    let c: RawConn;
    before(async () => {
      c = await RawConn.connect(sock());
    });
    after(() => c.destroy());
    const line = async (text: string) => {
      const n = c.responses.length;
      await c.write(text + '\n');
      return (await c.atLeast(n + 1))[n] as RpcResponse;
    };

    it('malformed JSON → -32700 parse error, id null', async () => {
      for (const bad of ['{"jsonrpc":"2.0",', '{id:1}', "{'a':1}", 'nul', '{"jsonrpc":"2.0","method":"cni.status","id":1}}']) {
        const r = await line(bad);
        assertError(r, PARSE_ERROR, /Parse error/, bad);
        assert.equal(r.id, null);
      }
    });

    it('a JSON array (batch) → -32600, also an empty one', async () => {
      assertError(await line(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'cni.status' }])), INVALID_REQUEST, /batches are not supported/);
      assertError(await line('[]'), INVALID_REQUEST, /Invalid request/);
      assertError(await line('[1,2,3]'), INVALID_REQUEST, /batches are not supported/);
    });

    it('JSON that is not a request object → -32600', async () => {
      for (const bad of ['42', 'null', '"cni.status"', '{}', 'true', '{"method":"cni.status","id":1}', '{"jsonrpc":"2.0","method":7,"id":1}']) {
        assertError(await line(bad), INVALID_REQUEST, /Invalid request/, bad);
      }
      // a response sent to the server
      assertError(await line('{"jsonrpc":"2.0","result":1,"id":1}'), INVALID_REQUEST, /expected a request/);
    });

    it('an id that is not a string or an integer → -32600 (not -32603 "Internal error")', async () => {
      for (const bad of ['1.5', '{}', '[]', 'null', 'true']) {
        assertError(await line(`{"jsonrpc":"2.0","method":"cni.status","id":${bad}}`), INVALID_REQUEST, /Invalid request.*id.* must be provided, a string or an integer/, bad);
      }
    });

    it('params that are not an object or array → -32602', async () => {
      for (const bad of ['42', '"x"', 'null']) {
        assertError(await line(`{"jsonrpc":"2.0","method":"cni.add","id":9,"params":${bad}}`), INVALID_PARAMS, /Invalid params/, bad);
      }
    });

    it('unknown methods → -32601 naming the method, inherited property names included', async () => {
      assertError(await line('{"jsonrpc":"2.0","id":3,"method":""}'), INVALID_REQUEST, /Invalid request/, 'empty method');
      for (const m of ['cni.nope', 'CNI.ADD', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(5000)]) {
        const r = await c.call(m, {});
        assertError(r, METHOD_NOT_FOUND, /Method not found/, m.slice(0, 20));
        assert.ok(JSON.stringify(r).length < 500, 'the echoed method name is clipped');
      }
    });

    it('a notification (no id) is never answered, even when it fails', async () => {
      const n = c.responses.length;
      await c.write('{"jsonrpc":"2.0","method":"cni.nope"}\n{"jsonrpc":"2.0","method":"cni.add","params":{}}\n{"jsonrpc":"2.0","method":"cni.status"}\n');
      const r = await c.call(Method.Status, {});
      assert.ok(r.result);
      assert.equal(c.responses.length, n + 1, JSON.stringify(c.responses.slice(n)));
    });
  });

  describe('params: every method validates every field', () => {
    type Case = [method: string, params: unknown, code: number, msg: RegExp];
    const nul = 'a\u0000b';
    const cases = (): Case[] => [
      // cni.add
      [Method.Add, undefined, INVALID_PARAMS, /params must be an object/],
      [Method.Add, [1, 2], INVALID_PARAMS, /params must be an object/],
      [Method.Add, {}, INVALID_PARAMS, /containerId must be a non-empty string/],
      [Method.Add, addP({ netns: undefined }), INVALID_PARAMS, /netns must be a non-empty string/],
      [Method.Add, addP({ netns: 'var/run/netns/x' }), INVALID_PARAMS, /netns must be an absolute path/],
      [Method.Add, addP({ netns: `/var/run/netns/${nul}` }), INVALID_PARAMS, /netns contains NUL/],
      [Method.Add, addP({ netns: '/' + 'a'.repeat(5000) }), INVALID_PARAMS, /netns is too long/],
      [Method.Add, addP({ netns: 42 }), INVALID_PARAMS, /netns must be a non-empty string/],
      [Method.Add, addP({ netns: '/etc/hostname' }), 4, /CNI_NETNS \/etc\/hostname is not a network namespace/],
      [Method.Add, addP({ netns: '/dev/null' }), 4, /not a network namespace/],
      [Method.Add, addP({ netns: '/tmp' }), 4, /not a network namespace/],
      [Method.Add, addP({ netns: '/proc/self/ns/mnt' }), 4, /not a network namespace.*not CLONE_NEWNET/],
      [Method.Add, addP({ netns: '/proc/self/ns/user' }), 4, /not a network namespace/],
      [Method.Add, addP({ netns: '/var/run/netns/cdt-never-existed' }), 3, /does not exist/],
      [Method.Add, addP({ ifname: 'a'.repeat(16) }), INVALID_PARAMS, /ifname is too long/],
      [Method.Add, addP({ ifname: 'é'.repeat(8) }), INVALID_PARAMS, /ifname is too long/], // 16 bytes, 8 characters
      [Method.Add, addP({ ifname: 'a/b' }), INVALID_PARAMS, /ifname contains "\/"/],
      [Method.Add, addP({ ifname: nul }), INVALID_PARAMS, /ifname contains NUL/],
      [Method.Add, addP({ ifname: '..' }), INVALID_PARAMS, /ifname is "\." or "\.\."/],
      [Method.Add, addP({ ifname: 'a b' }), INVALID_PARAMS, /ifname contains/],
      [Method.Add, addP({ ifname: '' }), INVALID_PARAMS, /ifname must be a non-empty string/],
      [Method.Add, addP({ ifname: 'eth9' }), 5, /cannot open eth9/],
      [Method.Add, addP({ containerId: '../../etc' }), INVALID_PARAMS, /containerId has invalid characters/],
      [Method.Add, addP({ containerId: 'a b' }), INVALID_PARAMS, /containerId has invalid characters/],
      [Method.Add, addP({ containerId: '-x' }), INVALID_PARAMS, /containerId has invalid characters/],
      [Method.Add, addP({ containerId: 'x;reboot' }), INVALID_PARAMS, /containerId has invalid characters/],
      [Method.Add, addP({ containerId: 'a'.repeat(2000) }), INVALID_PARAMS, /containerId is too long/],
      [Method.Add, addP({ netName: 'a/b' }), INVALID_PARAMS, /netName has invalid characters/],
      [Method.Add, addP({ requestList: [0] }), INVALID_PARAMS, /requestList holds an invalid option code/],
      [Method.Add, addP({ requestList: [255] }), INVALID_PARAMS, /requestList holds an invalid option code/],
      [Method.Add, addP({ requestList: Array(300).fill(1) }), INVALID_PARAMS, /requestList must be an array of at most 255/],
      [Method.Add, addP({ requestList: 'all' }), INVALID_PARAMS, /requestList must be an array/],
      [Method.Add, addP({ provide: [{ code: 300, value: 'x' }] }), INVALID_PARAMS, /provide.code is invalid/],
      [Method.Add, addP({ provide: [{ code: 12 }] }), INVALID_PARAMS, /value must be a non-empty string/],
      [Method.Add, addP({ provide: [{ code: 12, value: 'x'.repeat(300) }] }), INVALID_PARAMS, /value is too long/],
      [Method.Add, addP({ provide: Array(65).fill({ code: 12, value: 'x' }) }), INVALID_PARAMS, /provide must be an array of at most 64/],
      [Method.Add, addP({ podName: 7 }), INVALID_PARAMS, /podName must be a non-empty string/],
      // cni.del
      [Method.Del, undefined, INVALID_PARAMS, /params must be an object/],
      [Method.Del, ref({ containerId: undefined }), INVALID_PARAMS, /containerId must be a non-empty string/],
      [Method.Del, ref({ ifname: 'a'.repeat(16) }), INVALID_PARAMS, /ifname is too long/],
      [Method.Del, ref({ ifname: nul }), INVALID_PARAMS, /ifname contains NUL/],
      [Method.Del, ref({ netns: 'relative' }), INVALID_PARAMS, /netns must be an absolute path/],
      [Method.Del, ref({ containerId: 'bad$id' }), INVALID_PARAMS, /containerId has invalid characters/],
      // cni.check
      [Method.Check, ref({ netns: lab.podPath(livePod) }), INVALID_PARAMS, /expectedAddresses must be an array/],
      [Method.Check, ref({ netns: lab.podPath(livePod), expectedAddresses: [1] }), INVALID_PARAMS, /expectedAddresses must be an array of CIDR strings/],
      [Method.Check, ref({ expectedAddresses: [] }), INVALID_PARAMS, /netns must be a non-empty string/],
      [Method.Check, ref({ netns: 'x', expectedAddresses: [] }), INVALID_PARAMS, /netns must be an absolute path/],
      [Method.Check, ref({ ifname: 'a/b', netns: '/x', expectedAddresses: [] }), INVALID_PARAMS, /ifname contains "\/"/],
      [Method.Check, ref({ netns: lab.podPath(livePod), expectedAddresses: [] }), 102, /no lease held for abuse1\/abusenet\/eth1/],
      // cni.gc
      [Method.Gc, undefined, INVALID_PARAMS, /params must be an object/],
      [Method.Gc, { netName: 'n' }, INVALID_PARAMS, /validAttachments must be an array/],
      [Method.Gc, { netName: 'a b', validAttachments: [] }, INVALID_PARAMS, /netName has invalid characters/],
      [Method.Gc, { netName: 'n', validAttachments: [42] }, INVALID_PARAMS, /params must be an object/],
      [Method.Gc, { netName: 'n', validAttachments: [{ containerId: 'c' }] }, INVALID_PARAMS, /ifname must be a non-empty string/],
      // daemon.leases
      [Method.Leases, [1], INVALID_PARAMS, /params must be an object/],
      [Method.Leases, { containerId: 5 }, INVALID_PARAMS, /containerId must be a non-empty string/],
      [Method.Leases, { state: 'x'.repeat(40) }, INVALID_PARAMS, /state is too long/],
      // daemon.release
      [Method.Release, undefined, INVALID_PARAMS, /params must be an object/],
      [Method.Release, {}, INVALID_PARAMS, /containerId must be a non-empty string/],
      [Method.Release, { containerId: 'c', ifname: 'a'.repeat(16) }, INVALID_PARAMS, /ifname is too long/],
      [Method.Release, { containerId: 'c', ifname: '' }, INVALID_PARAMS, /ifname must be a non-empty string/],
    ];

    it('each bad params object gets its error code and message, with its id, over one connection', async () => {
      const c = await RawConn.connect(sock());
      try {
        for (const [method, params, code, msg] of cases()) {
          const what = `${method} ${JSON.stringify(params)?.slice(0, 120)}`;
          const r = await c.call(method, params);
          assertError(r, code, msg, what);
          if (code === INVALID_PARAMS) assert.deepEqual((r.error?.data as { cniCode?: number })?.cniCode, 4, `${what}: cniCode 4 in data`);
        }
      } finally {
        c.destroy();
      }
    });

    it('cni.status and daemon.status ignore any params', async () => {
      for (const p of [undefined, {}, [1], { x: 'y'.repeat(1000) }]) {
        assert.ok((await rawCall(sock(), Method.Status, p)).result, JSON.stringify(p));
        assert.equal(((await rawCall(sock(), Method.DaemonStatus, p)).result as { pid: number }).pid, pid());
      }
    });
  });

  describe('frames and connections', () => {
    it('a frame over 1 MiB is answered with an error, then the connection is closed', async () => {
      const c = await RawConn.connect(sock());
      try {
        const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: Method.Status, params: { pad: 'x'.repeat(MAX_FRAME_BYTES) } });
        c.sock.write(big + '\n');
        await c.waitEnded();
        assert.equal(c.responses.length, 1, JSON.stringify(c.responses).slice(0, 500));
        assertError(c.responses[0] as RpcResponse, INVALID_REQUEST, /frame exceeds 1048576 bytes/);
      } finally {
        c.destroy();
      }
      // also without any newline at all: the daemon does not buffer without bound
      const d = await RawConn.connect(sock());
      try {
        for (let i = 0; i < 3 && !d.ended; i++) await d.write(Buffer.alloc(MAX_FRAME_BYTES / 2, 0x61)).catch(() => undefined);
        await d.waitEnded();
        assertError(d.responses[0] as RpcResponse, INVALID_REQUEST, /frame exceeds/);
      } finally {
        d.destroy();
      }
      assert.ok((await rawCall(sock(), Method.Status)).result);
    });

    it('a frame of exactly 1 MiB is still accepted', async () => {
      const skeleton = JSON.stringify({ jsonrpc: '2.0', id: 7, method: Method.Status, params: { pad: '' } });
      const pad = 'x'.repeat(MAX_FRAME_BYTES - Buffer.byteLength(skeleton));
      const c = await RawConn.connect(sock());
      try {
        c.sock.write(JSON.stringify({ jsonrpc: '2.0', id: 7, method: Method.Status, params: { pad } }) + '\n');
        assert.ok((await c.response(7)).result);
      } finally {
        c.destroy();
      }
    });

    it('a half-written frame, then a disconnect: nothing happens, other clients are served', async () => {
      for (let i = 0; i < 20; i++) {
        const c = await RawConn.connect(sock());
        await c.write('{"jsonrpc":"2.0","id":1,"method":"cni.add","params":{"containerId":"half');
        c.destroy();
      }
      const c = await RawConn.connect(sock());
      await c.write('{"jsonrpc":"2.0","id":1,');
      c.sock.end(); // half-close: the daemon never sees the rest of this frame
      await c.waitEnded();
      assert.equal(c.responses.length, 0);
      c.destroy();
      assert.ok((await rawCall(sock(), Method.Status)).result);
    });

    it('garbage bytes get one parse error per line; the daemon keeps serving', async () => {
      for (let round = 0; round < 5; round++) {
        const c = await RawConn.connect(sock());
        const junk = crypto.randomBytes(256 * 1024);
        await c.write(junk).catch(() => undefined);
        await c.write('\n').catch(() => undefined);
        // the daemon splits on 0x0a and skips blank lines; every other line is answered
        const lines = junk.toString('utf8').split('\n').filter((l) => l.trim() !== '').length;
        await c.atLeast(lines, 10_000);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(c.responses.length, lines, 'one answer per garbage line');
        for (const r of c.responses) {
          assert.equal(r.unparsable, undefined, 'every answer is JSON');
          assert.ok(r.error && r.id === null, JSON.stringify(r));
        }
        c.destroy();
      }
      assert.ok((await rawCall(sock(), Method.Status)).result);
    });

    it('a client that disconnects during its ADD: the daemon does not crash, other clients and leases are unaffected', async () => {
      const c = await RawConn.connect(sock());
      c.send(Method.Add, addP({ containerId: 'gone1', netns: lab.podPath(silentPod) }));
      await waitFor('the ADD to be in flight', async () => ((await rawCall(sock(), Method.Leases, { containerId: 'gone1' })).result as unknown[]).length === 1 || undefined);
      c.destroy();
      // meanwhile, another lease is taken and the daemon answers
      const other = await rawCall(sock(), Method.Add, addP({ containerId: 'other1' }));
      assert.equal((other.result as { state: string }).state, 'BOUND', JSON.stringify(other));
      assert.ok((await rawCall(sock(), Method.Status)).result);
      // the abandoned ADD runs into its deadline and is dropped
      await waitFor('the abandoned ADD to be dropped', async () => ((await rawCall(sock(), Method.Leases, { containerId: 'gone1' })).result as unknown[]).length === 0 || undefined, TIMEOUT_MS + 3000);
      const still = (await rawCall(sock(), Method.Leases, { containerId: 'other1' })).result as Array<{ state: string }>;
      assert.equal(still[0]?.state, 'BOUND');
      assert.doesNotMatch(lab.daemonLog(), /uncaught exception|unhandled rejection|request failed unexpectedly/);
    });

    it('more than 32 requests in flight on one connection: the excess is refused by id, the rest completes, the connection stays usable', async () => {
      const c = await RawConn.connect(sock());
      try {
        const ids: number[] = [];
        let batch = '';
        for (let i = 0; i < 40; i++) {
          ids.push(100 + i);
          batch += JSON.stringify({ jsonrpc: '2.0', id: 100 + i, method: Method.Add, params: addP({ containerId: `flight${i}`, netns: lab.podPath(silentPod) }) }) + '\n';
        }
        const t0 = Date.now();
        await c.write(batch);
        const refused = await c.until('8 refusals', () => {
          const r = c.responses.filter((x) => x.error?.code === -32000);
          return r.length >= 8 ? r : undefined;
        }, 2000);
        assert.ok(Date.now() - t0 < TIMEOUT_MS, 'refused at once');
        for (const r of refused) assertError(r, -32000, /more than 32 requests in flight on one connection/);
        assert.deepEqual(refused.map((r) => r.id).sort(), ids.slice(32), 'the refusals carry the ids of the last 8 requests');
        // another connection is served meanwhile
        assert.ok((await rawCall(sock(), Method.Status)).result);
        // the 32 accepted ADDs each end at the deadline with code 11
        const done = await c.atLeast(40, TIMEOUT_MS + 5000);
        const timedOut = done.filter((r) => r.error?.code === 11);
        assert.equal(timedOut.length, 32, JSON.stringify(done.filter((r) => r.error?.code !== 11 && r.error?.code !== -32000)));
        assert.deepEqual(timedOut.map((r) => r.id).sort(), ids.slice(0, 32));
        assert.ok((await c.call(Method.Status)).result, 'the connection serves again');
      } finally {
        c.destroy();
      }
    });
  });

  describe('1,000 random requests', () => {
    it('every request gets exactly one answer; afterwards the daemon answers cni.status, a real ADD through bridge works, and RSS did not balloon', async function () {
      this.timeout(90_000);
      const seed = Number(process.env.CDT_FUZZ_SEED ?? Date.now() % 2 ** 31);
      const netName = `lab-${lab.id}`;
      const str = fc.string({ maxLength: 24 });
      const idStr = fc.oneof(fc.constantFrom('fz0', 'fz1', 'fz2', 'abuse1', '../x', 'a b', '', '-', 'x'.repeat(1100)), fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,15}$/), str, fc.integer());
      const netns = fc.oneof(
        fc.constantFrom(lab.podPath(livePod), lab.podPath(silentPod), '/proc/self/ns/net', '/proc/self/ns/mnt', '/proc/self/ns/pid', '/etc/hostname', '/dev/null', '/dev/zero', '/tmp', '/', '', 'relative', '/var/run/netns/cdt-missing', '/var/run/netns/../netns/x', '/proc/self/fd/0'),
        str.map((s) => `/${s}`),
        str,
        fc.jsonValue({ maxDepth: 1 }),
      );
      // never a path into the host's root namespace (/proc/1/...): ADDs may bring links up
      const ifname = fc.oneof(fc.constantFrom('eth1', 'eth1', 'lo', 'eth9', 'a'.repeat(16), 'a/b', 'a\u0000b', '..', '', 'é'.repeat(8)), str, fc.integer());
      /** mostly a valid value, sometimes a hostile one, sometimes absent */
      const field = <T,>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<unknown>) =>
        fc.oneof({ weight: 8, arbitrary: valid }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.constant(undefined) });
      const validId = fc.oneof(fc.constantFrom('fz0', 'fz1', 'fz2', 'fz3'), fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,15}$/));
      const nearValid = fc.record({
        containerId: field(validId, idStr),
        netName: field(fc.constantFrom(netName, 'fznet'), str),
        ifname: field(fc.constantFrom('eth1', 'eth1', 'eth1', 'lo'), ifname),
        netns: field(fc.constantFrom(lab.podPath(livePod), lab.podPath(livePod), lab.podPath(silentPod), '/proc/self/ns/net'), netns),
        provide: field(
          fc.array(fc.record({ code: fc.integer({ min: 1, max: 254 }), value: fc.string({ minLength: 1, maxLength: 16 }) }), { maxLength: 2 }),
          fc.oneof(fc.array(fc.record({ code: fc.integer({ min: -2, max: 260 }), value: fc.oneof(str, fc.integer()) }), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })),
        ),
        requestList: field(fc.array(fc.integer({ min: 1, max: 254 }), { maxLength: 8 }), fc.oneof(fc.array(fc.integer({ min: -2, max: 260 }), { maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }))),
        expectedAddresses: field(fc.constantFrom([], ['198.18.0.10/24']), fc.oneof(fc.array(str, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }))),
        validAttachments: field(fc.array(fc.record({ containerId: validId, ifname: fc.constant('eth1') }), { maxLength: 3 }), fc.oneof(fc.array(fc.record({ containerId: idStr, ifname }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }))),
        state: field(fc.constantFrom('bound', 'BOUND', 'selecting'), str),
        podName: field(fc.stringMatching(/^[a-z0-9-]{1,20}$/), fc.jsonValue({ maxDepth: 0 })),
      });
      const method = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...Object.values(Method)) },
        { weight: 1, arbitrary: fc.constantFrom('cni.ADD', 'daemon.', '__proto__', 'constructor', 'toString', 'valueOf', 'rpc.discover', '') },
        { weight: 1, arbitrary: str },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
      );
      const params = fc.oneof({ weight: 6, arbitrary: nearValid }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) });
      type Gen =
        | { kind: 'request'; method: unknown; params: unknown; jsonrpc: unknown; idKind: 'int' | 'string' | 'bad' }
        | { kind: 'json'; value: unknown }
        | { kind: 'bytes'; bytes: Uint8Array }
        | { kind: 'batch'; n: number };
      const gen: fc.Arbitrary<Gen> = fc.oneof(
        { weight: 14, arbitrary: fc.record({ kind: fc.constant('request' as const), method, params, jsonrpc: fc.oneof({ weight: 9, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 0 }) }), idKind: fc.constantFrom('int' as const, 'int' as const, 'string' as const, 'bad' as const) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 3 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 200 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('batch' as const), n: fc.integer({ min: 0, max: 5 }) }) },
      );
      const samples = fc.sample(gen, { numRuns: 1000, seed });

      // one line per sample; each line gets exactly one answer (no notifications are generated)
      let nextId = 1;
      const lines: Array<{ text: string; id?: string | number }> = samples.map((g) => {
        switch (g.kind) {
          case 'request': {
            const id = g.idKind === 'int' ? nextId++ : g.idKind === 'string' ? `s${nextId++}` : 1.5;
            const o: Record<string, unknown> = { jsonrpc: g.jsonrpc, id, method: g.method };
            if (g.params !== undefined) o.params = g.params;
            const valid = g.jsonrpc === '2.0' && typeof g.method === 'string' && g.method !== '' && g.idKind !== 'bad' && (g.params === undefined || (typeof g.params === 'object' && g.params !== null));
            return valid ? { text: JSON.stringify(o), id } : { text: JSON.stringify(o) };
          }
          case 'json': {
            const t = JSON.stringify(g.value) ?? 'null';
            return { text: t.trim() === '' ? '""' : t };
          }
          case 'bytes': // no newline inside, never blank (blank lines are skipped, not answered)
            return { text: 'z' + Buffer.from(g.bytes.map((b) => (b === 10 ? 32 : b))).toString('latin1') };
          case 'batch':
            return { text: JSON.stringify(Array.from({ length: g.n }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: Method.Status }))) };
        }
      });
      // a json sample can happen to be a valid request without id (a notification): those are not answered
      const notification = (t: string) => {
        try {
          const o = JSON.parse(t) as Record<string, unknown> | null;
          const paramsOk = o?.params === undefined || (typeof o.params === 'object' && o.params !== null);
          return !!o && typeof o === 'object' && !Array.isArray(o) && o.jsonrpc === '2.0' && typeof o.method === 'string' && o.method !== '' && paramsOk && !('id' in o);
        } catch {
          return false;
        }
      };
      const answered = lines.filter((l) => !notification(l.text));

      await new Promise((r) => setTimeout(r, 300));
      const rssBefore = rssKb(pid());
      const CONNS = 10;
      const MAX_INFLIGHT = 16;
      const t0 = Date.now();
      const outcomes = new Map<string, number>();
      await Promise.all(
        Array.from({ length: CONNS }, async (_, k) => {
          const mine = answered.filter((_, i) => i % CONNS === k);
          const c = await RawConn.connect(sock());
          try {
            for (let i = 0; i < mine.length; i++) {
              await c.until('room in the pipeline', () => i - c.responses.length < MAX_INFLIGHT || undefined, 40_000);
              c.sock.write((mine[i] as { text: string }).text + '\n');
            }
            await c.atLeast(mine.length, 40_000);
            assert.equal(c.responses.length, mine.length, `seed ${seed}: exactly one answer per line`);
            for (const r of c.responses) {
              const k = r.error ? String(r.error.code) : 'ok';
              outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
              assert.equal(r.unparsable, undefined, `seed ${seed}`);
              assert.equal(r.jsonrpc, '2.0', `seed ${seed}: ${JSON.stringify(r)}`);
              assert.ok(('result' in r) !== ('error' in r), `seed ${seed}: result xor error: ${JSON.stringify(r)}`);
              if (r.error) assert.ok(Number.isInteger(r.error.code) && typeof r.error.message === 'string', `seed ${seed}: ${JSON.stringify(r)}`);
            }
            for (const l of mine) if (l.id !== undefined) assert.ok(c.responses.some((r) => r.id === l.id), `seed ${seed}: no answer for id ${l.id}: ${l.text.slice(0, 300)}`);
          } finally {
            c.destroy();
          }
        }),
      );
      const elapsed = Date.now() - t0;
      assert.ok(lab.daemon && lab.daemon.exitCode === null, `seed ${seed}: the daemon is alive`);
      assert.ok((await rawCall(sock(), Method.Status)).result, `seed ${seed}: cni.status`);
      // a real ADD, exec'd through the reference bridge plugin as a runtime does
      const pod = await lab.addPod();
      const r = await lab.cni({ plugin: 'bridge', command: 'ADD', pod, config: lab.bridgeConfig('1.0.0') });
      assert.equal(r.code, 0, `seed ${seed}: bridge ADD after the fuzz: ${r.stdout}${r.stderr}`);
      assert.match(await lab.podAddr(pod), /inet 198\.18\.0\.\d+\/24/);
      const rssAfter = rssKb(pid());
      assert.ok(rssAfter - rssBefore < 64 * 1024, `seed ${seed}: RSS grew from ${rssBefore} kB to ${rssAfter} kB`);
      assert.doesNotMatch(lab.daemonLog(), /uncaught exception|unhandled rejection|request failed unexpectedly/, `seed ${seed}`);
      // eslint-disable-next-line no-console
      const summary = [...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`).join(' ');
      console.log(`      (seed ${seed}: ${answered.length} requests in ${elapsed} ms [${summary}], RSS ${rssBefore} → ${rssAfter} kB)`);
    });
  });

  describe('the socket file', () => {
    const extraDaemons: ChildProcess[] = [];
    const spawnDaemon = (socketPath: string, tag: string, extra: string[] = []) => {
      const state = path.join(lab.dir, `state-${tag}`);
      const log = path.join(lab.dir, `daemon-${tag}.log`);
      const d = startProcess('ip', ['netns', 'exec', lab.nodeNs, process.execPath, SHIM, 'daemon', '-socketpath', socketPath, '--state-dir', state, ...extra], log);
      lab.track(d);
      extraDaemons.push(d);
      const exited = new Promise<number | null>((res) => d.once('exit', (code) => res(code)));
      return { d, log: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''), exited };
    };
    after(async () => {
      for (const d of extraDaemons) await stopProcess(d, 2000);
    });

    it('is mode 0600, in a directory the daemon created with mode 0700', () => {
      const st = fs.statSync(sock());
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(sock())).mode & 0o777, 0o700);
    });

    it('a stale socket file (its daemon was killed) is replaced at start', async () => {
      const stale = path.join(lab.dir, 'stale', 'dhcp.sock');
      fs.mkdirSync(path.dirname(stale), { mode: 0o700 });
      const holder = startProcess(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], path.join(lab.dir, 'holder.log'));
      lab.track(holder);
      await waitFor('holder socket', () => fs.existsSync(stale) || undefined);
      process.kill(holder.pid as number, 'SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      assert.ok(fs.existsSync(stale), 'the killed holder left its socket file');
      const { d } = spawnDaemon(stale, 'stale');
      await waitFor('the new daemon to answer on the stale path', async () => (await rawCall(stale, Method.Status, undefined, 1000)).result && true, 10_000);
      assert.equal(((await rawCall(stale, Method.DaemonStatus)).result as { pid: number }).pid, d.pid);
      await stopProcess(d, 3000);
      assert.ok(!fs.existsSync(stale), 'SIGTERM removed its socket');
    });

    it('a live socket is refused: a second daemon on the same path exits non-zero with a clear message', async () => {
      const { exited, log } = spawnDaemon(sock(), 'second');
      const code = await exited;
      assert.notEqual(code, 0);
      assert.match(log(), /another daemon is already serving .*dhcp\.sock/);
      assert.ok(fs.existsSync(sock()), 'the first daemon keeps its socket');
      assert.ok((await rawCall(sock(), Method.Status)).result, 'and keeps serving');
    });

    it('a path that is not a socket is never replaced', async () => {
      const file = path.join(lab.dir, 'not-a-socket');
      fs.writeFileSync(file, 'precious\n');
      const { exited, log } = spawnDaemon(file, 'file');
      assert.notEqual(await exited, 0);
      assert.match(log(), /exists and is not a socket; refusing to replace it/);
      assert.equal(fs.readFileSync(file, 'utf8'), 'precious\n');
    });

    it('with -hostprefix, a netns path that climbs out of the prefix with ".." is refused (code 4)', async () => {
      const prefix = path.join(lab.dir, 'host');
      fs.mkdirSync(prefix);
      const { d } = spawnDaemon('/run/dhcp.sock', 'prefix', ['-hostprefix', prefix]);
      const psock = path.join(prefix, 'run', 'dhcp.sock');
      await waitFor('the prefixed daemon', async () => (await rawCall(psock, Method.Status, undefined, 1000)).result && true, 10_000);
      // without the check this resolves to the daemon's own namespace, which is a valid netns
      const escape = await rawCall(psock, Method.Add, addP({ netns: '/../../../../../../../../proc/self/ns/net', ifname: 'eth9' }));
      assertError(escape, 4, /is not under -hostprefix/);
      const inside = await rawCall(psock, Method.Add, addP({ netns: lab.podPath(livePod) }));
      assertError(inside, 3, /does not exist/); // resolved under the prefix, where no namespace is mounted
      await stopProcess(d, 3000);
    });

    it('SIGTERM removes the socket file and keeps the lease files', async () => {
      const files = fs.readdirSync(lab.stateDir).filter((f) => f.endsWith('.json'));
      assert.ok(files.length >= 1, 'there are leases on disk');
      const d = lab.daemon as ChildProcess;
      const exited = new Promise<number | null>((res) => d.once('exit', (code) => res(code)));
      await lab.stopDaemon('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(!fs.existsSync(sock()), 'the socket file is gone');
      assert.deepEqual(fs.readdirSync(lab.stateDir).filter((f) => f.endsWith('.json')).sort(), files.sort(), 'every lease file is still there');
    });
  });
});
