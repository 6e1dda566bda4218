import { strict as assert } from 'node:assert';
import { parseCniEnv, parseCniArgs } from '../../shared/cni-env';
import { CniError } from '../../shared/errors';
import { parseDuration, parseFlags, FlagError } from '../../daemon/flags';
import { LineFramer } from '../../shared/line-framer';

const add = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth1', CNI_PATH: '/opt/cni/bin' };

function envError(env: Record<string, string>): CniError {
  try {
    parseCniEnv(env);
  } catch (err) {
    assert.ok(err instanceof CniError);
    return err;
  }
  assert.fail('expected an error');
}

describe('CNI environment', () => {
  it('parses ADD with CNI_ARGS', () => {
    const e = parseCniEnv({ ...add, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=default' });
    assert.equal(e.command, 'ADD');
    assert.equal(e.args.get('K8S_POD_NAME'), 'web-0');
  });
  it('names every missing variable (code 4)', () => {
    const e = envError({ CNI_COMMAND: 'ADD' });
    assert.equal(e.code, 4);
    assert.match(e.message, /CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME/);
  });
  it('DEL does not need CNI_NETNS', () => {
    const { CNI_NETNS: _n, ...rest } = add;
    assert.equal(parseCniEnv({ ...rest, CNI_COMMAND: 'DEL' }).netns, '');
  });
  it('missing CNI_COMMAND, unknown command, bad container id, bad ifname, bad CNI_ARGS are code 4', () => {
    assert.match(envError({}).message, /CNI_COMMAND/);
    assert.match(envError({ ...add, CNI_COMMAND: 'FOO' }).message, /unknown CNI_COMMAND/);
    assert.match(envError({ ...add, CNI_CONTAINERID: '-x;rm' }).message, /CNI_CONTAINERID/);
    assert.match(envError({ ...add, CNI_IFNAME: 'a/b' }).message, /CNI_IFNAME/);
    assert.match(envError({ ...add, CNI_IFNAME: 'x'.repeat(16) }).message, /15 bytes/);
    assert.match(envError({ ...add, CNI_ARGS: 'novalue' }).message, /CNI_ARGS/);
    for (const e of [envError({}), envError({ ...add, CNI_IFNAME: 'a b' })]) assert.equal(e.code, 4);
  });
  it('CNI_ARGS: empty pairs are skipped, values may contain "="', () => {
    assert.deepEqual([...parseCniArgs('A=1;;B=x=y')], [['A', '1'], ['B', 'x=y']]);
  });
});

describe('daemon flags (reference-compatible)', () => {
  it('defaults match the reference', () => {
    const o = parseFlags([]);
    assert.equal(o.socketPath, '/run/cni/dhcp.sock');
    assert.equal(o.timeoutMs, 10_000);
    assert.equal(o.resendMaxMs, 62_000);
    assert.equal(o.resendTimeoutMs, 208_000);
    assert.equal(o.broadcast, false);
    assert.equal(o.stateDir, '/var/lib/cni/dhcp');
  });
  it('accepts Go flag syntax: -flag v, -flag=v, --flag v, bare booleans', () => {
    const o = parseFlags(['-socketpath', '/a.sock', '-pidfile=/p', '--hostprefix', '/host', '-broadcast', '-timeout=1m30s', '--state-dir', '/s']);
    assert.equal(o.socketPath, '/a.sock');
    assert.equal(o.pidfile, '/p');
    assert.equal(o.hostPrefix, '/host');
    assert.equal(o.broadcast, true);
    assert.equal(o.timeoutMs, 90_000);
    assert.equal(o.stateDir, '/s');
  });
  it('Go durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1h2m3s'), 3_723_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.throws(() => parseDuration('10'), FlagError);
    assert.throws(() => parseDuration('10x'), FlagError);
  });
  it('unknown flags, missing values and bad enums are errors', () => {
    assert.throws(() => parseFlags(['-nope']), /unknown flag/);
    assert.throws(() => parseFlags(['-socketpath']), /needs a value/);
    assert.throws(() => parseFlags(['--log-format', 'xml']), /log-format/);
    assert.throws(() => parseFlags(['-timeout', '0s']), /positive/);
  });
});

describe('line framing', () => {
  it('splits lines across chunks, including a message split at its start, middle and end', () => {
    const f = new LineFramer(100);
    assert.deepEqual(f.push(Buffer.from('{"a"')), []);
    assert.deepEqual(f.push(Buffer.from(':1}\n{"b":2}\n{')), ['{"a":1}', '{"b":2}']);
    assert.deepEqual(f.push(Buffer.from('}\n')), ['{}']);
    assert.equal(f.pendingBytes, 0);
  });
  it('a frame over the bound is an error, also when it never ends', () => {
    assert.throws(() => new LineFramer(8).push(Buffer.from('123456789\n')), RangeError);
    const f = new LineFramer(8);
    f.push(Buffer.from('1234'));
    assert.throws(() => f.push(Buffer.from('56789')), RangeError);
  });
  it('multi-byte UTF-8 split across chunks is kept intact', () => {
    const f = new LineFramer(100);
    const b = Buffer.from('"é"\n');
    assert.deepEqual([...f.push(b.subarray(0, 2)), ...f.push(b.subarray(2))], ['"é"']);
  });
});
