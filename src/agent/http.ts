// The agent's one way to talk HTTP(S) to the server: node:http(s) with the server's certificate
// or CA pinned (no system trust store unless asked), a deadline per request, and a cap on the
// response body applied while reading — a hostile or broken server cannot make the agent hang
// or hold unbounded memory in the initramfs.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ProtocolError } from '../protocol/index.ts';

export interface HttpOptions {
  /** PEM of the server certificate or CA to trust for https URLs; undefined: the system's CAs. */
  readonly ca?: string;
  /** Whole-request deadline. */
  readonly timeoutMs: number;
  /** Largest response body read. */
  readonly maxResponseBytes: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly retryAfterSeconds?: number;
  readonly body: Buffer;
}

function unreachable(url: URL, message: string, cause?: unknown): ProtocolError {
  return new ProtocolError('ERR_CLIENT_UNREACHABLE', `${url.origin}: ${message}`, { url: url.origin }, cause === undefined ? undefined : { cause });
}

/** One request; network failures are ERR_CLIENT_UNREACHABLE, an oversized body ERR_CLIENT_RESPONSE. */
export function httpJson(url: URL, method: 'GET' | 'POST', body: unknown, options: HttpOptions): Promise<HttpResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const request = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (!request) return Promise.reject(unreachable(url, `unsupported scheme ${url.protocol} (http: or https:)`));
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
        timeout: options.timeoutMs,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxResponseBytes) {
            req.destroy();
            reject(new ProtocolError('ERR_CLIENT_RESPONSE', `${url.origin}: response larger than ${options.maxResponseBytes} bytes`, { url: url.origin }));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const retryAfter = Number(res.headers['retry-after']);
          resolve({
            status: res.statusCode ?? 0,
            contentType: (res.headers['content-type'] ?? '').split(';')[0]!.trim(),
            ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
            body: Buffer.concat(chunks),
          });
        });
        res.on('error', (e) => {
          reject(unreachable(url, e.message, e));
        });
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('close', () => {
      clearTimeout(deadline);
    });
    req.on('timeout', () => req.destroy(new Error(`idle for ${options.timeoutMs} ms`)));
    req.on('error', (e) => {
      reject(unreachable(url, e.message, e));
    });
    req.end(payload);
  });
}
