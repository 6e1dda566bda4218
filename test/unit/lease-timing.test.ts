import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  INFINITE_LEASE,
  MAX_LEASE_SECONDS,
  MIN_LEASE_SECONDS,
  DEFAULT_LEASE_SECONDS,
  leaseDeadlines,
  nakRestartDelayMs,
  nextRetransmitAt,
  renewRetryAt,
  retransmitDelayMs,
  sanitizeLeaseTimes,
  secondsSince,
} from '../../daemon/client/lease-timing';

describe('lease timing', () => {
  describe('T1/T2 sanitizing', () => {
    it('T1 defaults to half the lease and T2 to seven eighths', () => {
      assert.deepEqual(sanitizeLeaseTimes(3600), { leaseTime: 3600, t1: 1800, t2: 3150 });
    });

    it('server T1 and T2 are kept when 0 < T1 < T2 < lease', () => {
      assert.deepEqual(sanitizeLeaseTimes(3600, 1000, 2000), { leaseTime: 3600, t1: 1000, t2: 2000 });
    });

    it('a T2 at or beyond the lease falls back to the default', () => {
      assert.deepEqual(sanitizeLeaseTimes(3600, 1000, 3600), { leaseTime: 3600, t1: 1000, t2: 3150 });
      assert.deepEqual(sanitizeLeaseTimes(3600, 1000, INFINITE_LEASE), { leaseTime: 3600, t1: 1000, t2: 3150 });
    });

    it('a T1 at or beyond T2 falls back to the default', () => {
      assert.deepEqual(sanitizeLeaseTimes(3600, 3000, 2000), { leaseTime: 3600, t1: 1800, t2: 2000 });
    });

    it('zero T1 and T2 fall back to the defaults', () => {
      assert.deepEqual(sanitizeLeaseTimes(3600, 0, 0), { leaseTime: 3600, t1: 1800, t2: 3150 });
    });

    it('a T2 below the default T1 resets both to the defaults', () => {
      assert.deepEqual(sanitizeLeaseTimes(3600, undefined, 100), { leaseTime: 3600, t1: 1800, t2: 3150 });
    });

    it('an infinite lease has no T1 or T2', () => {
      assert.deepEqual(sanitizeLeaseTimes(INFINITE_LEASE, 10, 20), {
        leaseTime: INFINITE_LEASE,
        t1: INFINITE_LEASE,
        t2: INFINITE_LEASE,
      });
    });

    it('a very large finite lease is clamped so its timers fit setTimeout', () => {
      const times = sanitizeLeaseTimes(0xfffffffe, 0xfffffff0, 0xfffffffd);
      assert.equal(times.leaseTime, MAX_LEASE_SECONDS);
      assert.ok(times.leaseTime * 1000 <= 0x7fffffff);
      assert.deepEqual(times, { leaseTime: MAX_LEASE_SECONDS, t1: Math.floor(MAX_LEASE_SECONDS / 2), t2: Math.floor((MAX_LEASE_SECONDS * 7) / 8) });
    });

    it('a lease of 0, or none at all, is taken as 60 s', () => {
      for (const lease of [0, undefined]) {
        assert.deepEqual(sanitizeLeaseTimes(lease), { leaseTime: DEFAULT_LEASE_SECONDS, t1: 30, t2: 52 });
      }
    });

    it('short leases are honoured (Kea hands out seconds-long leases)', () => {
      assert.deepEqual(sanitizeLeaseTimes(20), { leaseTime: 20, t1: 10, t2: 17 });
      assert.deepEqual(sanitizeLeaseTimes(12, 6, 10), { leaseTime: 12, t1: 6, t2: 10 });
      assert.deepEqual(sanitizeLeaseTimes(MIN_LEASE_SECONDS), { leaseTime: 4, t1: 2, t2: 3 });
    });

    it('a lease below the 4 s floor is never lengthened: T1 and T2 become fractions of it instead', () => {
      assert.deepEqual(sanitizeLeaseTimes(1), { leaseTime: 1, t1: 0.5, t2: 0.875 });
      assert.deepEqual(sanitizeLeaseTimes(2), { leaseTime: 2, t1: 1, t2: 1.75 });
      assert.deepEqual(sanitizeLeaseTimes(3), { leaseTime: 3, t1: 1.5, t2: 2.625 });
      assert.deepEqual(sanitizeLeaseTimes(3, 1, 2), { leaseTime: 3, t1: 1, t2: 2 }, "the server's own T1/T2 when they fit");
      assert.deepEqual(sanitizeLeaseTimes(2, 2, 5), { leaseTime: 2, t1: 1, t2: 1.75 });
    });

    it('sanitizing is idempotent (a resumed lease keeps its times)', () => {
      const seconds = fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 2, 3, 4, 5));
      fc.assert(
        fc.property(seconds, seconds, seconds, (lease, t1, t2) => {
          const r = sanitizeLeaseTimes(lease, t1, t2);
          assert.deepEqual(sanitizeLeaseTimes(r.leaseTime, r.t1, r.t2), r);
        }),
      );
    });

    it('any input yields 0 < T1 < T2 < lease <= the granted lease, whole seconds from 4 s up, or an infinite lease', () => {
      const seconds = fc.oneof(
        fc.constant(undefined),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom(0, 1, 2, 3, 59, 60, 61, 0xfffffffe, 0xffffffff, -1, Number.NaN, 1e300, 0.5),
      );
      fc.assert(
        fc.property(seconds, seconds, seconds, (lease, t1, t2) => {
          const r = sanitizeLeaseTimes(lease, t1, t2);
          if (r.leaseTime === INFINITE_LEASE) {
            assert.equal(lease, INFINITE_LEASE);
            return;
          }
          assert.ok(Number.isInteger(r.leaseTime));
          if (r.leaseTime >= MIN_LEASE_SECONDS) assert.ok(Number.isInteger(r.t1) && Number.isInteger(r.t2));
          assert.ok(0 < r.t1 && r.t1 < r.t2 && r.t2 < r.leaseTime, JSON.stringify(r));
          assert.ok(r.leaseTime >= 1 && r.leaseTime <= MAX_LEASE_SECONDS);
          const granted = typeof lease === 'number' && Number.isFinite(lease) ? Math.floor(lease) : 0;
          if (granted > 0) assert.ok(r.leaseTime <= granted, 'never longer than granted');
        }),
      );
    });

    it('lease deadlines are absolute ms from boundAt, and absent for an infinite lease', () => {
      const base = { address: '10.0.0.2', prefixLength: 24, serverId: '10.0.0.1', boundAt: 5000, params: { rejected: [] } };
      assert.deepEqual(leaseDeadlines({ ...base, leaseTime: 100, t1: 50, t2: 80 }), {
        t1At: 55_000,
        t2At: 85_000,
        expiresAt: 105_000,
      });
      assert.equal(leaseDeadlines({ ...base, leaseTime: INFINITE_LEASE, t1: INFINITE_LEASE, t2: INFINITE_LEASE }), undefined);
    });
  });

  describe('retransmission schedule', () => {
    it('intervals are 2, 4, 8, 16, 32, 64 s, then stay at 64 s, with a centred random of no fuzz', () => {
      const got = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => retransmitDelayMs(n, 0.5, 1e9));
      assert.deepEqual(got, [2000, 4000, 8000, 16000, 32000, 64000, 64000, 64000]);
    });

    it('fuzz stays within ±1 s of each interval', () => {
      assert.equal(retransmitDelayMs(0, 0, 1e9), 1000);
      assert.equal(retransmitDelayMs(1, 0.9999999, 1e9), 5000);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
          const base = 2000 * 2 ** Math.min(n, 5);
          const d = retransmitDelayMs(n, r, 1e9);
          assert.ok(d >= base - 1000 && d <= base + 1000, `${n} ${r} → ${d}`);
        }),
      );
    });

    it('each interval is capped at -resendmax', () => {
      assert.equal(retransmitDelayMs(5, 0.5, 62_000), 62_000);
      assert.equal(retransmitDelayMs(3, 0.99, 10_000), 10_000);
    });

    it('a tiny -resendmax still waits at least 1 s, so the machine cannot spin', () => {
      assert.equal(retransmitDelayMs(0, 0, 0), 1000);
    });

    it('a retransmission is never scheduled past the exchange budget', () => {
      assert.equal(nextRetransmitAt(100_000, 4, 0.5, 62_000, 110_000), 110_000);
      assert.equal(nextRetransmitAt(100_000, 0, 0.5, 62_000, 500_000), 102_000);
    });

    it('secs counts whole seconds since the exchange began and is never 0', () => {
      assert.equal(secondsSince(1000, 1000), 1);
      assert.equal(secondsSince(1000, 1999), 1);
      assert.equal(secondsSince(1000, 13_500), 12);
      assert.equal(secondsSince(0, 1e12), 0xffff);
      assert.equal(secondsSince(5000, 0), 1);
    });
  });

  describe('renew and rebind retries', () => {
    it('wait half the remaining time when that is more than 60 s', () => {
      assert.equal(renewRetryAt(0, 1_000_000), 500_000);
    });

    it('wait at least 60 s', () => {
      assert.equal(renewRetryAt(0, 100_000), 60_000);
    });

    it('never wait past the deadline', () => {
      assert.equal(renewRetryAt(0, 30_000), 30_000);
    });
  });

  describe('NAK restart delay', () => {
    it('the first NAK restarts at once, repeated ones wait 1 s doubling up to -resendmax', () => {
      const got = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => nakRestartDelayMs(n, 62_000));
      assert.deepEqual(got, [0, 1000, 2000, 4000, 8000, 16000, 32000, 62000, 62000]);
      assert.equal(nakRestartDelayMs(1000, 62_000), 62_000);
    });
  });
});
