/**
 * Authorization sessions (TPM 2.0 Library Part 1, 19): password, HMAC and policy.
 *
 * An HMAC session proves knowledge of the entity's authValue without sending it and binds the
 * command to its parameters: hmac = HMAC(sessionKey ‖ authValue, cpHash ‖ nonceCaller ‖ nonceTPM
 * ‖ attributes), with cpHash = H(commandCode ‖ names ‖ parameters). The TPM answers with an HMAC
 * over rpHash = H(responseCode ‖ commandCode ‖ response parameters); verifying it is what stops a
 * man in the middle (e.g. on the LPC/SPI bus, or a hostile swtpm socket) from altering responses.
 * Nonces roll on every command, so a recorded command cannot be replayed.
 */
import { randomBytes } from 'node:crypto';
import { bytesEqual, concatBytes, constantTimeEqual } from '../bytes/index.ts';
import { HASH_NODE_NAME, HASH_SIZE, TPM_RS_PW, algName } from './constants.ts';
import { cpHash, parameterCfb, parameterXor, rpHash, sessionHmac } from './crypto/session-crypto.ts';
import { TpmError } from './errors.ts';
import type { AuthCommand, AuthResponse } from './frame.ts';
import { TPMA_SESSION, type TPMT_SYM_DEF, type TpmHashAlg } from './structures.ts';
import { TPM_ALG } from './constants.ts';

export interface CommandAuthContext {
  readonly commandCode: number;
  /** Names of every handle in the command's handle area (empty unless some session needs them). */
  readonly names: readonly Uint8Array[];
  readonly paramBytes: Uint8Array;
}
export interface ResponseAuthContext {
  readonly commandCode: number;
  readonly paramBytes: Uint8Array;
}

export interface Session {
  readonly handle: number;
  /** Whether commandAuth needs the Names of the command's handles (cpHash). */
  readonly needsNames: boolean;
  /**
   * Called first for every command (and every retry): rolls the caller nonce and fixes the key
   * for this command, before parameters are encrypted and the HMAC computed over them.
   */
  prepare?(authorizedName: Uint8Array | undefined): void;
  /** Parameter encryption (Part 1, 21): the contents of the first command/response TPM2B parameter. */
  readonly encryptsCommand?: boolean;
  readonly encryptsResponse?: boolean;
  encryptCommandParameter?(data: Uint8Array): Uint8Array;
  decryptResponseParameter?(data: Uint8Array): Uint8Array;
  commandAuth(ctx: CommandAuthContext): AuthCommand;
  /** Checks the TPM's answer for this session and rolls nonces; throws ERR_TPM_BAD_VALUE on a bad HMAC. */
  responseAuth(ctx: ResponseAuthContext, auth: AuthResponse): void;
}

const continueOnly = TPMA_SESSION.make({ continueSession: true });
const empty = new Uint8Array(0);

/** TPM_RS_PW: the authValue in clear (Part 1, 19.8.4). Fine on a local bus; never over a network. */
export function passwordSession(password: Uint8Array = empty): Session {
  return {
    handle: TPM_RS_PW,
    needsNames: false,
    commandAuth: () => ({ sessionHandle: TPM_RS_PW, nonce: empty, sessionAttributes: continueOnly, hmac: password }),
    responseAuth(_ctx, auth) {
      if (auth.nonce.length !== 0 || auth.hmac.length !== 0) {
        throw new TpmError('ERR_TPM_BAD_VALUE', 'password session response carries a nonce or HMAC', {});
      }
    },
  };
}

export type SessionKind = 'hmac' | 'policy' | 'trial';

/** AES-128-CFB parameter encryption, what tpm2-tss uses by default (Part 1, 21.3). */
export const SESSION_AES_128_CFB: TPMT_SYM_DEF = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
/** XOR obfuscation (Part 1, 21.2): keyed by the session hash's KDFa, no cipher needed. */
export const SESSION_XOR = (hashAlg: TpmHashAlg): TPMT_SYM_DEF => ({ algorithm: TPM_ALG.XOR, keyBits: hashAlg, mode: null });

/**
 * An HMAC or policy session started with TPM2_StartAuthSession (see Tpm.startSession). Unsalted
 * and unbound sessions have an empty sessionKey; salted or bound ones derive it with KDFa from
 * the salt (sent encrypted to a TPM key, so an observer of the bus cannot compute the HMACs)
 * and the bound entity's authValue.
 */
export class AuthSession implements Session {
  readonly handle: number;
  readonly kind: SessionKind;
  readonly authHash: number;
  readonly needsNames = true;
  /** The authValue of the entity this session authorizes next (HMAC key part). */
  authValue: Uint8Array = empty;
  /** Set after TPM2_PolicyAuthValue: the policy session then HMACs with the authValue. */
  policyAuthValue = false;
  /** Set after TPM2_PolicyPassword: the policy session then sends the authValue in clear. */
  policyPassword = false;
  /** Keep the session open after the next command (continueSession). */
  continueSession = true;
  /** TPMA_SESSION.decrypt: the first command parameter travels encrypted (needs a symmetric session). */
  encryptsCommand = false;
  /** TPMA_SESSION.encrypt: the TPM encrypts the first response parameter (e.g. Unseal's outData). */
  encryptsResponse = false;
  /** The session's parameter-encryption algorithm (TPM_ALG_NULL: none). */
  readonly symmetric: TPMT_SYM_DEF;
  private readonly sessionKey: Uint8Array;
  /** Name of the entity the session is bound to: its authValue is already in the sessionKey. */
  private readonly boundName: Uint8Array | undefined;
  private nonceCaller: Uint8Array;
  private nonceTPM: Uint8Array;
  /** The HMAC key of the last command: the response is checked with the same one. */
  private lastKey: Uint8Array = empty;

