import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CniCode, CniError } from '../../shared/errors';
import { parseWhereaboutsIpam } from '../../shared/whereabouts-config';
import { mergeFlatFile, mergeUnder } from '../../shared/whereabouts-flat-file';
import { BAD_CONFIGS, CONFIG_CASES } from '../fixtures/whereabouts/config-cases';

describe('whereabouts config (Whereabouts pkg/config tables)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wac-conf-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const c of CONFIG_CASES) {
    it(c.name, () => {
      let ipam = c.ipam;
      if (c.flatFile) {
        const file = path.join(dir, 'whereabouts.conf');
        fs.writeFileSync(file, JSON.stringify(c.flatFile));
        ipam = mergeFlatFile({ ...ipam, configuration_path: file }, []).ipam;
      }
      const cfg = parseWhereaboutsIpam(ipam);
      const r = cfg.ranges[0];
      assert.ok(r);
      assert.equal(r.range, c.want.range);
      assert.equal(r.rangeStart, c.want.rangeStart);
      assert.equal(r.rangeEnd, c.want.rangeEnd);
      assert.equal(cfg.gateway, c.want.gateway);
      assert.equal(cfg.datastore.kind, c.want.datastore ?? 'file');
      if (c.want.etcdHost) assert.deepEqual(cfg.datastore.kind === 'etcd' && cfg.datastore.endpoints, [c.want.etcdHost]);
    });
  }

  for (const c of BAD_CONFIGS) {
    it(`refuses ${c.name} with code 7 naming it`, () => {
      assert.throws(() => parseWhereaboutsIpam(c.ipam), (err: unknown) => {
        assert.ok(err instanceof CniError);
        assert.equal(err.code, CniCode.InvalidConfig);
        assert.ok(err.message.includes(c.names), `${err.message} should name ${c.names}`);
        return true;
      });
    });
  }

  it('datastore "kubernetes": kubernetes.kubeconfig as Whereabouts reads it, or none (in-cluster)', () => {
    const base = { type: 'whereabouts', range: '198.18.0.0/24', datastore: 'kubernetes' };
    assert.deepEqual(parseWhereaboutsIpam({ ...base, kubernetes: { kubeconfig: '/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig' } }).datastore, { kind: 'kubernetes', kubeconfig: '/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig' });
    assert.deepEqual(parseWhereaboutsIpam(base).datastore, { kind: 'kubernetes' });
  });

  it('puts the legacy top-level range first; its exclude applies only to it', () => {
    const cfg = parseWhereaboutsIpam({
      type: 'whereabouts',
      range: '198.18.0.0/24',
      exclude: ['198.18.0.0/28', '198.18.0.99'],
      ipRanges: [{ range: '2001:db8::/64', exclude: ['2001:db8::1'] }, { range: '198.19.0.0/24' }],
    });
    assert.deepEqual(
      cfg.ranges.map((r) => [r.range, r.family, r.exclude]),
      [
        ['198.18.0.0/24', 4, ['198.18.0.0/28', '198.18.0.99/32']],
        ['2001:db8::/64', 6, ['2001:db8::1/128']],
        ['198.19.0.0/24', 4, []],
      ],
    );
  });

  it('defaults: file store, overlapping ranges on, the standard socket, no network_name', () => {
    const cfg = parseWhereaboutsIpam({ type: 'whereabouts', range: '198.18.0.0/24' });
    assert.deepEqual([cfg.datastore, cfg.overlappingRanges, cfg.socketPath, cfg.networkName], [{ kind: 'file' }, true, '/run/cni/whereabouts.sock', '']);
  });

  it('reads the etcd keys Whereabouts used', () => {
    const cfg = parseWhereaboutsIpam({
      type: 'whereabouts', range: '198.18.0.0/24', datastore: 'etcd', etcd_host: 'https://a:2379, b:2379',
      etcd_username: 'u', etcd_password: 'p', etcd_key_file: '/k', etcd_cert_file: '/c', etcd_ca_cert_file: '/ca',
    });
    assert.deepEqual(cfg.datastore, { kind: 'etcd', endpoints: ['https://a:2379', 'b:2379'], username: 'u', password: 'p', keyFile: '/k', certFile: '/c', caCertFile: '/ca' });
  });

  it('merges the flat file under the section, objects key by key, case-insensitively', () => {
    assert.deepEqual(mergeUnder({ Range: '1', gateway: '', nested: { a: 1 } }, { range: '2', gateway: 'g', nested: { a: 2, b: 3 }, extra: true }), {
      Range: '1', gateway: 'g', nested: { a: 1, b: 3 }, extra: true,
    });
  });

  it('a flat file that is not JSON is code 7 naming the file', () => {
    const file = path.join(dir, 'broken.conf');
    fs.writeFileSync(file, '{');
    assert.throws(() => mergeFlatFile({ type: 'whereabouts' }, [file]), (err: CniError) => err.code === 7 && err.message.includes(file));
  });

  it('no flat file anywhere leaves the section as it is', () => {
    const ipam = { type: 'whereabouts', range: '198.18.0.0/24' };
    assert.deepEqual(mergeFlatFile(ipam, [path.join(dir, 'absent.conf')]), { ipam, file: '' });
  });
});
