/**
 * The TPM client: one `run(command, args)` that every higher-level operation goes through, and
 * the helpers Vouch needs (EK/SRK/AK, quotes, PCRs, NV, credential activation, sealing).
 *
 * Without a resource manager (swtpm, /dev/tpm0) transient objects and sessions stay loaded until
 * flushed and the TPM soon answers TPM_RC_OBJECT_MEMORY; every helper that loads something hands
 * back a `Loaded` object to flush (`await using x = ...`, or `x.flush()` in a finally).
 */
import { randomBytes } from 'node:crypto';
import { concatBytes } from '../bytes/index.ts';
import { DerError, DerTag, parseDerPrefix } from '../der/index.ts';
import * as C from './commands.ts';
import type { AnyCommand, CommandArgs, CommandResponse, HandleRef } from './commands.ts';
import { EK_CERT_NV_INDEX, HASH_SIZE, TPM_ALG, TPM_CAP, TPM_HT, TPM_LIMITS, TPM_NT, TPM_PT, TPM_RH, TPM_SE, TPM_SU, algName } from './constants.ts';
import { TpmError } from './errors.ts';
import { createSalt, sessionKey } from './crypto/session-crypto.ts';
import {
  commandHandles,
  decodeResponseFrame,
  decodeResponseParams,
  encodeCommandFrame,
  encodeCommandParams,
  firstTpm2bSpan,
  startsWithTpm2b,
  type DecodedResponseFrame,
} from './frame.ts';
import { handleName, nvName, objectName } from './names.ts';
import { ekPolicyRecipe } from './policy.ts';
import { TPM_RC, TpmRcError, isRc } from './rc.ts';
import { encode, type Infer, type Sized } from './schema/index.ts';
import { AuthSession, passwordSession, type Session, type SessionKind } from './session.ts';
import * as S from './structures.ts';
import { akTemplate, ekTemplate, srkTemplate, type KeyAlg, type SignScheme } from './templates.ts';
import { openTransport } from './transport/open.ts';
import type { TpmTransport } from './transport/types.ts';
import { pcrValuesOf, pcrsOf, toPcrSelection, type PcrSelection } from './pcr-selection.ts';
import type { PcrValues } from '../hash/index.ts';

// The client's callers build selections too: re-exported so one import serves both.
export { pcrsOf, toPcrSelection, type PcrSelection };

export interface RunOptions {
  /** One session per handle that needs authorization (in handle order); password sessions with an empty auth by default. */
  readonly sessions?: readonly Session[];
}

/** A loaded object: flush it when done (transient handles only; persistent ones are left alone). */
export interface Loaded extends AsyncDisposable {
  readonly handle: number;
  readonly public: Sized<S.TPMT_PUBLIC>;
  readonly name: Uint8Array;
  /** A handle reference carrying the Name, for HMAC-session cpHash. */
  readonly ref: HandleRef;
  flush(): Promise<void>;
}

export interface Quote {
  /** TPMS_ATTEST exactly as the TPM signed it. */
  readonly quoted: Sized<S.TPMS_ATTEST>;
  readonly signature: S.TPMT_SIGNATURE;
  /** TPMT_SIGNATURE exactly as received (what `tpm2_quote -s` writes). */
  readonly signatureBytes: Uint8Array;
}

/** Where the next GetCapability page starts: one past the last item's key (Part 3, 30.2). */
function nextProperty(capability: number, last: unknown): number {
  const item = last as Record<string, number>;
  switch (capability) {
    case TPM_CAP.ALGS:
      return item.alg! + 1;
    case TPM_CAP.COMMANDS:
      return item.commandIndex! + 1;
    case TPM_CAP.TPM_PROPERTIES:
      return item.property! + 1;
    case TPM_CAP.PCR_PROPERTIES:
      return item.tag! + 1;
    case TPM_CAP.AUTH_POLICIES:
      return item.handle! + 1;
    case TPM_CAP.PCRS:
      return (last as { hash: number }).hash + 1;
    default:
      // HANDLES, PP/AUDIT_COMMANDS, ECC_CURVES: lists of plain numbers.
      return (last as number) + 1;
  }
}

const RETRYABLE = new Set([TPM_RC.RETRY, TPM_RC.YIELDED, TPM_RC.TESTING]);
const MAX_RETRIES = 100;

export class Tpm implements AsyncDisposable {
  readonly transport: TpmTransport;
  private nvBufferMax: number | undefined;

  constructor(transport: TpmTransport) {
    this.transport = transport;
  }

  /** Opens `device:/dev/tpmrm0`, `swtpm:host=H,port=N`, `mssim:...` or `sim:[path]`. */
  static async open(uri: string): Promise<Tpm> {
    return new Tpm(await openTransport(uri));
  }

