// Shared by the sealing tests: policy keys, a UKI whose PCR 11 Vouch predicts per boot phase, and
// systemd's tools (Debian 12's systemd 252 keeps systemd-measure out of PATH).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { buildUki, parseBootProfile, predict, type Prediction, type UkiParts } from '../../src/predict/index.ts';
import { packageFile } from '../helpers/peers.ts';
import { SYSTEMD_STUB } from '../helpers/bootlab.ts';

export const SYSTEMD_MEASURE = '/usr/lib/systemd/systemd-measure';
/** The phases systemd-measure signs by default (src/boot/measure.c). */
export const SYSTEMD_PHASES = ['enter-initrd', 'leave-initrd', 'sysinit', 'ready'] as const;

export interface PolicyKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly privatePem: string;
  readonly publicPem: string;
}

export function policyKey(kind: 'rsa' | 'ec'): PolicyKey {
  const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    ...pair,
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Whether Debian's systemd-stub is installed (else the test is unavailable, failing under CI). */
export function haveStub(t: TestContext): boolean {
  return packageFile(t, SYSTEMD_STUB, 'systemd-boot-efi');
}

export async function readStub(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(SYSTEMD_STUB));
}

/** A UKI of `parts` on Debian's stub and its prediction (systemd-stub 252, the given phases, sha1 + sha256 banks). */
export function predictUki(
  stub: Uint8Array,
  parts: Omit<UkiParts, 'stub'>,
  phases: readonly string[] = SYSTEMD_PHASES,
): { uki: Uint8Array; prediction: Prediction } {
  const uki = buildUki({ stub, ...parts });
  const profile = parseBootProfile({
    banks: ['sha1', 'sha256'],
    chain: [{ kind: 'uki', image: 'uki', authority: 'none', stubVersion: 252, phases: [...phases] }],
  });
  return { uki, prediction: predict(profile, new Map([['uki', uki]])) };
}
