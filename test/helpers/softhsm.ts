// A throwaway SoftHSM2 for PKCS#11 tests: its own token directory and configuration in a temp
// directory (SOFTHSM2_CONF), two initialized tokens, removed when the process exits.
//
// SoftHSM reads its configuration and token list when the library is initialized; Vouch keeps the
// library initialized while any key of it is open. So the configuration is set once per process,
// before the first key opens, and the tokens are made up front. Tests keep apart by object label.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pkcs11js from 'pkcs11js';
import { findTool } from './peers.ts';

export const SOFTHSM_TOKENS = ['vouch-a', 'vouch-b'] as const;
export const SOFTHSM_PIN = '246810';

export interface SoftHsm {
  readonly modulePath: string;
  /** A pkcs11: URI for an AES key `object` on `token`. */
  uri(object: string, token?: (typeof SOFTHSM_TOKENS)[number]): string;
}

const MODULE_PATHS = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib64/softhsm/libsofthsm2.so'];

let made: SoftHsm | undefined;

function make(util: string, modulePath: string): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-softhsm-'));
  process.once('exit', () => spawnSync('rm', ['-rf', dir]));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  for (const label of SOFTHSM_TOKENS) {
    execFileSync(util, ['--init-token', '--free', '--label', label, '--pin', SOFTHSM_PIN, '--so-pin', '13579'], { stdio: 'ignore' });
  }
  return {
    modulePath,
    uri: (object, token = SOFTHSM_TOKENS[0]) => `pkcs11:token=${token};object=${object}?module-path=${modulePath}&pin-value=${SOFTHSM_PIN}`,
  };
}

/** The process's SoftHSM; undefined after skipping where SoftHSM2 is missing (a failure under CI). */
export function softHsmForTest(t: TestContext): SoftHsm | undefined {
  const util = findTool('softhsm2-util');
  const modulePath = MODULE_PATHS.find((p) => existsSync(p));
  if (!util || !modulePath) {
    if (process.env.CI) throw new Error('SoftHSM2 is missing: scripts/install-deps.sh installs the softhsm2 package');
    t.skip('SoftHSM2 not installed (run make setup as root)');
    return undefined;
  }
  made ??= make(util, modulePath);
  return made;
}

/**
 * Runs fn in a logged-in read-write session on a token, through a handle to the library of the
 * test's own; if Vouch already initialized the library in this process, that initialization is
 * shared and left in place.
 */
function withSession<T>(hsm: SoftHsm, token: (typeof SOFTHSM_TOKENS)[number], fn: (lib: pkcs11js.PKCS11, session: Buffer) => T): T {
  const lib = new pkcs11js.PKCS11();
  lib.load(hsm.modulePath);
  let ours = true;
  try {
    lib.C_Initialize();
  } catch (e) {
    if ((e as Error).message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw e;
    ours = false;
  }
  try {
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === token);
    if (slot === undefined) throw new Error(`no token ${token}`);
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, SOFTHSM_PIN);
    } catch (e) {
      if ((e as Error).message !== 'CKR_USER_ALREADY_LOGGED_IN') throw e;
    }
    try {
      return fn(lib, session);
    } finally {
      lib.C_CloseSession(session);
    }
  } finally {
    if (ours) lib.C_Finalize();
  }
}

/** Puts a known AES key on a token, so that a test can compare what the HSM computes with the same key in software. */
export function importAesKey(hsm: SoftHsm, object: string, key: Uint8Array, token: (typeof SOFTHSM_TOKENS)[number] = SOFTHSM_TOKENS[0]): void {
  withSession(hsm, token, (lib, session) =>
    lib.C_CreateObject(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_LABEL, value: object },
      { type: pkcs11js.CKA_VALUE, value: Buffer.from(key) },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    ]),
  );
}

/** Whether a key object is sensitive and extractable, as the token reports it. */
export function keyProtection(
  hsm: SoftHsm,
  object: string,
  token: (typeof SOFTHSM_TOKENS)[number] = SOFTHSM_TOKENS[0],
): { sensitive: boolean; extractable: boolean } {
  return withSession(hsm, token, (lib, session) => {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: object }]);
    const [handle] = lib.C_FindObjects(session, 1);
    lib.C_FindObjectsFinal(session);
    if (!handle) throw new Error(`no object ${object}`);
    const [sensitive, extractable] = lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }]);
    return { sensitive: sensitive?.value[0] === 1, extractable: extractable?.value[0] === 1 };
  });
}

/** Deletes a key object (a test standing in for an operator who regenerates a key under the same label). */
export function destroyKey(hsm: SoftHsm, object: string, token: (typeof SOFTHSM_TOKENS)[number] = SOFTHSM_TOKENS[0]): void {
  withSession(hsm, token, (lib, session) => {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: object }]);
    const handles = lib.C_FindObjects(session, 10);
    lib.C_FindObjectsFinal(session);
    for (const h of handles) lib.C_DestroyObject(session, h);
  });
}