  close(): Promise<void> {
    return this.transport.close();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Sends one command; returns the decoded response and the raw response parameter area. */
  async execute<Cmd extends AnyCommand>(
    cmd: Cmd,
    args: CommandArgs<Cmd>,
    options: RunOptions = {},
  ): Promise<{ response: CommandResponse<Cmd>; paramBytes: Uint8Array }> {
    const sessions = options.sessions ?? Array.from({ length: cmd.authCount }, () => passwordSession());
    if (sessions.length < cmd.authCount) {
      throw new TpmError('ERR_TPM_ENCODE', `${cmd.name} needs ${cmd.authCount} authorization session(s), got ${sessions.length}`, { command: cmd.name });
    }
    const handles = commandHandles(cmd, args);
    const plainParams = encodeCommandParams(cmd, args);
    const names = sessions.some((s) => s.needsNames) ? await this.namesOf(cmd, args) : [];
    const authorizedNames = names.length ? cmd.handles.flatMap((h, i) => (h.auth ? [names[i]!] : [])) : [];
    const commandEncryptor = sessions.find((s) => s.encryptsCommand);
    const responseDecryptor = sessions.find((s) => s.encryptsResponse);
    const commandSpan = commandEncryptor ? firstTpm2bSpan(cmd.params, plainParams) : undefined;
    if ((commandEncryptor && !commandSpan) || (responseDecryptor && !startsWithTpm2b(cmd.response))) {
      throw new TpmError('ERR_TPM_UNSUPPORTED', `${cmd.name}: parameter encryption needs a TPM2B first parameter`, { command: cmd.name });
    }
    for (let attempt = 1; ; attempt++) {
      sessions.forEach((s, i) => s.prepare?.(authorizedNames[i]));
      // cpHash covers the parameters as sent, i.e. encrypted.
      let paramBytes = plainParams;
      if (commandEncryptor && commandSpan) {
        paramBytes = plainParams.slice();
        paramBytes.set(commandEncryptor.encryptCommandParameter!(plainParams.subarray(commandSpan.start, commandSpan.end)), commandSpan.start);
      }
      const auths = sessions.map((s) => s.commandAuth({ commandCode: cmd.code, names, paramBytes }));
      const reply = await this.transport.send(encodeCommandFrame(cmd.code, handles, auths, paramBytes));
      let frame: DecodedResponseFrame;
      try {
        frame = decodeResponseFrame(cmd, reply, sessions.length);
      } catch (e) {
        // TPM_RC_RETRY / YIELDED / TESTING are "ask again" warnings: the command did not run
        // (swtpm answers RETRY while it finishes a self-test or a long computation).
        if (attempt < MAX_RETRIES && e instanceof TpmRcError && RETRYABLE.has(e.rc.base)) continue;
        throw e;
      }
      sessions.forEach((s, i) => s.responseAuth({ commandCode: cmd.code, paramBytes: frame.paramBytes }, frame.sessions[i]!));
      const responseSpan = responseDecryptor ? firstTpm2bSpan(cmd.response, frame.paramBytes) : undefined;
      if (responseDecryptor && responseSpan) {
        const clear = frame.paramBytes.slice();
        clear.set(responseDecryptor.decryptResponseParameter!(frame.paramBytes.subarray(responseSpan.start, responseSpan.end)), responseSpan.start);
        frame = { ...frame, paramBytes: clear };
      }
      return { response: decodeResponseParams(cmd, frame), paramBytes: frame.paramBytes };
    }
  }

  /** Sends one command and returns its decoded response (handles and parameters by name). */
  async run<Cmd extends AnyCommand>(cmd: Cmd, args: CommandArgs<Cmd>, options: RunOptions = {}): Promise<CommandResponse<Cmd>> {
    return (await this.execute(cmd, args, options)).response;
  }

  /** Names for cpHash: given with the handle, intrinsic (PCR, permanent, session), or read from the TPM. */
  private async namesOf(cmd: AnyCommand, args: object): Promise<Uint8Array[]> {
    const rec = args as Record<string, HandleRef>;
    const out: Uint8Array[] = [];
    for (const h of cmd.handles) {
      const ref = rec[h.name]!;
      if (typeof ref !== 'number') {
        out.push(ref.name);
        continue;
      }
      const intrinsic = handleName(ref);
      if (intrinsic) out.push(intrinsic);
      else if (ref >>> 24 === TPM_HT.NV_INDEX) out.push((await this.nvReadPublic(ref)).name);
      else out.push((await this.run(C.ReadPublic, { objectHandle: ref })).name);
    }
    return out;
  }

  // ---- start-up and capabilities -------------------------------------------------------------

  /** TPM2_Startup(CLEAR); a TPM that is already started (TPM_RC_INITIALIZE) is fine. */
  async startup(): Promise<void> {
    try {
      await this.run(C.Startup, { startupType: TPM_SU.CLEAR });
    } catch (e) {
      if (!isRc(e, TPM_RC.INITIALIZE!)) throw e;
    }
  }

  async shutdown(type: 'clear' | 'state' = 'clear'): Promise<void> {
    await this.run(C.Shutdown, { shutdownType: type === 'clear' ? TPM_SU.CLEAR : TPM_SU.STATE });
  }

  async getRandom(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < n) {
      const { randomBytes: chunk } = await this.run(C.GetRandom, { bytesRequested: Math.min(n - got, 32) });
      if (chunk.length === 0) throw new TpmError('ERR_TPM_TRANSPORT', 'TPM2_GetRandom returned no bytes', {});
      parts.push(chunk);
      got += chunk.length;
    }
    return concatBytes(...parts).subarray(0, n);
  }

