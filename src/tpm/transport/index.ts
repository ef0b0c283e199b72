export type { TpmTransport } from './types.ts';
export { openTransport, parseTpmUri } from './open.ts';
export type { TpmUri, SimulatorOptions } from './open.ts';
export { openDevice } from './device.ts';
export { connectSwtpm, connectMssim, rawStreamTransport, SwtpmControl, SWTPM_CTRL, MSSIM } from './swtpm.ts';
export type { SocketAddress } from './swtpm.ts';
