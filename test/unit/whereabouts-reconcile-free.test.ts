/** The free-by-hand RPC's params: one address with its range, or one node; confirmed matches must be whole. */
import assert from 'node:assert/strict';
import { InvalidParams } from '../../daemon/rpc-validate';
import { freeParams } from '../../daemon/whereabouts/reconcile/manual-free';

describe('whereabouts free by hand: params', () => {
  const match = { store: 'file:/x', networkName: '', range: '198.18.0.0/24', offset: '5', address: '198.18.0.5', containerId: 'c', podRef: 'ns/p', ifname: 'eth0', node: 'n', createdAt: 1 };

  it('takes an address with its range, or a node, and confirmed matches', () => {
    assert.deepEqual(freeParams({ address: '198.18.0.5', range: '198.18.0.0/24' }), { address: '198.18.0.5', range: '198.18.0.0/24' });
    assert.deepEqual(freeParams({ node: 'gone-node' }), { node: 'gone-node' });
    assert.deepEqual(freeParams({ node: 'n', confirm: [match] }).confirm, [match]);
  });

  it('refuses anything else with InvalidParams (code 4 over RPC), naming what is wrong', () => {
    const bad: Array<[unknown, RegExp]> = [
      [null, /object/],
      [[], /object/],
      [{}, /an address .* or a node/],
      [{ address: '198.18.0.5', node: 'n', range: 'r' }, /not both/],
      [{ address: '198.18.0.5' }, /needs its range/],
      [{ node: 7 }, /node must be a string/],
      [{ node: 'n', confirm: 'all' }, /confirm must be an array/],
      [{ node: 'n', confirm: [{ ...match, createdAt: 'yesterday' }] }, /createdAt must be a number/],
      [{ node: 'n', confirm: [{ ...match, offset: undefined }] }, /offset must be a string/],
    ];
    for (const [p, re] of bad) assert.throws(() => freeParams(p), (e: unknown) => e instanceof InvalidParams && re.test((e as Error).message), JSON.stringify(p));
  });
});