  /** All pages of one capability (GetCapability repeats while moreData is set). */
  async getCapability(capability: number, first: number, count = 0x10000): Promise<S.TPMS_CAPABILITY_DATA['data'][]> {
    const pages: S.TPMS_CAPABILITY_DATA['data'][] = [];
    let property = first;
    for (let guard = 0; guard < 64; guard++) {
      const { moreData, capabilityData } = await this.run(C.GetCapability, { capability: capability as never, property, propertyCount: count });
      if (capabilityData.capability !== capability) {
        throw new TpmError('ERR_TPM_BAD_TAG', `GetCapability answered capability ${capabilityData.capability} for ${capability}`, {});
      }
      pages.push(capabilityData.data);
      const items = capabilityData.data as unknown[];
      if (!moreData || items.length === 0) break;
      property = nextProperty(capability, items[items.length - 1]);
    }
    return pages;
  }

  /** Algorithms the TPM implements. */
  async algorithms(): Promise<Infer<typeof S.TPMS_ALG_PROPERTY>[]> {
    return (await this.getCapability(TPM_CAP.ALGS, 0)).flat() as Infer<typeof S.TPMS_ALG_PROPERTY>[];
  }

  /** Allocated PCR banks (those with at least one PCR selected). */
  async pcrBanks(): Promise<S.TpmHashAlg[]> {
    const banks = (await this.getCapability(TPM_CAP.PCRS, 0)).flat() as S.TPMS_PCR_SELECTION[];
    return banks.filter((b) => b.pcrSelect.some((x) => x !== 0)).map((b) => b.hash);
  }

  /** Handles in a range: TPM_HT.PERSISTENT → 0x81000000, NV → 0x01000000, TRANSIENT → 0x80000000. */
  async handles(type: number): Promise<number[]> {
    const first = (type << 24) >>> 0;
    const all = (await this.getCapability(TPM_CAP.HANDLES, first)).flat() as number[];
    return all.filter((h) => h >>> 24 === type);
  }

  /** TPM properties (TPM_PT_*) from `first`, as a map. */
  async properties(first: number = TPM_PT.FAMILY_INDICATOR, count = 0x100): Promise<Map<number, number>> {
    const m = new Map<number, number>();
    for (const page of await this.getCapability(TPM_CAP.TPM_PROPERTIES, first, count)) {
      for (const p of page as Infer<typeof S.TPMS_TAGGED_PROPERTY>[]) m.set(p.property, p.value);
    }
    return m;
  }

  /** Manufacturer (4 ASCII characters of TPM_PT_MANUFACTURER), firmware version and spec revision. */
  async info(): Promise<{ manufacturer: string; vendor: string; firmwareVersion: string; specRevision: number; specYear: number }> {
    const p = await this.properties(TPM_PT.FAMILY_INDICATOR, 0x30);
    const ascii = (v: number | undefined): string =>
      v === undefined
        ? ''
        : String.fromCharCode(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff)
            .replace(/\0/g, '')
            .trim();
    const fw1 = p.get(TPM_PT.FIRMWARE_VERSION_1) ?? 0;
    const fw2 = p.get(TPM_PT.FIRMWARE_VERSION_2) ?? 0;
    return {
      manufacturer: ascii(p.get(TPM_PT.MANUFACTURER)),
      vendor: [TPM_PT.VENDOR_STRING_1, TPM_PT.VENDOR_STRING_2, TPM_PT.VENDOR_STRING_3, TPM_PT.VENDOR_STRING_4].map((k) => ascii(p.get(k))).join(''),
      firmwareVersion: `${fw1 >>> 16}.${fw1 & 0xffff}.${fw2 >>> 16}.${fw2 & 0xffff}`,
      specRevision: (p.get(TPM_PT.REVISION) ?? 0) / 100,
      specYear: p.get(TPM_PT.YEAR) ?? 0,
    };
  }

  // ---- PCRs --------------------------------------------------------------------------------------

