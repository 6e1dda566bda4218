/**
 * One set of options the client builds itself (shared/dhcp-options.ts): the config refuses
 * exactly those in `provide` (61 excepted, it replaces the client id), and the message builder
 * never lets a provided value override one. Before, the two kept their own lists and
 * disagreed on 51 and 61.
 */
import assert from 'node:assert/strict';
import { buildDiscover } from '../../daemon/client/client-messages';
import { parseDhcpConfig } from '../../shared/dhcp-config';
import { CLIENT_ID_OPTION, CLIENT_OWNED_OPTIONS } from '../../shared/dhcp-options';
import { testConfig } from '../helpers/lease-machine-harness';

function configAccepts(code: number): boolean {
  try {
    parseDhcpConfig({ cniVersion: '1.0.0', name: 'n', type: 'macvlan', ipam: { type: 'dhcp', provide: [{ option: code, value: 'v' }] } });
    return true;
  } catch {
    return false;
  }
}

describe('options the client owns', () => {
  it('the config accepts a provided option exactly when the client does not build it itself (61 replaces the client id)', () => {
    for (let code = 1; code <= 254; code++) {
      assert.equal(configAccepts(code), !CLIENT_OWNED_OPTIONS.has(code) || code === CLIENT_ID_OPTION, `option ${code}`);
    }
  });

  it('a DISCOVER carries every accepted provided option as given, and no provided value for an owned one', () => {
    const provide = new Map<number, Buffer>();
    for (let code = 1; code <= 254; code++) provide.set(code, Buffer.from(`p${code}`));
    const { msg } = buildDiscover(testConfig({ provide }), { xid: 1, secs: 1, broadcast: false }, undefined);
    for (let code = 1; code <= 254; code++) {
      const sent = msg.options.get(code)?.toString();
      if (CLIENT_OWNED_OPTIONS.has(code)) assert.notEqual(sent, `p${code}`, `option ${code} must be the client's own`);
      else assert.equal(sent, `p${code}`, `option ${code}`);
    }
  });
});
