// The kubelet client certificate a node gets with its secrets when a cluster CA is configured:
// signed from the node's own CSR (openssl-made) for exactly its enrolled name, checked by openssl
// (chain, client-auth purpose, subject, key usage); a CSR naming another node is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resumeEnrollment } from '../../src/agent/index.ts';
import { ProtocolError } from '../../src/protocol/index.ts';
import { Extensions, OpensslPki } from '../helpers/openssl-pki.ts';
import { peer } from '../helpers/peers.ts';
import { attestNode, boot, enrollNode, simNode, startTestServer, DIALECTS } from './helpers.ts';
import { test } from 'node:test';

for (const dialect of DIALECTS) {
  test(`a kubelet client certificate is signed from the node's CSR for its own name only [${dialect}]`, async (t) => {
    const openssl = peer(t, 'openssl');
    if (!openssl) return;
    const pki = new OpensslPki(t, openssl);
    const ca = pki.issue('cluster-ca', { subject: '/CN=kubernetes', extensions: Extensions.ca, days: 3650 });
    const s = await startTestServer(t, dialect, { document: { join: { clusterCa: { cert: ca.cert, key: ca.key } } } });
    if (!s) return;
    const node = await simNode(t, 'worker-k');
    const queued = await enrollNode(s, node);
    assert.equal((await s.admin('POST', `/v1/admin/nodes/${queued.enrollmentId}/approve`, {})).status, 200);
    const nodeId = ((await resumeEnrollment(s.client, node.tpm, node, queued.enrollmentId)) as { nodeId: string }).nodeId;

    const run = (args: string[]): string => {
      const r = spawnSync(openssl, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const csrFor = (name: string): string => {
      const base = join(pki.dir, name);
      run([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-subj',
        `/O=system:nodes/CN=system:node:${name}`,
        '-out',
        `${base}.csr`,
      ]);
      return readFileSync(`${base}.csr`, 'utf8');
    };

    const outcome = await attestNode(s, node, nodeId, await boot(s, node), csrFor('worker-k'));
    assert.equal(outcome.response.status, 'affirming');
    const credential = outcome.secrets?.join;
    assert.equal(credential?.kind, 'kubelet-client-certificate');
    const certFile = join(pki.dir, 'kubelet.pem');
    writeFileSync(certFile, credential.certificate);
    run(['verify', '-CAfile', ca.cert, '-purpose', 'sslclient', certFile]);
    const text = run(['x509', '-in', certFile, '-noout', '-text', '-nameopt', 'RFC2253']);
    const subject = /Subject: (.*)/.exec(text)?.[1]?.split(',').sort();
    assert.deepEqual(subject, ['CN=system:node:worker-k', 'O=system:nodes']);
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /Digital Signature/);
    assert.doesNotMatch(text, /TLS Web Server Authentication|CA:TRUE/);
    assert.equal(credential.caCertificate.trim(), ca.pem.trim());

    // Asking for another node's identity: refused before anything is signed (the session is spent).
    try {
      await attestNode(s, node, nodeId, await boot(s, node), csrFor('worker-x'));
      assert.fail('a CSR for another node must be refused');
    } catch (e) {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.code, 'ERR_REQUEST_INVALID');
      assert.match(e.message, /enrolled as worker-k/);
    }
  });
}