  /**
   * Reads PCRs. A TPM returns at most 8 digests per TPM2_PCR_Read and says which in
   * pcrSelectionOut, so this repeats with the remainder; a PCR the TPM never returns (bank not
   * allocated) is ERR_TPM_NOT_FOUND rather than a silently missing value.
   */
  async pcrRead(selection: readonly PcrSelection[]): Promise<PcrValues> {
    const result = new Map<number, Map<number, Uint8Array>>(selection.map((s) => [s.hash, new Map()]));
    let pending = selection.map((s) => ({ hash: s.hash, pcrs: [...new Set(s.pcrs)].sort((a, b) => a - b) })).filter((s) => s.pcrs.length);
    while (pending.length) {
      const { pcrSelectionOut, pcrValues } = await this.run(C.PCR_Read, { pcrSelectionIn: toPcrSelection(pending) });
      // Only PCRs we asked for and have not got yet, each with a digest of its bank's size: a
      // TPM (or whoever sits on the bus) cannot slip in values nobody requested.
      let i = 0;
      let progress = 0;
      for (const out of pcrSelectionOut) {
        const wanted = pending.find((p) => p.hash === out.hash);
        for (const pcr of pcrsOf(out.pcrSelect)) {
          const v = pcrValues[i++];
          if (!v || !wanted?.pcrs.includes(pcr) || result.get(out.hash)!.has(pcr) || v.length !== HASH_SIZE[out.hash]) {
            throw new TpmError('ERR_TPM_BAD_VALUE', `PCR_Read answered ${algName(out.hash)} PCR ${pcr} unasked, twice, or with a wrong-sized digest`, { pcr });
          }
          result.get(out.hash)!.set(pcr, v);
          progress++;
        }
      }
      if (i !== pcrValues.length) throw new TpmError('ERR_TPM_BAD_SIZE', `PCR_Read returned ${pcrValues.length} digests for a selection of ${i}`, {});
      if (progress === 0) {
        throw new TpmError(
          'ERR_TPM_NOT_FOUND',
          `PCRs not available: ${pending.map((p) => `${algName(p.hash)}:${p.pcrs.join(',')}`).join(' ')} (bank not allocated?)`,
          {},
        );
      }
      pending = pending.map((p) => ({ hash: p.hash, pcrs: p.pcrs.filter((x) => !result.get(p.hash)!.has(x)) })).filter((p) => p.pcrs.length);
    }
    return pcrValuesOf(result);
  }

  /** Extends one PCR in the given banks (one digest per bank). */
  async pcrExtend(pcr: number, digests: readonly S.TPMT_HA[]): Promise<void> {
    await this.run(C.PCR_Extend, { pcrHandle: pcr, digests: [...digests] });
  }

  // ---- objects -----------------------------------------------------------------------------------

  private loaded(handle: number, pub: Sized<S.TPMT_PUBLIC>, name: Uint8Array): Loaded {
    let flushed = false;
    const flush = async (): Promise<void> => {
      if (flushed || handle >>> 24 !== TPM_HT.TRANSIENT) return;
      flushed = true;
      await this.flush(handle);
    };
    return { handle, public: pub, name, ref: { handle, name }, flush, [Symbol.asyncDispose]: flush };
  }

  async flush(handle: number): Promise<void> {
    await this.run(C.FlushContext, { flushHandle: handle });
  }

  /** TPM2_CreatePrimary under a hierarchy (TPM_RH.ENDORSEMENT / OWNER / NULL). */
  async createPrimary(hierarchy: number, template: S.TPMT_PUBLIC, options: { hierarchyAuth?: Uint8Array; userAuth?: Uint8Array } = {}): Promise<Loaded> {
    const r = await this.run(
      C.CreatePrimary,
      {
        primaryHandle: hierarchy,
        inSensitive: S.TPM2B_SENSITIVE_CREATE.wrap({ userAuth: options.userAuth ?? new Uint8Array(0), data: new Uint8Array(0) }),
        inPublic: S.TPM2B_PUBLIC.wrap(template),
        outsideInfo: new Uint8Array(0),
        creationPCR: [],
      },
      { sessions: [passwordSession(options.hierarchyAuth)] },
    );
    return this.loaded(r.objectHandle, r.outPublic, r.name);
  }

  /** The EK from the profile's template L-1 (RSA-2048) or L-2 (ECC P-256): same seed, same key. */
  createEK(alg: KeyAlg = 'rsa'): Promise<Loaded> {
    return this.createPrimary(TPM_RH.ENDORSEMENT, ekTemplate(alg));
  }

  /** The storage root key (owner hierarchy). */
  createSRK(alg: KeyAlg = 'rsa'): Promise<Loaded> {
    return this.createPrimary(TPM_RH.OWNER, srkTemplate(alg));
  }

  /** TPM2_Create: a child of `parent` (not loaded). */
  async create(
    parent: HandleRef,
    template: S.TPMT_PUBLIC,
    sensitive: { userAuth?: Uint8Array; data?: Uint8Array } = {},
    sessions?: readonly Session[],
  ): Promise<{ private: Uint8Array; public: Sized<S.TPMT_PUBLIC> }> {
    const r = await this.run(
      C.Create,
      {
        parentHandle: parent,
        inSensitive: S.TPM2B_SENSITIVE_CREATE.wrap({ userAuth: sensitive.userAuth ?? new Uint8Array(0), data: sensitive.data ?? new Uint8Array(0) }),
        inPublic: S.TPM2B_PUBLIC.wrap(template),
        outsideInfo: new Uint8Array(0),
        creationPCR: [],
      },
      sessions ? { sessions } : {},
    );
    return { private: r.outPrivate, public: r.outPublic };
  }

  async load(parent: HandleRef, priv: Uint8Array, pub: Sized<S.TPMT_PUBLIC>, sessions?: readonly Session[]): Promise<Loaded> {
    const r = await this.run(C.Load, { parentHandle: parent, inPrivate: priv, inPublic: pub }, sessions ? { sessions } : {});
    return this.loaded(r.objectHandle, pub, r.name);
  }

