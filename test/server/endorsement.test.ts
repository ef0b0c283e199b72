// Enrollment by certificate on a running server (both stores), with certificates openssl made for
// the software TPMs' own keys: an EK certified by a configured root activates without an operator;
// a certificate of another key, or from a root nobody configured, is refused. Cloud mode: an AK
// certified by the configured cloud vTPM CA replaces credential activation; a certificate of
// another AK is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { enroll } from '../../src/agent/index.ts';
import { ProtocolError } from '../../src/protocol/index.ts';
import { publicKeyPem } from '../../src/tpm/index.ts';
import { Extensions, OpensslPki, type IssuedCertificate } from '../helpers/openssl-pki.ts';
import { peer } from '../helpers/peers.ts';
import { attestNode, boot, simNode, startTestServer, DIALECTS, type SimNode } from './helpers.ts';

/** A certificate for a key whose private half stays in the TPM: openssl signs a throwaway CSR and puts the TPM's public key in. */
function certifyTpmKey(pki: OpensslPki, name: string, publicPem: string, issuer: IssuedCertificate, extensions: readonly string[]): Uint8Array {
  const base = join(pki.dir, name);
  writeFileSync(`${base}.pub.pem`, publicPem);
  writeFileSync(`${base}.cnf`, ['[req]', 'distinguished_name = dn', '[dn]', '[ext]', ...extensions, ''].join('\n'));
  const run = (args: string[]): void => {
    const r = spawnSync(pki.openssl, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  run([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${base}.throwaway.key`,
    '-subj',
    '/',
    '-out',
    `${base}.csr`,
    '-config',
    `${base}.cnf`,
  ]);
  run([
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-force_pubkey',
    `${base}.pub.pem`,
    '-CA',
    issuer.cert,
    '-CAkey',
    issuer.key,
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    `${base}.cnf`,
    '-extensions',
    'ext',
    '-outform',
    'DER',
    '-out',
    `${base}.der`,
  ]);
  return new Uint8Array(readFileSync(`${base}.der`));
}

async function refusal(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e;
  }
  assert.fail('expected a refusal');
}

const enrollWith = (
  s: NonNullable<Awaited<ReturnType<typeof startTestServer>>>,
  node: SimNode,
  certificates: { ekCertificate?: Uint8Array; akCertificate?: Uint8Array },
) => enroll(s.client, node.tpm, { ek: node.ek, ak: node.ak, hostname: node.name, ...certificates });

function pkiFor(t: TestContext): { pki: OpensslPki; root: IssuedCertificate; impostor: IssuedCertificate; cloud: IssuedCertificate } | undefined {
  const openssl = peer(t, 'openssl');
  if (!openssl) return undefined;
  const pki = new OpensslPki(t, openssl);
  return {
    pki,
    root: pki.issue('tpm-root', { subject: '/CN=Vouch Test TPM Root CA', extensions: Extensions.ca, days: 3650 }),
    impostor: pki.issue('impostor-root', { subject: '/CN=Vouch Test TPM Root CA', extensions: Extensions.ca, days: 3650 }),
    cloud: pki.issue('cloud-root', { subject: '/CN=Vouch Test Cloud vTPM CA', extensions: Extensions.ca, days: 3650 }),
  };
}

for (const dialect of DIALECTS) {
  test(`EK and cloud AK certificates: certified keys enroll without an operator; another key's certificate or an unknown root is refused [${dialect}]`, async (t) => {
    const p = pkiFor(t);
    if (!p) return;
    const s = await startTestServer(t, dialect, {
      document: { enrollment: { ekRoots: [p.root.cert], cloudAkRoots: [p.cloud.cert], approvalQueue: false } },
    });
    if (!s) return;
    const certified = await simNode(t, 'certified', 'rsa');
    const ekCertificate = certifyTpmKey(p.pki, 'ek-certified', publicKeyPem(certified.ek.public.value), p.root, Extensions.rsaEk);
    const outcome = await enrollWith(s, certified, { ekCertificate });
    assert.equal(outcome.status, 'enrolled');
    const detail = await s.admin('GET', `/v1/admin/nodes/${(outcome as { nodeId: string }).nodeId}`);
    assert.equal((detail.body as { node: { ekCertified: boolean } }).node.ekCertified, true);

    // Another TPM presents the certified node's certificate: a certificate of another key.
    const borrower = await simNode(t, 'borrower', 'rsa');
    const borrowed = await refusal(enrollWith(s, borrower, { ekCertificate }));
    assert.equal(borrowed.code, 'ERR_ENROLL_EK_UNTRUSTED');
    assert.match(borrowed.message, /does not validate/);

    // A certificate for the right key from a root with the same name that nobody configured.
    const forged = certifyTpmKey(p.pki, 'ek-impostor', publicKeyPem(borrower.ek.public.value), p.impostor, Extensions.rsaEk);
    const unknownRoot = await refusal(enrollWith(s, borrower, { ekCertificate: forged }));
    assert.equal(unknownRoot.code, 'ERR_ENROLL_EK_UNTRUSTED');

    // Cloud mode: the AK certificate replaces activation; the node attests at once.
    const cloudy = await simNode(t, 'cloudy');
    const akCertificate = certifyTpmKey(p.pki, 'ak-cloudy', publicKeyPem(cloudy.ak.public.value), p.cloud, Extensions.ak);
    const cloudOutcome = await enrollWith(s, cloudy, { akCertificate });
    assert.equal(cloudOutcome.status, 'enrolled');
    const attested = await attestNode(s, cloudy, (cloudOutcome as { nodeId: string }).nodeId, await boot(s, cloudy));
    assert.equal(attested.response.status, 'affirming', JSON.stringify(attested.response.reasons));
    assert.ok(attested.secrets);

    const other = await simNode(t, 'other-cloudy');
    const wrongAk = await refusal(enrollWith(s, other, { akCertificate }));
    assert.equal(wrongAk.code, 'ERR_ENROLL_AK_INVALID');
  });
}
