/**
 * @root kill -9 of the whereabouts daemon in the middle of bursts of ADD and of DEL, on the
 * file store. Judged from the history of what every ADD and DEL answered (each failed call
 * retried, as a runtime does): no address ever answered to two pods that both still hold it,
 * and every answered allocation is in the store afterwards; a DEL that answered success is
 * gone from it.
 */
import { strict as assert } from 'node:assert';
import { ipsOf, podArgs, useWhereaboutsLab, type WhereaboutsLab } from '../helpers/whereabouts-lab';

interface Answer {
  pod: string;
  verb: 'ADD' | 'DEL';
  ok: boolean;
  address?: string;
  code?: number;
}

describe('whereabouts: kill -9 of the daemon mid-burst (file store) @root', function () {
  this.timeout(600_000);
  let lab: WhereaboutsLab;
  const history: Answer[] = [];
  const config = () => lab.bridgeConfig('wac-kill', { range: '198.18.40.0/24' });

  const labOf = useWhereaboutsLab();
  beforeEach(() => {
    lab = labOf();
  });

  async function call(verb: 'ADD' | 'DEL', pod: string): Promise<Answer> {
    const r = await lab.cni({ plugin: 'whereabouts', command: verb, containerId: pod, ifname: 'net1', args: podArgs(pod), config: config() });
    const a: Answer = { pod, verb, ok: r.code === 0 };
    if (a.ok && verb === 'ADD') a.address = ipsOf(r)[0]?.split('/')[0];
    if (!a.ok) a.code = (JSON.parse(r.stdout) as { code: number }).code;
    history.push(a);
    return a;
  }

  /** Runs the burst, kills the daemon once `killAfter` calls answered, restarts it, retries every failure. */
  async function burst(verb: 'ADD' | 'DEL', pods: string[], killAfter: number): Promise<number> {
    let answered = 0;
    let killed: Promise<void> | undefined;
    const first = pods.map((pod) =>
      call(verb, pod).then((a) => {
        answered++;
        if (answered === killAfter) killed = lab.kill9().then(() => lab.startDaemon()).then(() => undefined);
        return a;
      }),
    );
    const answers = await Promise.all(first);
    await killed;
    assert.ok(killed, 'the daemon was killed during the burst');
    let failed = answers.filter((a) => !a.ok).map((a) => a.pod);
    const failures = failed.length;
    for (const a of answers) if (!a.ok) assert.equal(a.code, 11, `a failure a runtime can retry: ${JSON.stringify(a)}`);
    for (let round = 0; failed.length > 0 && round < 20; round++) {
      const again = await Promise.all(failed.map((pod) => call(verb, pod)));
      for (const a of again) if (!a.ok) assert.equal(a.code, 11, `a failure a runtime can retry: ${JSON.stringify(a)}`);
      failed = again.filter((a) => !a.ok).map((a) => a.pod);
    }
    assert.deepEqual(failed, [], 'every call succeeded on a retry');
    return failures;
  }

  /** Replays the history: which pod holds which address after each answered call. */
  function check(): Map<string, string> {
    const holds = new Map<string, string>();
    for (const h of history) {
      if (!h.ok) continue;
      if (h.verb === 'DEL') {
        holds.delete(h.pod);
        continue;
      }
      const prev = holds.get(h.pod);
      assert.ok(prev === undefined || prev === h.address, `${h.pod} answered ${h.address} after ${prev}`);
      for (const [other, addr] of holds) assert.ok(other === h.pod || addr !== h.address, `duplicate: ${h.address} answered to ${h.pod} while ${other} holds it`);
      holds.set(h.pod, h.address as string);
    }
    return holds;
  }

  async function assertStoreMatches(holds: Map<string, string>): Promise<void> {
    const rows = (await lab.allocations()).filter((a) => a.range === '198.18.40.0/24');
    const inStore = new Map(rows.map((r) => [r.containerId, r.address]));
    assert.equal(rows.length, inStore.size, 'one allocation per pod');
    assert.deepEqual(new Map([...inStore].sort()), new Map([...holds].sort()), 'the store holds exactly what ADD and DEL answered');
  }

  it('a burst of 80 ADDs: 0 duplicates, 0 allocations lost', async () => {
    const pods = Array.from({ length: 80 }, (_, i) => `kill-a${i}`);
    const failures = await burst('ADD', pods, 20);
    const holds = check();
    assert.equal(holds.size, 80);
    await assertStoreMatches(holds);
    process.stdout.write(`      (${failures} ADDs failed with code 11 around the kill and succeeded on retry)\n`);
  });

  it('a burst of 40 DELs and then 40 new ADDs: no freed address lingers, no held address is given again', async () => {
    await burst('DEL', Array.from({ length: 40 }, (_, i) => `kill-a${i}`), 10);
    await assertStoreMatches(check());
    await burst('ADD', Array.from({ length: 40 }, (_, i) => `kill-b${i}`), 10);
    const holds = check();
    assert.equal(holds.size, 80);
    await assertStoreMatches(holds);
  });
});