  /** Loads a public key only (e.g. to VerifySignature or to MakeCredential on the TPM). */
  async loadExternal(pub: Sized<S.TPMT_PUBLIC> | S.TPMT_PUBLIC, hierarchy: number = TPM_RH.NULL): Promise<Loaded> {
    const sized = 'bytes' in pub ? pub : S.TPM2B_PUBLIC.wrap(pub);
    const r = await this.run(C.LoadExternal, { inPrivate: null, inPublic: sized, hierarchy });
    return this.loaded(r.objectHandle, sized, r.name);
  }

  /** The public area and Name of a loaded or persistent object. */
  async readPublic(handle: number): Promise<Loaded> {
    const r = await this.run(C.ReadPublic, { objectHandle: handle });
    const computed = objectName(r.outPublic);
    if (Buffer.compare(computed, r.name) !== 0) {
      throw new TpmError('ERR_TPM_BAD_VALUE', `ReadPublic of 0x${handle.toString(16)}: the returned Name does not match the public area`, { handle });
    }
    return this.loaded(handle, r.outPublic, r.name);
  }

  /** Makes a transient object persistent at `persistentHandle` (or evicts a persistent one when given it twice). */
  async evictControl(object: number, persistentHandle: number, auth: number = TPM_RH.OWNER): Promise<void> {
    await this.run(C.EvictControl, { auth, objectHandle: object, persistentHandle });
  }

  /**
   * An attestation key: restricted signing key created under `parent` (the SRK, or the EK) and
   * loaded. Returns the blobs needed to load it again with `loadChild(parent, private, public)`.
   */
  async createAK(parent: Loaded, alg: KeyAlg = 'rsa', scheme?: SignScheme): Promise<{ key: Loaded; private: Uint8Array; public: Sized<S.TPMT_PUBLIC> }> {
    const blobs = await this.withParentAuth(parent, (sessions) => this.create(parent.ref, akTemplate(alg, scheme), {}, sessions));
    const key = await this.loadChild(parent, blobs.private, blobs.public);
    return { key, ...blobs };
  }

  /** TPM2_Load under `parent`, authorizing an EK parent through its EK policy. */
  loadChild(parent: Loaded, priv: Uint8Array, pub: Sized<S.TPMT_PUBLIC>): Promise<Loaded> {
    return this.withParentAuth(parent, (sessions) => this.load(parent.ref, priv, pub, sessions));
  }

  /**
   * Runs `use` with the sessions that authorize `parent` in the USER role: a password session
   * normally; for an EK (userWithAuth clear, EK Credential Profile policy) a policy session that
   * satisfies the EK policy and ends with the command.
   */
  private async withParentAuth<T>(parent: Loaded, use: (sessions: readonly Session[]) => Promise<T>): Promise<T> {
    const pub = parent.public.value;
    if (pub.objectAttributes.userWithAuth || pub.nameAlg === TPM_ALG.NULL) return use([passwordSession()]);
    const session = await this.startSession('policy', pub.nameAlg);
    try {
      await this.satisfyEkPolicy(session, parent);
      session.continueSession = false;
      return await use([session]);
    } catch (e) {
      await this.flush(session.handle).catch(() => undefined);
      throw e;
    }
  }

  /** TPM2_Quote with the key's own scheme (inScheme NULL). `nonce` becomes TPMS_ATTEST.extraData. */
  async quote(ak: HandleRef, nonce: Uint8Array, selection: readonly PcrSelection[], sessions?: readonly Session[]): Promise<Quote> {
    const { response, paramBytes } = await this.execute(
      C.Quote,
      { signHandle: ak, qualifyingData: nonce, inScheme: { scheme: TPM_ALG.NULL, details: null }, PCRselect: toPcrSelection(selection) },
      sessions ? { sessions } : {},
    );
    return { quoted: response.quoted, signature: response.signature, signatureBytes: paramBytes.slice(2 + response.quoted.bytes.length) };
  }

  // ---- sessions and policy ---------------------------------------------------------------------------

