import assert from 'node:assert/strict';
import { CniCode, CniError } from '../../shared/errors';
import { goQuote, goQuoteList } from '../../static/go-quote';
import { loadStaticEnvArgs } from '../../static/static-env-args';

function failsWith(raw: string, msg: string): void {
  assert.throws(
    () => loadStaticEnvArgs(raw),
    (e: unknown) => e instanceof CniError && e.code === CniCode.Unclassified && e.message === msg,
  );
}

describe('static: CNI_ARGS with the reference\'s LoadArgs rules', function () {
  it('reads IP and GATEWAY; an empty CNI_ARGS is nothing', function () {
    assert.deepEqual(loadStaticEnvArgs(''), { ip: '', gateway: '' });
    assert.deepEqual(loadStaticEnvArgs('IP=198.18.0.5/24;GATEWAY=198.18.0.1'), { ip: '198.18.0.5/24', gateway: '198.18.0.1' });
    assert.deepEqual(loadStaticEnvArgs('IP=a;IP=b'), { ip: 'b', gateway: '' });
  });

  it('refuses unknown keys unless IgnoreUnknown is true, wherever it appears', function () {
    failsWith('K8S_POD_NAME=p;IP=198.18.0.5/24', 'ARGS: unknown args ["K8S_POD_NAME=p"]');
    failsWith('ip=1;Gateway=2', 'ARGS: unknown args ["ip=1" "Gateway=2"]');
    assert.deepEqual(loadStaticEnvArgs('K8S_POD_NAME=p;IgnoreUnknown=1'), { ip: '', gateway: '' });
    assert.deepEqual(loadStaticEnvArgs('IgnoreUnknown=TRUE;x=y'), { ip: '', gateway: '' });
    failsWith('IgnoreUnknown=1;x=y;IgnoreUnknown=false', 'ARGS: unknown args ["x=y"]');
  });

  it('needs exactly one "=" per pair, and no empty pair', function () {
    failsWith('IP=198.18.0.5/24;', 'ARGS: invalid pair ""');
    failsWith('IP', 'ARGS: invalid pair "IP"');
    failsWith('IP=a=b', 'ARGS: invalid pair "IP=a=b"');
  });

  it('reports a bad IgnoreUnknown and the CommonArgs oddity as the reference does', function () {
    failsWith('IgnoreUnknown=Yes', 'ARGS: error parsing value of pair "IgnoreUnknown=Yes": boolean unmarshal error: invalid input yes');
    failsWith(
      'CommonArgs=1',
      "ARGS: cannot unmarshal into field 'CommonArgs' - type '*types.CommonArgs' does not implement encoding.TextUnmarshaler",
    );
  });

  it('quotes like Go\'s %q', function () {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('\t\n\x01\x7f'), '"\\t\\n\\x01\\x7f"');
    assert.equal(goQuote('é\u00a0'), '"é\\u00a0"');
    assert.equal(goQuoteList(['a', 'b c']), '["a" "b c"]');
  });
});
