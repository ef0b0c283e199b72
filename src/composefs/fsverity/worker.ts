// Worker thread: answers each range request (see file.ts) with the hashes of its data blocks,
// keeping one open file per path. A failed read rejects, which ends the worker with an 'error'
// event, and the parent fails the whole digest.
import { open, type FileHandle } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { hashRange, type RangeRequest } from './range.ts';

const files = new Map<string, Promise<FileHandle>>();

async function answer(request: RangeRequest): Promise<void> {
  const path = typeof request.path === 'string' ? request.path : Buffer.from(request.path);
  const key = path.toString('latin1');
  let fh = files.get(key);
  if (!fh) {
    fh = open(path, 'r');
    files.set(key, fh);
  }
  const result = await hashRange(await fh, request);
  parentPort!.postMessage(result, [result.hashes.buffer as ArrayBuffer]);
}

// Not awaited or caught on purpose: a rejection left unhandled ends the worker with the 'error'
// event the parent listens for.
parentPort?.on('message', (request: RangeRequest) => void answer(request));