  /**
   * TPM2_StartAuthSession. Without options the session is unsalted and unbound (tpmKey = bind =
   * TPM_RH_NULL): its HMACs are keyed by the authValue alone. `saltKey` (a loaded decryption key,
   * e.g. the SRK or EK) gets a fresh salt encrypted to it; `bind` mixes an entity's authValue
   * into the session key. Either gives a session key an eavesdropper cannot derive.
   * `symmetric` (SESSION_AES_128_CFB or SESSION_XOR) enables parameter encryption: set the session's
   * encryptsCommand / encryptsResponse to have the first TPM2B parameter travel encrypted.
   */
  async startSession(
    kind: SessionKind,
    authHash: S.TpmHashAlg = TPM_ALG.SHA256,
    options: { saltKey?: Loaded; bind?: { handle: number; name: Uint8Array; authValue: Uint8Array }; symmetric?: S.TPMT_SYM_DEF } = {},
  ): Promise<AuthSession> {
    const symmetric = options.symmetric ?? { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
    const nonceCaller = new Uint8Array(randomBytes(HASH_SIZE[authHash]!));
    const salt = options.saltKey ? createSalt(options.saltKey.public.value) : undefined;
    const r = await this.run(C.StartAuthSession, {
      tpmKey: options.saltKey?.handle ?? TPM_RH.NULL,
      bind: options.bind?.handle ?? TPM_RH.NULL,
      nonceCaller,
      encryptedSalt: salt?.encryptedSecret ?? new Uint8Array(0),
      sessionType: kind === 'hmac' ? TPM_SE.HMAC : kind === 'policy' ? TPM_SE.POLICY : TPM_SE.TRIAL,
      symmetric,
      authHash,
    });
    const key = sessionKey(authHash, options.bind?.authValue ?? new Uint8Array(0), salt?.seed ?? new Uint8Array(0), r.nonceTPM, nonceCaller);
    return new AuthSession({
      handle: r.sessionHandle,
      kind,
      authHash,
      nonceCaller,
      nonceTPM: r.nonceTPM,
      sessionKey: key,
      symmetric,
      ...(options.bind ? { boundName: options.bind.name } : {}),
    });
  }

  /** Runs `fn` with a session that is flushed afterwards (unless the TPM already closed it). */
  async withSession<T>(kind: SessionKind, authHash: S.TpmHashAlg, fn: (s: AuthSession) => Promise<T>): Promise<T> {
    const s = await this.startSession(kind, authHash);
    try {
      return await fn(s);
    } finally {
      await this.flush(s.handle).catch(() => undefined);
    }
  }

  async policyPCR(session: AuthSession, selection: readonly PcrSelection[], pcrDigest: Uint8Array = new Uint8Array(0)): Promise<void> {
    await this.run(C.PolicyPCR, { policySession: session.handle, pcrDigest, pcrs: toPcrSelection(selection) });
  }

  /** PolicySecret(authHandle) authorized with the entity's password (e.g. the endorsement hierarchy). */
  async policySecret(session: AuthSession, authHandle: number, auth: Uint8Array = new Uint8Array(0)): Promise<void> {
    await this.run(
      C.PolicySecret,
      { authHandle, policySession: session.handle, nonceTPM: session.nonceTpm, cpHashA: new Uint8Array(0), policyRef: new Uint8Array(0), expiration: 0 },
      { sessions: [passwordSession(auth)] },
    );
  }

  async policyOR(session: AuthSession, branches: readonly Uint8Array[]): Promise<void> {
    await this.run(C.PolicyOR, { policySession: session.handle, pHashList: [...branches] });
  }

  /** TPM2_PolicyAuthValue: the command's HMAC must then also be keyed by the object's authValue (set `session.authValue`). */
  async policyAuthValue(session: AuthSession): Promise<void> {
    await this.run(C.PolicyAuthValue, { policySession: session.handle });
    session.policyAuthValue = true;
  }

  /**
   * TPM2_PolicyNV: the policy holds only while `operation` (TPM_EO) compares the index's bytes at
   * `offset` with `operandB` as required. The read is authorized by the index's own auth (or, with
   * `authHandle`, the owner's), by password.
   */
  async policyNV(
    session: AuthSession,
    nvIndex: number,
    operandB: Uint8Array,
    operation: number,
    options: { offset?: number; authHandle?: number; auth?: Uint8Array } = {},
  ): Promise<void> {
    await this.run(
      C.PolicyNV,
      { authHandle: options.authHandle ?? nvIndex, nvIndex, policySession: session.handle, operandB, offset: options.offset ?? 0, operation },
      { sessions: [passwordSession(options.auth)] },
    );
  }

  /**
   * TPM2_VerifySignature: checks `signature` over `digest` with a loaded key and returns the
   * TPMT_TK_VERIFIED ticket that PolicyAuthorize takes as proof. A key loaded in TPM_RH_NULL
   * (LoadExternal's default) yields a NULL ticket, which proves nothing: load it in the owner hierarchy.
   */
  async verifySignature(key: HandleRef, digest: Uint8Array, signature: S.TPMT_SIGNATURE): Promise<Infer<typeof S.TPMT_TK_VERIFIED>> {
    return (await this.run(C.VerifySignature, { keyHandle: key, digest, signature })).validation;
  }

  /**
   * TPM2_PolicyAuthorize: replaces the session's digest (which must be `approvedPolicy`) by
   * PolicyAuthorize(keySign, policyRef), given the ticket that keySign signed H(approvedPolicy ‖ policyRef).
   */
  async policyAuthorize(
    session: AuthSession,
    approvedPolicy: Uint8Array,
    keySign: Uint8Array,
    checkTicket: Infer<typeof S.TPMT_TK_VERIFIED>,
    policyRef: Uint8Array = new Uint8Array(0),
  ): Promise<void> {
    await this.run(C.PolicyAuthorize, { policySession: session.handle, approvedPolicy, policyRef, keySign, checkTicket });
  }

  async policyGetDigest(session: AuthSession): Promise<Uint8Array> {
    return (await this.run(C.PolicyGetDigest, { policySession: session.handle })).policyDigest;
  }

  /**
   * Satisfies an EK's policy in `session`: PolicySecret(TPM_RH_ENDORSEMENT), then, for the
   * high-range templates (swtpm's P-384 EK), PolicyOR over the profile's branches. The session's
   * hash must be the EK's nameAlg (SHA-384 for that EK).
   */
  async satisfyEkPolicy(session: AuthSession, ek: Loaded, endorsementAuth?: Uint8Array): Promise<void> {
    const recipe = ekPolicyRecipe(ek.public.value.nameAlg, ek.public.value.authPolicy);
    if (!recipe) throw new TpmError('ERR_TPM_UNSUPPORTED', 'the EK has an authPolicy that is not one of the EK Credential Profile policies', {});
    await this.policySecret(session, TPM_RH.ENDORSEMENT, endorsementAuth);
    if (recipe.orBranches) await this.policyOR(session, recipe.orBranches);
  }

  /**
   * TPM2_ActivateCredential: recovers the secret a verifier bound to (EK, Name(AK)) with
   * MakeCredential. The AK is authorized by password (ADMIN role, empty auth), the EK by a policy
   * session in the EK's nameAlg satisfying its EK policy.
   */
  async activateCredential(ak: Loaded, ek: Loaded, credentialBlob: Uint8Array, secret: Uint8Array, endorsementAuth?: Uint8Array): Promise<Uint8Array> {
    const nameAlg = ek.public.value.nameAlg;
    if (nameAlg === TPM_ALG.NULL) throw new TpmError('ERR_TPM_UNSUPPORTED', 'EK has nameAlg NULL', {});
    return this.withSession('policy', nameAlg, async (session) => {
      await this.satisfyEkPolicy(session, ek, endorsementAuth);
      session.continueSession = false;
      const r = await this.run(
        C.ActivateCredential,
        { activateHandle: ak.ref, keyHandle: ek.ref, credentialBlob, secret },
        { sessions: [passwordSession(), session] },
      );
      return r.certInfo;
    });
  }

  /** TPM2_Unseal with the given session (a policy session for PCR-sealed data, or a password session). */
  async unseal(item: HandleRef, session: Session = passwordSession()): Promise<Uint8Array> {
    return (await this.run(C.Unseal, { itemHandle: item }, { sessions: [session] })).outData;
  }

  // ---- NV ------------------------------------------------------------------------------------------------

  async nvReadPublic(index: number): Promise<{ public: Sized<S.TPMS_NV_PUBLIC>; name: Uint8Array }> {
    const r = await this.run(C.NV_ReadPublic, { nvIndex: index });
    if (r.nvPublic.value.nvIndex !== index)
      throw new TpmError('ERR_TPM_BAD_VALUE', `NV_ReadPublic(0x${index.toString(16)}) describes index 0x${r.nvPublic.value.nvIndex.toString(16)}`, {});
    if (Buffer.compare(nvName(r.nvPublic), r.nvName) !== 0)
      throw new TpmError('ERR_TPM_BAD_VALUE', `NV_ReadPublic(0x${index.toString(16)}): Name does not match the public area`, {});
    return { public: r.nvPublic, name: r.nvName };
  }

  /** Defines an ordinary NV index authorized by its own auth value (authRead/authWrite) and the owner. */
  async nvDefine(
    index: number,
    size: number,
    options: { auth?: Uint8Array; attributes?: Partial<Infer<typeof S.TPMA_NV>>; authPolicy?: Uint8Array } = {},
  ): Promise<void> {
    const attributes = S.TPMA_NV.make({ authRead: true, authWrite: true, ownerRead: true, ownerWrite: true, noDA: true, ...options.attributes });
    await this.run(C.NV_DefineSpace, {
      authHandle: TPM_RH.OWNER,
      auth: options.auth ?? new Uint8Array(0),
      publicInfo: S.TPM2B_NV_PUBLIC.wrap({
        nvIndex: index,
        nameAlg: TPM_ALG.SHA256,
        attributes,
        authPolicy: options.authPolicy ?? new Uint8Array(0),
        dataSize: size,
      }),
    });
  }

  /**
   * Defines a TPM_NT_COUNTER index (8 bytes, only ever incremented; unreadable until the first
   * increment). Written by its own auth (authWrite) or the owner; read by anyone who may read it.
   */
  async nvDefineCounter(
    index: number,
    options: { auth?: Uint8Array; attributes?: Partial<Infer<typeof S.TPMA_NV>>; authPolicy?: Uint8Array } = {},
  ): Promise<void> {
    await this.nvDefine(index, 8, { ...options, attributes: { nt: TPM_NT.COUNTER, ...options.attributes } });
  }

  /** TPM2_NV_Increment of a counter index, authorized by the index's auth (or `authHandle`'s) by password. */
  async nvIncrement(index: number, options: { auth?: Uint8Array; authHandle?: number } = {}): Promise<void> {
    await this.run(C.NV_Increment, { authHandle: options.authHandle ?? index, nvIndex: index }, { sessions: [passwordSession(options.auth)] });
  }

  /** The value of a counter index (big-endian UINT64). */
  async nvReadCounter(index: number, options: { auth?: Uint8Array; authHandle?: number } = {}): Promise<bigint> {
    const bytes = await this.nvRead(index, { ...options, size: 8 });
    return new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0);
  }

