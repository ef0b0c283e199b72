import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { masterKeyFromBytes, readSecretsBackupFile, SecretBroker, writeSecretsBackupFile, type BackupKey } from '../../src/broker/index.ts';
import type { Store } from '../../src/store/index.ts';
import { newNode, storeFixture, storeTest } from '../store/harness.ts';

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(l.replace(/\n$/, ''));
  return out;
}

async function* from(lines: readonly string[]): AsyncGenerator<string> {
  for (const l of lines) {
    await Promise.resolve();
    yield l;
  }
}

/** A store with `n` nodes, each with a LUKS key and some with a second join-credential version. */
async function populated(store: Store, n: number): Promise<{ broker: SecretBroker; values: Map<string, Buffer> }> {
  const broker = await SecretBroker.open(store, [masterKeyFromBytes(randomBytes(32))]);
  const values = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const node = await store.nodes.create(newNode({ status: 'enrolled' }));
    const luks = randomBytes(32);
    await broker.issue(node.id, 'luks-key', luks);
    values.set(`${node.id}/luks-key/1`, luks);
    if (i % 3 === 0) {
      for (const v of [1, 2]) {
        const join = Buffer.from(`join-${i}-${v}`);
        await broker.issue(node.id, 'join-credential', join);
        values.set(`${node.id}/join-credential/${v}`, join);
      }
    }
  }
  return { broker, values };
}

async function readAll(broker: SecretBroker, values: Map<string, Buffer>): Promise<void> {
  for (const [address, value] of values) {
    const [owner, name, version] = address.split('/') as [string, string, string];
    assert.deepEqual((await broker.read(owner, name, Number(version)))?.value, value, address);
  }
}