  constructor(init: {
    handle: number;
    kind: SessionKind;
    authHash: number;
    nonceCaller: Uint8Array;
    nonceTPM: Uint8Array;
    sessionKey?: Uint8Array;
    boundName?: Uint8Array;
    symmetric?: TPMT_SYM_DEF;
  }) {
    if (!HASH_NODE_NAME[init.authHash]) throw new TpmError('ERR_TPM_UNSUPPORTED', `session hash ${algName(init.authHash)} is not supported`, {});
    this.handle = init.handle;
    this.kind = init.kind;
    this.authHash = init.authHash;
    this.nonceCaller = init.nonceCaller;
    this.nonceTPM = init.nonceTPM;
    this.sessionKey = init.sessionKey ?? empty;
    this.boundName = init.boundName;
    this.symmetric = init.symmetric ?? { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
  }

  get nonceTpm(): Uint8Array {
    return this.nonceTPM;
  }

  /** Whether an HMAC is computed at all: HMAC sessions always; policy sessions when keyed or after PolicyAuthValue. */
  private get usesHmac(): boolean {
    if (this.kind === 'hmac') return true;
    return this.policyAuthValue || this.sessionKey.length > 0;
  }

  /**
   * sessionKey ‖ authValue (Part 1, 19.6.8): the authValue of the entity the session authorizes;
   * none for a session that authorizes nothing (audit/encryption only). An HMAC session leaves it
   * out for the very entity it is bound to; a policy session includes it only after
   * PolicyAuthValue. The same value keys parameter encryption (Part 1, 21.1).
   */
  private sessionValue(authorizedName: Uint8Array | undefined): Uint8Array {
    if (authorizedName === undefined) return this.sessionKey;
    const boundToIt = this.boundName !== undefined && bytesEqual(this.boundName, authorizedName);
    const includeAuth = this.kind === 'hmac' ? !boundToIt : this.policyAuthValue;
    return includeAuth ? concatBytes(this.sessionKey, this.authValue) : this.sessionKey;
  }

  prepare(authorizedName: Uint8Array | undefined): void {
    this.nonceCaller = new Uint8Array(randomBytes(HASH_SIZE[this.authHash]!));
    this.lastKey = this.sessionValue(authorizedName);
  }

  private crypt(data: Uint8Array, newer: Uint8Array, older: Uint8Array, direction: 'encrypt' | 'decrypt'): Uint8Array {
    const sym = this.symmetric;
    if (sym.algorithm === TPM_ALG.AES && sym.mode === TPM_ALG.CFB && typeof sym.keyBits === 'number') {
      return parameterCfb(this.authHash, this.lastKey, sym.keyBits, newer, older, data, direction);
    }
    if (sym.algorithm === TPM_ALG.XOR) return parameterXor(this.authHash, this.lastKey, newer, older, data);
    throw new TpmError('ERR_TPM_UNSUPPORTED', `session 0x${this.handle.toString(16)} has no parameter encryption (symmetric ${algName(sym.algorithm)})`, {});
  }

  encryptCommandParameter(data: Uint8Array): Uint8Array {
    return this.crypt(data, this.nonceCaller, this.nonceTPM, 'encrypt');
  }

  /** After responseAuth: the TPM's new nonce is the newer one. */
  decryptResponseParameter(data: Uint8Array): Uint8Array {
    return this.crypt(data, this.nonceTPM, this.nonceCaller, 'decrypt');
  }

  private attributes() {
    return TPMA_SESSION.make({ continueSession: this.continueSession, decrypt: this.encryptsCommand, encrypt: this.encryptsResponse });
  }

  commandAuth(ctx: CommandAuthContext): AuthCommand {
    const attrs = this.attributes();
    if (this.kind === 'policy' && this.policyPassword) {
      return { sessionHandle: this.handle, nonce: this.nonceCaller, sessionAttributes: attrs, hmac: this.authValue };
    }
    if (!this.usesHmac) return { sessionHandle: this.handle, nonce: this.nonceCaller, sessionAttributes: attrs, hmac: empty };
    const hmac = sessionHmac(
      this.authHash,
      this.lastKey,
      cpHash(this.authHash, ctx.commandCode, ctx.names, ctx.paramBytes),
      this.nonceCaller,
      this.nonceTPM,
      TPMA_SESSION.toWord(attrs),
    );
    return { sessionHandle: this.handle, nonce: this.nonceCaller, sessionAttributes: attrs, hmac };
  }

  responseAuth(ctx: ResponseAuthContext, auth: AuthResponse): void {
    this.nonceTPM = auth.nonce;
    if (!this.usesHmac || (this.kind === 'policy' && this.policyPassword)) return;
    const expected = sessionHmac(
      this.authHash,
      this.lastKey,
      rpHash(this.authHash, 0, ctx.commandCode, ctx.paramBytes),
      this.nonceTPM,
      this.nonceCaller,
      TPMA_SESSION.toWord(auth.sessionAttributes),
    );
    if (!constantTimeEqual(expected, auth.hmac)) {
      throw new TpmError(
        'ERR_TPM_BAD_VALUE',
        `response HMAC of session 0x${this.handle.toString(16)} does not verify: the response was altered or the authValue is wrong`,
        {
          session: this.handle,
        },
      );
    }
  }
}