  async nvUndefine(index: number): Promise<void> {
    await this.run(C.NV_UndefineSpace, { authHandle: TPM_RH.OWNER, nvIndex: index });
  }

  private async nvChunk(): Promise<number> {
    if (this.nvBufferMax === undefined) {
      const p = await this.properties(TPM_PT.NV_BUFFER_MAX, 1);
      const reported = p.get(TPM_PT.NV_BUFFER_MAX) ?? 512;
      // Zero would make every chunked NV read and write loop for ever.
      if (reported < 1)
        throw new TpmError('ERR_TPM_BAD_VALUE', `the TPM reports TPM_PT_NV_BUFFER_MAX = ${reported}: NV cannot be read or written in chunks`, {
          nvBufferMax: reported,
        });
      this.nvBufferMax = Math.min(reported, TPM_LIMITS.MAX_NV_BUFFER);
    }
    return this.nvBufferMax;
  }

  /** Writes `data` at `offset`, in chunks of at most TPM_PT_NV_BUFFER_MAX. */
  async nvWrite(index: number, data: Uint8Array, options: { offset?: number; auth?: Uint8Array; authHandle?: number } = {}): Promise<void> {
    const chunk = await this.nvChunk();
    const base = options.offset ?? 0;
    for (let off = 0; off < data.length; off += chunk) {
      await this.run(
        C.NV_Write,
        { authHandle: options.authHandle ?? index, nvIndex: index, data: data.subarray(off, off + chunk), offset: base + off },
        { sessions: [passwordSession(options.auth)] },
      );
    }
  }

