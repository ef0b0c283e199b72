// Transports against a hostile peer (a Unix socket that answers with broken frames): every
// failure is ERR_TPM_TRANSPORT or a typed decode error, never a hang or a desynchronised answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tpm } from '../../src/tpm/client.ts';
import { rawStreamTransport } from '../../src/tpm/transport/swtpm.ts';

/** A peer that answers each command with `reply(command)` (raw bytes, possibly broken). */
async function hostilePeer(t: { after(fn: () => Promise<void>): void }, reply: (command: Buffer, socket: Socket) => void): Promise<Tpm> {
  const dir = await mkdtemp(join(tmpdir(), 'vouch-tpm-peer-'));
  const path = join(dir, 'tpm.sock');
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('data', (d: Buffer) => reply(d, s));
  });
  await new Promise<void>((res) => server.listen(path, res));
  const socket = createConnection(path);
  await new Promise<void>((res) => socket.once('connect', () => res()));
  const tpm = new Tpm(rawStreamTransport(socket, 'hostile peer'));
  t.after(async () => {
    await tpm.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => server.close(() => res()));
    await rm(dir, { recursive: true, force: true });
  });
  return tpm;
}

const hex = (h: string) => Buffer.from(h, 'hex');
// A good GetRandom(4) response: tag NO_SESSIONS, size 16, rc 0, TPM2B of 4 bytes.
const goodRandom = hex('80010000001000000000000401020304');

test('a well-formed answer in several chunks is assembled', async (t) => {
  const tpm = await hostilePeer(t, (_c, s) => {
    s.write(goodRandom.subarray(0, 3));
    setImmediate(() => s.write(goodRandom.subarray(3)));
  });
  assert.deepStrictEqual(await tpm.getRandom(4), new Uint8Array([1, 2, 3, 4]));
});

test('a size field beyond the maximum is refused before buffering, and the channel stays closed', async (t) => {
  // The oversized header first, a well-formed answer next: the second must not be taken as the
  // reply to the next command (the rest of the oversized frame may still be on its way).
  let calls = 0;
  const tpm = await hostilePeer(t, (_c, s) => s.write(calls++ === 0 ? hex('8001ffffffff00000000') : goodRandom));
  await assert.rejects(tpm.getRandom(4), { code: 'ERR_TPM_TRANSPORT', message: /announces/ });
  await assert.rejects(tpm.getRandom(4), { code: 'ERR_TPM_TRANSPORT', message: /announces/ });
});

test('extra bytes after a response close the channel instead of answering the next command', async (t) => {
  const tpm = await hostilePeer(t, (_c, s) => s.write(Buffer.concat([goodRandom, goodRandom])));
  await assert.rejects(tpm.getRandom(4), { code: 'ERR_TPM_TRANSPORT' });
  await assert.rejects(tpm.getRandom(4), { code: 'ERR_TPM_TRANSPORT' });
});

test('a peer that hangs up fails the pending command', async (t) => {
  const tpm = await hostilePeer(t, (_c, s) => s.end(goodRandom.subarray(0, 8)));
  await assert.rejects(tpm.getRandom(4), { code: 'ERR_TPM_TRANSPORT' });
});

test('a response whose contents lie about their sizes is a typed decode error', async (t) => {
  const tpm = await hostilePeer(t, (_c, s) => s.write(hex('80010000001000000000000801020304')));
  await assert.rejects(tpm.getRandom(4), { code: 'ERR_TPM_TRUNCATED' });
});

test('mssim: a length prefix that disagrees with the response size fails the channel', async (t) => {
  const server = createServer((s) => s.on('data', () => s.write(Buffer.concat([hex('00000011'), goodRandom, hex('00000000')]))));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const sockets: Socket[] = [];
  server.on('connection', (s) => sockets.push(s));
  const { port } = server.address() as AddressInfo;
  const tpm = await Tpm.open(`mssim:host=127.0.0.1,port=${port}`);
  t.after(async () => {
    await tpm.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => server.close(() => res()));
  });
  await assert.rejects(tpm.getRandom(4), { code: 'ERR_TPM_TRANSPORT', message: /length prefix 17 does not match the response size 16/ });
});

test('a TPM reporting TPM_PT_NV_BUFFER_MAX = 0 is a typed error, not an endless chunk loop', async (t) => {
  // GetCapability(TPM_PROPERTIES) → moreData NO, one property: NV_BUFFER_MAX (0x12c) = 0.
  const tpm = await hostilePeer(t, (_c, s) => s.write(hex('80010000001b' + '00000000' + '00' + '00000006' + '00000001' + '0000012c' + '00000000')));
  await assert.rejects(tpm.nvWrite(0x01500000, new Uint8Array(8)), { code: 'ERR_TPM_BAD_VALUE', message: /NV_BUFFER_MAX = 0/ });
});
