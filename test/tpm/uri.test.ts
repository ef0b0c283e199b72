import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTransport, parseTpmUri } from '../../src/tpm/transport/open.ts';

test('TPM URIs', () => {
  assert.deepStrictEqual(parseTpmUri('device:/dev/tpmrm0'), { kind: 'device', path: '/dev/tpmrm0' });
  assert.deepStrictEqual(parseTpmUri('device:'), { kind: 'device', path: '/dev/tpmrm0' });
  assert.deepStrictEqual(parseTpmUri('swtpm:host=127.0.0.1,port=2321'), { kind: 'swtpm', host: '127.0.0.1', port: 2321, powerOn: false });
  assert.deepStrictEqual(parseTpmUri('swtpm:port=2321,ctrl=4000,poweron'), { kind: 'swtpm', host: '127.0.0.1', port: 2321, controlPort: 4000, powerOn: true });
  assert.deepStrictEqual(parseTpmUri('mssim:port=2321'), { kind: 'mssim', host: '127.0.0.1', port: 2321, powerOn: false });
  assert.deepStrictEqual(parseTpmUri('sim:'), { kind: 'sim' });
  assert.deepStrictEqual(parseTpmUri('sim:/var/lib/vouch/tpm'), { kind: 'sim', statePath: '/var/lib/vouch/tpm' });
  assert.deepStrictEqual(parseTpmUri('sim:seed=node7,path=/tmp/x'), { kind: 'sim', statePath: '/tmp/x', seed: 'node7' });
  for (const bad of [
    'tpm0',
    'foo:bar',
    'swtpm:host=x',
    'swtpm:port=0',
    'swtpm:port=70000',
    'swtpm:port=1,port=2',
    'swtpm:port=1,bogus=2',
    'sim:seed=1,color=red',
  ]) {
    assert.throws(() => parseTpmUri(bad), { code: 'ERR_TPM_URI' }, bad);
  }
});

test('a missing device or a refused port is ERR_TPM_TRANSPORT', async () => {
  await assert.rejects(openTransport('device:/nonexistent/tpm'), { code: 'ERR_TPM_TRANSPORT' });
});