  /** Reads the whole index (or `size` bytes from `offset`), chunked by TPM_PT_NV_BUFFER_MAX. */
  async nvRead(index: number, options: { offset?: number; size?: number; auth?: Uint8Array; authHandle?: number } = {}): Promise<Uint8Array> {
    const pub = (await this.nvReadPublic(index)).public.value;
    // Read authorization: the index's own auth when it allows that, else the owner's.
    const authHandle = options.authHandle ?? (pub.attributes.authRead ? index : TPM_RH.OWNER);
    const offset = options.offset ?? 0;
    const size = options.size ?? pub.dataSize - offset;
    if (offset + size > pub.dataSize)
      throw new TpmError('ERR_TPM_BAD_SIZE', `NV 0x${index.toString(16)} holds ${pub.dataSize} bytes; cannot read ${size} at ${offset}`, {});
    const chunk = await this.nvChunk();
    const parts: Uint8Array[] = [];
    for (let off = 0; off < size; off += chunk) {
      const n = Math.min(chunk, size - off);
      const { data } = await this.run(C.NV_Read, { authHandle, nvIndex: index, size: n, offset: offset + off }, { sessions: [passwordSession(options.auth)] });
      if (data.length !== n) throw new TpmError('ERR_TPM_BAD_SIZE', `NV_Read returned ${data.length} bytes, asked ${n}`, {});
      parts.push(data);
    }
    return concatBytes(...parts);
  }

  /**
   * The EK certificate (DER) from its profile NV index: RSA-2048 0x01c00002, ECC P-256 0x01c0000a,
   * ECC P-384 0x01c00016. Some TPMs pad the index after the DER; the certificate's own length wins.
   */
  async readEkCertificate(kind: keyof typeof EK_CERT_NV_INDEX = 'RSA2048'): Promise<Uint8Array> {
    const index = EK_CERT_NV_INDEX[kind];
    let raw: Uint8Array;
    try {
      raw = await this.nvRead(index);
    } catch (e) {
      if (isRc(e, TPM_RC.HANDLE!))
        throw new TpmError('ERR_TPM_NOT_FOUND', `no EK certificate at NV 0x${index.toString(16)} (${kind})`, { index }, { cause: e });
      throw e;
    }
    return trimDer(raw, index);
  }
}

/** The DER certificate at the start of an NV index (its own length says where it ends); anything else is refused. */
function trimDer(raw: Uint8Array, index: number): Uint8Array {
  try {
    return raw.slice(0, parseDerPrefix(raw, `NV 0x${index.toString(16)}`, DerTag.sequence).raw.length);
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    throw new TpmError('ERR_TPM_BAD_VALUE', `NV 0x${index.toString(16)} does not hold a DER certificate: ${e.message}`, { index }, { cause: e });
  }
}

/** The TPMT_HA list for PCR_Extend: the same event digested in each bank. */
export function eventDigests(banks: readonly S.TpmHashAlg[], digestOf: (hash: S.TpmHashAlg) => Uint8Array): S.TPMT_HA[] {
  return banks.map((hashAlg) => ({ hashAlg, digest: digestOf(hashAlg) }));
}

/** TPMT_SIGNATURE bytes for a signature value (tests, files). */
export function signatureBytes(sig: S.TPMT_SIGNATURE): Uint8Array {
  return encode(S.TPMT_SIGNATURE, sig);
}