test('a backup made on SQLite restores on PostgreSQL under another master key, and back; a second import changes nothing', async (t) => {
  const sqliteF = await storeFixture(t, 'sqlite');
  const pgF = await storeFixture(t, 'postgres');
  if (!sqliteF || !pgF) return;
  const source = await sqliteF.open();
  const { broker, values } = await populated(source, 12);
  const dir = await mkdtemp(join(tmpdir(), 'vouch-backup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'secrets.backup');
  const passphrase: BackupKey = { passphrase: 'correct horse battery staple' };
  await writeSecretsBackupFile(file, broker.exportBackup(passphrase));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  for (const v of values.values()) assert.ok(!text.includes(v.toString('base64')) && !text.includes(v.toString('hex')));
  await assert.rejects(writeSecretsBackupFile(file, broker.exportBackup(passphrase)), /EEXIST/, 'never overwrites a backup');

  // The nodes themselves move with the database; the backup restores the secrets, rewrapped.
  const target = await pgF.open();
  const restored = await SecretBroker.open(target, [masterKeyFromBytes(randomBytes(32))]);
  assert.deepEqual(await restored.importBackup(readSecretsBackupFile(file), passphrase), { imported: values.size, unchanged: 0 });
  await readAll(restored, values);
  assert.deepEqual(await restored.importBackup(readSecretsBackupFile(file), passphrase), { imported: 0, unchanged: values.size });
  await assert.rejects(restored.importBackup(readSecretsBackupFile(file), { passphrase: 'Correct horse battery staple' }), { code: 'ERR_BROKER_BACKUP_KEY' });

  const key: BackupKey = { key: randomBytes(32) };
  const back = await collect(restored.exportBackup(key));
  assert.equal(back.length, values.size + 2);
  const fresh = await (await storeFixture(t, 'sqlite'))!.open();
  const freshBroker = await SecretBroker.open(fresh, [masterKeyFromBytes(randomBytes(32))]);
  assert.equal((await freshBroker.importBackup(from(back), key)).imported, values.size);
  await readAll(freshBroker, values);
});

storeTest('a damaged backup, or the wrong key, imports nothing at all', async (t, f) => {
  const { broker } = await populated(await f.open(), 4);
  // A key rather than a passphrase: each import of a passphrase backup runs scrypt (128 MiB, ~0.3 s).
  const key: BackupKey = { key: randomBytes(32) };
  const lines = await collect(broker.exportBackup(key));
  const target = await (await storeFixture(t, f.dialect))!.open();
  const restore = await SecretBroker.open(target, [masterKeyFromBytes(randomBytes(32))]);
  const refused = async (bad: readonly string[], code: string, with_: BackupKey = key): Promise<void> => {
    await assert.rejects(restore.importBackup(from(bad), with_), { code });
    assert.equal((await target.secrets.list()).items.length, 0, 'nothing imported');
  };
  await refused(lines, 'ERR_BROKER_BACKUP_KEY', { key: randomBytes(32) });
  await refused(lines, 'ERR_BROKER_BACKUP_KEY', { passphrase: 'a key backup opened with a passphrase' });
  await refused(lines.slice(0, -1), 'ERR_BROKER_BACKUP_FORMAT'); // truncated: no final MAC
  await refused([...lines.slice(0, 2), ...lines.slice(3)], 'ERR_BROKER_BACKUP_FORMAT'); // an entry removed
  await refused([lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)], 'ERR_BROKER_BACKUP_FORMAT'); // reordered
  await refused([...lines, lines[1]!], 'ERR_BROKER_BACKUP_FORMAT'); // data after the end
  const entry = JSON.parse(lines[1]!) as Record<string, unknown>;
  await refused([lines[0]!, JSON.stringify({ ...entry, owner: '00000000-0000-4000-8000-000000000000' }), ...lines.slice(2)], 'ERR_BROKER_BACKUP_FORMAT');
  const ct = Buffer.from(entry.ciphertext as string, 'base64');
  ct[ct.length - 1]! ^= 1;
  await refused([lines[0]!, JSON.stringify({ ...entry, ciphertext: ct.toString('base64') }), ...lines.slice(2)], 'ERR_BROKER_BACKUP_FORMAT');
  await refused(['not json', ...lines.slice(1)], 'ERR_BROKER_BACKUP_FORMAT');
  await refused([], 'ERR_BROKER_BACKUP_FORMAT');
  // A crafted header asking scrypt for gigabytes is refused before any work.
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  const scrypt = { name: 'scrypt', salt: 'AAAAAAAAAAAAAAAAAAAAAA==', N: 2 ** 17, r: 8, p: 1 };
  for (const kdf of [
    { ...scrypt, N: 2 ** 24 },
    { ...scrypt, N: 2 ** 20, r: 16 },
    { ...scrypt, N: 3 },
    { ...scrypt, p: 64 },
  ]) {
    await refused([JSON.stringify({ ...header, kdf }), ...lines.slice(1)], 'ERR_BROKER_BACKUP_FORMAT', { passphrase: 'p' });
  }
  await refused(['x'.repeat(600 * 1024)], 'ERR_BROKER_BACKUP_FORMAT');
  assert.equal((await restore.importBackup(from(lines), key)).imported, lines.length - 2);
});

storeTest('an import never replaces a stored secret that differs from the backup’s', async (t, f) => {
  const store = await f.open();
  const { broker } = await populated(store, 2);
  const key: BackupKey = { key: randomBytes(32) };
  const lines = await collect(broker.exportBackup(key));
  // Another store in which the same node, name and version hold another value.
  const other = await (await storeFixture(t, f.dialect))!.open();
  const otherBroker = await SecretBroker.open(other, [masterKeyFromBytes(randomBytes(32))]);
  const first = JSON.parse(lines[1]!) as { owner: string; name: string };
  await otherBroker.issue(first.owner, first.name, randomBytes(32));
  await assert.rejects(otherBroker.importBackup(from(lines), key), { code: 'ERR_BROKER_BACKUP_CONFLICT' });
  assert.equal((await other.secrets.list()).items.length, 1);
});
