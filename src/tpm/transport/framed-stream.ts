import type { Duplex } from 'node:stream';
import { TpmError } from '../errors.ts';
import { TPM_LIMITS } from '../constants.ts';

/**
 * Request/response over a byte stream. `frameLength(buf)` says how long the first complete
 * frame is once enough bytes are buffered (undefined: need more). One request is in flight at a
 * time; later sends queue behind it, because neither swtpm nor the kernel device multiplexes.
 */
export class FramedStream {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stream: Duplex;
  private readonly frameLength: (buf: Buffer) => number | undefined;
  private readonly label: string;

  constructor(stream: Duplex, label: string, frameLength: (buf: Buffer) => number | undefined) {
    this.stream = stream;
    this.label = label;
    this.frameLength = frameLength;
    const fail = (e: Error): void => {
      this.failure ??= new TpmError('ERR_TPM_TRANSPORT', `${label}: ${e.message}`, { transport: label }, { cause: e });
      this.waiting?.reject(this.failure);
      this.waiting = undefined;
    };
    stream.on('data', (chunk: Buffer) => {
      // Bytes nobody asked for would be taken as the answer to the next command: a peer that
      // sends them is broken or hostile, so the channel is closed for good.
      if (!this.waiting) {
        fail(new Error(`${chunk.length} unsolicited bytes from the peer`));
        return;
      }
      this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
      this.deliver();
    });
    stream.on('error', fail);
    stream.on('close', () => fail(new Error('connection closed')));
    stream.on('end', () => fail(new Error('connection closed by peer')));
  }

  private deliver(): void {
    if (!this.waiting) return;
    let n: number | undefined;
    try {
      n = this.frameLength(this.buffered);
    } catch (e) {
      // A bad header leaves the rest of that frame in flight: nothing after it can be trusted to
      // line up with a request, so the channel fails for good (as with trailing bytes below).
      this.failure ??= e as Error;
      this.waiting.reject(this.failure);
      this.waiting = undefined;
      return;
    }
    if (n === undefined || this.buffered.length < n) return;
    const w = this.waiting;
    this.waiting = undefined;
    if (this.buffered.length > n) {
      this.failure ??= new TpmError('ERR_TPM_TRANSPORT', `${this.label}: ${this.buffered.length - n} bytes after the response`, { transport: this.label });
      w.reject(this.failure);
      return;
    }
    const frame = this.buffered;
    this.buffered = Buffer.alloc(0);
    w.resolve(frame);
  }

  /** Writes `request` and resolves with the next complete frame. */
  exchange(request: Uint8Array): Promise<Buffer> {
    const run = (): Promise<Buffer> =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.failure) {
          reject(this.failure);
          return;
        }
        this.waiting = { resolve, reject };
        this.stream.write(request);
        this.deliver();
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    this.failure ??= new TpmError('ERR_TPM_TRANSPORT', `${this.label}: closed`, { transport: this.label });
    await new Promise<void>((resolve) => {
      if (this.stream.destroyed) {
        resolve();
        return;
      }
      this.stream.once('close', () => resolve());
      this.stream.end();
      this.stream.destroy();
    });
  }
}

/** A raw TPM response: 10-byte header whose bytes 2..5 are the total size. */
export function rawTpmFrameLength(buf: Buffer): number | undefined {
  if (buf.length < 6) return undefined;
  const size = buf.readUInt32BE(2);
  if (size < 10 || size > TPM_LIMITS.MAX_RESPONSE) {
    throw new TpmError('ERR_TPM_TRANSPORT', `response announces ${size} bytes (must be 10..${TPM_LIMITS.MAX_RESPONSE})`, { size });
  }
  return size;
}

/** A fixed-size reply (swtpm control channel results, MS-simulator platform acks). */
export function fixedFrameLength(n: number): (buf: Buffer) => number | undefined {
  return (buf) => (buf.length >= n ? n : undefined);
}
