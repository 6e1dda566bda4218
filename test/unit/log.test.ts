/**
 * The daemon's log lines, byte for byte as winston wrote them before it was replaced (the
 * expected strings were captured from the winston-based logger with the same calls).
 */
import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { createLogger, stableJson } from '../../daemon/log';

function capture(format: 'text' | 'json', level = 'debug') {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const log = createLogger({ level, format, stream });
  // timestamps vary: compare everything else
  const lines = () => chunks.join('').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T').split('\n').slice(0, -1);
  return { log, lines };
}

function exercise(log: ReturnType<typeof createLogger>): void {
  log.info('hello world', { b: 1, a: 'x y', z: undefined, n: null, o: { q: [1, 2] }, big: 'é\n"' });
  const c = log.child({ pod: 'p1', a: 'child' });
  c.warn('from child', { a: 'meta', k: true });
  c.child({ deeper: 1 }).error('deep', { e: new Error('boom') });
  log.debug('plain');
  log.info('with message field', { message: 'extra', level: 'x', timestamp: 'ts' });
}

describe('daemon log lines', () => {
  it('text: time level message key=value, child fields first, values JSON-escaped', () => {
    const { log, lines } = capture('text');
    exercise(log);
    assert.deepEqual(lines(), [
      'T info "hello world" b=1 a="x y" n=null o="{\\"q\\":[1,2]}" big="é\\n\\""',
      'T warn "from child" pod=p1 a=meta k=true',
      'T error deep pod=p1 a=child deeper=1 e="{}"',
      'T debug plain',
      'ts info "with message field extra"',
    ]);
  });

  it('json: one object a line, keys sorted', () => {
    const { log, lines } = capture('json');
    exercise(log);
    assert.deepEqual(lines(), [
      '{"a":"x y","b":1,"big":"é\\n\\"","level":"info","message":"hello world","n":null,"o":{"q":[1,2]},"timestamp":"T"}',
      '{"a":"meta","k":true,"level":"warn","message":"from child","pod":"p1","timestamp":"T"}',
      '{"a":"child","deeper":1,"e":{},"level":"error","message":"deep","pod":"p1","timestamp":"T"}',
      '{"level":"debug","message":"plain","timestamp":"T"}',
      '{"level":"info","message":"with message field extra","timestamp":"ts"}',
    ]);
  });

  it('drops lines below the level', () => {
    const { log, lines } = capture('text', 'warn');
    log.info('hidden');
    log.debug('hidden');
    log.warn('shown');
    log.error('shown too');
    assert.deepEqual(lines(), ['T warn shown', 'T error "shown too"']);
  });

  it('a line cannot be forged by a value with a newline, and long values are clipped', () => {
    const { log, lines } = capture('text');
    log.info('x', { v: 'a\nT error forged', long: 'y'.repeat(300) });
    assert.equal(lines().length, 1);
    assert.match(lines()[0] as string, /v="a\\nT error forged" long="y{256}…"$/);
  });

  it('stableJson survives cycles and bigints', () => {
    const o: Record<string, unknown> = { b: 2n, a: [1, undefined] };
    o.self = o;
    assert.equal(stableJson(o), '{"a":[1,null],"b":2,"self":"[Circular]"}');
  });

  it('rejects an unknown level', () => {
    assert.throws(() => createLogger({ level: 'verbose', format: 'text' }), /unknown log level/);
  });
});
