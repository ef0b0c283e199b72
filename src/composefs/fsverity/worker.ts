// Worker thread: hashes the data blocks of one range of a file (see file.ts) and posts them back.
import { open } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { hashRange, type RangeRequest } from './range.ts';

if (parentPort && workerData) {
  const request = workerData as RangeRequest;
  const fh = await open(typeof request.path === 'string' ? request.path : Buffer.from(request.path), 'r');
  try {
    const result = await hashRange(fh, request);
    parentPort.postMessage(result, [result.hashes.buffer as ArrayBuffer]);
  } finally {
    await fh.close();
  }
}
