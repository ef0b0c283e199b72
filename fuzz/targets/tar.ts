// Tar layers (ustar, pax, GNU) as OCI image builds read them, possibly gzip-compressed, applied
// to a tree with whiteouts and hardlinks as a container runtime would.
import { Readable } from 'node:stream';
import { buildTreeFromTarLayers } from '../../src/composefs/index.ts';

export { VouchError } from './typed.ts';

export async function fuzzOne(data: Uint8Array): Promise<void> {
  // Two reads, so a header split across reads is part of every run.
  const cut = data.length >> 1;
  await buildTreeFromTarLayers([Readable.from([data.subarray(0, cut), data.subarray(cut)]) as AsyncIterable<Uint8Array>]);
}
