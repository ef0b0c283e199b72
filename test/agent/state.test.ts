// The agent's state directory: written owner-only and atomically, read back with every field checked
// (an edited, truncated or foreign record is ERR_AGENT_STATE naming the field), the AK in the layout
// `vouch tpm ak create` writes, and nothing left behind by a write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAk, readAk, writeAk } from '../../src/agent/ak.ts';
import {
  prepareStateDir,
  readEnrolledState,
  readLastResult,
  readNodeRecord,
  writeLastResult,
  writeNodeRecord,
  type LastResult,
  type NodeRecord,
} from '../../src/agent/state.ts';
import { Tpm } from '../../src/tpm/index.ts';
import { tempDir } from '../tpm/cli-helpers.ts';

const NODE_ID = '7b0a0f4e-4c39-4d4e-9d23-0f3f0b1f5d6e';
const ENROLLMENT_ID = '0f3f0b1f-5d6e-4c39-9d23-7b0a0f4e4d4e';

async function akBlobs() {
  const tpm = await Tpm.open('sim:seed=agent-state');
  try {
    await tpm.startup();
    return await createAk(tpm, 'ecc', 'ecdsa');
  } finally {
    await tpm.close();
  }
}

function record(akName: string): NodeRecord {
  return {
    format: 'vouch-node-v1',
    server: 'https://vouch.example:8443',
    hostname: 'node-1',
    ekAlg: 'rsa',
    akName,
    enrollmentId: ENROLLMENT_ID,
    status: 'enrolled',
    nodeId: NODE_ID,
    updatedAt: '2026-12-04T10:00:00.000Z',
  };
}

test('state round trip: owner-only directory and files, no temporary left, the AK readable by the tpm layout', async (t) => {
  const parent = await tempDir(t, 'vouch-agent-state-');
  const dir = join(parent, 'state');
  await prepareStateDir(dir);
  const ak = await akBlobs();
  await writeAk(dir, ak);
  await writeNodeRecord(dir, record(ak.descriptor.name));
  const last: LastResult = {
    format: 'vouch-result-v1',
    server: 'https://vouch.example:8443',
    nodeId: NODE_ID,
    resultId: ENROLLMENT_ID,
    status: 'contraindicated',
    revoked: false,
    released: false,
    reasons: [{ reason: 'pcr-mismatch', message: 'PCR 4 differs' }],
    ear: 'aGVhZGVy.cGF5bG9hZA.c2ln',
    at: '2026-12-04T10:00:00.000Z',
  };
  await writeLastResult(dir, last);

  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const files = (await readdir(dir)).sort();
  assert.deepEqual(files, ['ak.json', 'ak.name', 'ak.priv', 'ak.pub', 'ak.pub.pem', 'last-result.json', 'node.json']);
  for (const f of files) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);

  const state = await readEnrolledState(dir);
  assert.equal(state.node.nodeId, NODE_ID);
  assert.deepEqual(state.ak.descriptor, ak.descriptor);
  assert.deepEqual(await readLastResult(dir), last);
  assert.deepEqual((await readAk(dir)).public.bytes, ak.public.bytes);

  // An existing, too open directory is tightened.
  await chmod(dir, 0o755);
  await prepareStateDir(dir);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
});

test('every field of node.json is checked when read back; a foreign AK or a missing one is refused', async (t) => {
  const dir = await tempDir(t, 'vouch-agent-state-');
  const ak = await akBlobs();
  await writeAk(dir, ak);
  const good = record(ak.descriptor.name);
  const cases: [string, Record<string, unknown>][] = [
    ['format', { format: 'vouch-node-v0' }],
    ['server', { server: 'https://vouch.example:8443/path' }],
    ['server', { server: 'file:///etc/passwd' }],
    ['serverCa', { serverCa: 'not a pem' }],
    ['hostname', { hostname: 'Node_1' }],
    ['ekAlg', { ekAlg: 'dsa' }],
    ['akName', { akName: 'zz' }],
    ['enrollmentId', { enrollmentId: 'x' }],
    ['status', { status: 'approved' }],
    ['nodeId', { nodeId: undefined }],
    ['nodeId', { status: 'pending-approval' }],
    ['updatedAt', { updatedAt: 'yesterday' }],
    ['extra', { extra: 1 }],
  ];
  for (const [field, change] of cases) {
    await writeFile(join(dir, 'node.json'), JSON.stringify({ ...good, ...change }));
    await assert.rejects(readNodeRecord(dir), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_AGENT_STATE');
      assert.match(e.message, new RegExp(`field ${field} is`), `${JSON.stringify(change)}: ${e.message}`);
      return true;
    });
  }
  for (const text of ['', '{', '[]', 'null']) {
    await writeFile(join(dir, 'node.json'), text);
    await assert.rejects(readNodeRecord(dir), { code: 'ERR_AGENT_STATE' });
  }
  // A record naming another AK than the files hold (a state directory copied from another node).
  await writeNodeRecord(dir, { ...good, akName: '000b' + 'ab'.repeat(32) });
  await assert.rejects(readEnrolledState(dir), { code: 'ERR_AGENT_STATE', message: /records AK 000babab.*the AK files hold/ });
  // An AK file edited: its Name no longer matches ak.json.
  await writeNodeRecord(dir, good);
  const pub = await readFile(join(dir, 'ak.pub'));
  pub[pub.length - 1]! ^= 1;
  await writeFile(join(dir, 'ak.pub'), pub);
  await assert.rejects(readEnrolledState(dir), { code: 'ERR_AGENT_STATE', message: /ak\.pub: does not have the Name recorded in ak\.json/ });
  // No node record: not enrolled; a pending one: pending.
  const empty = join(dir, 'empty');
  await mkdir(empty);
  await assert.rejects(readEnrolledState(empty), { code: 'ERR_AGENT_NOT_ENROLLED' });
  const pending: Record<string, unknown> = { ...good, status: 'pending-approval' };
  delete pending.nodeId;
  await writeFile(join(dir, 'node.json'), JSON.stringify(pending));
  await assert.rejects(readEnrolledState(dir), { code: 'ERR_AGENT_ENROLLMENT_PENDING' });
});
