/**
 * swtpm and the Microsoft TPM simulator over sockets.
 *
 * swtpm's data channel takes raw TPM commands (what tpm2-tss's `swtpm:` TCTI sends) and, as a
 * fact of swtpm 0.7, also recognises the MS-simulator framing (TPM_SEND_COMMAND = 8, locality,
 * u32 size, command → u32 size, response, u32 0). Its control channel (port N+1, or an inherited
 * Unix socket) speaks swtpm's own ioctl-style protocol: u32 command, payload → u32 result
 * (CMD_INIT = 2 powers the TPM on; CMD_SHUTDOWN = 3). The MS simulator's platform channel
 * instead takes bare u32 signals (TPM_SIGNAL_POWER_ON = 1, TPM_SIGNAL_NV_ON = 11).
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ByteWriter } from '../../bytes/index.ts';
import { TpmError } from '../errors.ts';
import { FramedStream, fixedFrameLength, rawTpmFrameLength } from './framed-stream.ts';
import type { TpmTransport } from './types.ts';

/** swtpm control-channel commands (swtpm's tpm_ioctl.h, PTM_* over sockets). */
export const SWTPM_CTRL = { GET_CAPABILITY: 1, INIT: 2, SHUTDOWN: 3, STOP: 14 } as const;
/** MS-simulator socket protocol (TPM reference simulator TpmTcpProtocol.h). */
export const MSSIM = { SIGNAL_POWER_ON: 1, SIGNAL_POWER_OFF: 2, SEND_COMMAND: 8, SIGNAL_NV_ON: 11, SESSION_END: 20 } as const;

async function tcp(host: string, port: number, label: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = connect({ host, port });
    s.setNoDelay(true);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e) =>
      reject(new TpmError('ERR_TPM_TRANSPORT', `${label}: cannot connect to ${host}:${port}: ${e.message}`, { host, port }, { cause: e })),
    );
  });
}

/** The swtpm control channel. */
export class SwtpmControl {
  private readonly channel: FramedStream;
  constructor(stream: Duplex) {
    this.channel = new FramedStream(stream, 'swtpm control', fixedFrameLength(4));
  }
  private async call(cmd: number, payload?: number): Promise<void> {
    const w = new ByteWriter(8).u32(cmd);
    if (payload !== undefined) w.u32(payload);
    const result = (await this.channel.exchange(w.finish())).readUInt32BE(0);
    if (result !== 0) throw new TpmError('ERR_TPM_TRANSPORT', `swtpm control command ${cmd} failed with 0x${result.toString(16)}`, { command: cmd, result });
  }
  /** Powers the TPM on (CMD_INIT); TPM2_Startup must follow unless swtpm runs with startup-clear. */
  init(deleteVolatile = false): Promise<void> {
    return this.call(SWTPM_CTRL.INIT, deleteVolatile ? 1 : 0);
  }
  /** Orderly power-off: swtpm stores its state. */
  shutdown(): Promise<void> {
    return this.call(SWTPM_CTRL.SHUTDOWN);
  }
  close(): Promise<void> {
    return this.channel.close();
  }
}

/** Raw TPM commands over an already-connected stream (TCP socket or an inherited socketpair). */
export function rawStreamTransport(stream: Duplex, label: string, onClose?: () => Promise<void>): TpmTransport {
  const ch = new FramedStream(stream, label, rawTpmFrameLength);
  return {
    send: (command) => ch.exchange(command).then((b) => new Uint8Array(b)),
    async close() {
      await ch.close();
      await onClose?.();
    },
  };
}

export interface SocketAddress {
  readonly host: string;
  readonly port: number;
  /** Control/platform port; N+1 by convention. */
  readonly controlPort?: number;
  /** Power the TPM on through the control channel before use. */
  readonly powerOn?: boolean;
}

/** `swtpm:host=H,port=N`: raw commands; with powerOn, CMD_INIT through the control port first. */
export async function connectSwtpm(addr: SocketAddress): Promise<TpmTransport> {
  if (addr.powerOn) {
    const ctrl = new SwtpmControl(await tcp(addr.host, addr.controlPort ?? addr.port + 1, 'swtpm control'));
    try {
      await ctrl.init();
    } finally {
      await ctrl.close();
    }
  }
  return rawStreamTransport(await tcp(addr.host, addr.port, 'swtpm'), `swtpm ${addr.host}:${addr.port}`);
}

/** `mssim:host=H,port=N`: MS-simulator framing at locality 0; with powerOn, POWER_ON + NV_ON first. */
export async function connectMssim(addr: SocketAddress): Promise<TpmTransport> {
  if (addr.powerOn) {
    const platform = new FramedStream(await tcp(addr.host, addr.controlPort ?? addr.port + 1, 'mssim platform'), 'mssim platform', fixedFrameLength(4));
    try {
      for (const signal of [MSSIM.SIGNAL_POWER_ON, MSSIM.SIGNAL_NV_ON]) await platform.exchange(new ByteWriter(4).u32(signal).finish());
    } finally {
      await platform.close();
    }
  }
  const socket = await tcp(addr.host, addr.port, 'mssim');
  const ch = new FramedStream(socket, `mssim ${addr.host}:${addr.port}`, (buf) => {
    if (buf.length < 4) return undefined;
    const n = rawTpmFrameLength(buf.subarray(4));
    if (n === undefined) return undefined;
    // The simulator's length prefix and the response's own size must agree, else the frame
    // boundary (and the acknowledgement after it) is a guess.
    const announced = buf.readUInt32BE(0);
    if (announced !== n)
      throw new TpmError('ERR_TPM_TRANSPORT', `mssim: length prefix ${announced} does not match the response size ${n}`, { announced, size: n });
    return 4 + n + 4;
  });
  return {
    async send(command) {
      const frame = await ch.exchange(new ByteWriter(command.length + 9).u32(MSSIM.SEND_COMMAND).u8(0).u32(command.length).bytes(command).finish());
      const ack = frame.readUInt32BE(frame.length - 4);
      if (ack !== 0) throw new TpmError('ERR_TPM_TRANSPORT', `mssim: command not acknowledged (0x${ack.toString(16)})`, { ack });
      return new Uint8Array(frame.subarray(4, frame.length - 4));
    },
    async close() {
      socket.write(new ByteWriter(4).u32(MSSIM.SESSION_END).finish());
      await ch.close();
    },
  };
}
