/**
 * Without --metrics-address the daemon takes noMetrics(): every metric call is accepted and
 * does nothing, and prom-client is never loaded (its memory is the point).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { createMetrics, noMetrics, type Metrics } from '../../daemon/metrics';

const REPO = path.resolve(__dirname, '..', '..');

describe('metrics off', () => {
  it('noMetrics accepts every call the daemon makes, on every member, known or added later', () => {
    const m = noMetrics();
    m.renewals.inc();
    m.dropped.inc({ reason: 'malformed' });
    m.rpc.labels({ method: 'ADD', outcome: 'ok' }).inc(2);
    m.acquireSeconds.observe(0.2);
    const end = m.renewSeconds.startTimer();
    assert.equal(typeof end(), 'number');
    const later = (m as unknown as Record<string, Metrics['renewals']>).someCounterAddedLater as Metrics['renewals'];
    later.inc();
    later.reset();
    // a no-op is not a thenable: awaiting it must not hang
    assert.equal((m as unknown as { then?: unknown }).then, undefined);
  });

  it('createMetrics still counts (the real registry, loaded on demand)', async () => {
    const m = createMetrics(() => ({ ipv4: { BOUND: 3 }, ipv6: { RENEWING: 1 } }), false);
    m.renewals.inc({ family: 'ipv6' });
    m.rpc.inc({ method: 'ADD', outcome: 'ok' });
    const text = await m.registry.metrics();
    assert.match(text, /^cni_dhcp_renewals_total\{family="ipv6"\} 1$/m);
    assert.match(text, /^cni_dhcp_rpc_requests_total\{method="ADD",outcome="ok"\} 1$/m);
    assert.match(text, /^cni_dhcp_leases\{family="ipv4",state="BOUND"\} 3$/m);
    assert.match(text, /^cni_dhcp_leases\{family="ipv6",state="RENEWING"\} 1$/m);
  });

  it('loading the daemon and taking noMetrics loads neither prom-client nor winston', () => {
    const script = `
      require('./daemon/main');
      require('./daemon/metrics').noMetrics().renewals.inc();
      require('./daemon/log').createLogger({ level: 'info', format: 'text' });
      const heavy = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](prom-client|winston)[\\\\/]/.test(f));
      process.stdout.write(JSON.stringify(heavy));`;
    const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });
});
