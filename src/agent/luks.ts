// The LUKS2 volume a released disk key opens, through the real cryptsetup: the key goes to it on
// stdin (--key-file=-), never to a file or an argument. First boot formats a blank volume with the
// released key, so that key never exists outside the server and this node's memory; "blank" is
// strict (blankVerdict), and anything else is never formatted.
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { AgentError } from './errors.ts';
import { runTool, type ToolPaths } from './tools.ts';

/** How much of the start of a volume must be zeros for it to count as blank. */
export const BLANK_PREFIX_BYTES = 1024 * 1024;

/** What was found on a volume, for the blank decision. */
export interface VolumeProbe {
  /** Bytes read from the start (at most BLANK_PREFIX_BYTES; fewer only when the volume is smaller). */
  readonly prefixBytes: number;
  /** Offset of the first non-zero byte in that prefix, or -1. */
  readonly firstNonZero: number;
  /** What `blkid -p` (libblkid's low-level probe, every superblock and partition table it knows) found, if anything. */
  readonly blkidFound?: string;
  /** Whether `cryptsetup isLuks` recognizes a LUKS header. */
  readonly isLuks: boolean;
}

export type BlankVerdict = { readonly blank: true } | { readonly blank: false; readonly why: string };

/**
 * A volume is blank only when nothing knows it and its first MiB is all zeros. Either alone is not
 * enough: libblkid does not know every format (a raw database file, a proprietary volume) and a
 * zeroed first MiB may precede signatures at the end (an md 0.90 superblock, a backup GPT).
 */
export function blankVerdict(probe: VolumeProbe): BlankVerdict {
  if (probe.isLuks) return { blank: false, why: 'it is a LUKS volume' };
  if (probe.blkidFound !== undefined) return { blank: false, why: `blkid finds ${probe.blkidFound}` };
  if (probe.firstNonZero >= 0) return { blank: false, why: `byte ${probe.firstNonZero} of its first MiB is not zero` };
  return { blank: true };
}

/** Offset of the first non-zero byte, or -1. */
export function firstNonZeroByte(bytes: Uint8Array): number {
  // Eight bytes at a time where aligned: a MiB of zeros is checked in well under a millisecond.
  let i = 0;
  if (bytes.byteOffset % 8 === 0) {
    const view = new BigUint64Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 8));
    while (i < view.length && view[i] === 0n) i++;
  }
  for (let b = i * 8; b < bytes.length; b++) if (bytes[b] !== 0) return b;
  return -1;
}

async function readPrefix(device: string): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(device, 'r');
  } catch (e) {
    throw new AgentError('ERR_AGENT_LUKS', `${device}: cannot be opened: ${(e as Error).message}`, { device }, { cause: e });
  }
  try {
    const buffer = new Uint8Array(BLANK_PREFIX_BYTES);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** Looks at a volume: its first MiB, blkid's low-level probe and cryptsetup's LUKS check. */
export async function probeVolume(device: string, tools: ToolPaths): Promise<VolumeProbe> {
  const prefix = await readPrefix(device);
  // -p: probe the device itself (no cache); exit 2 means no signature was found. --no-part-details:
  // a GPT partition's own table entry (PART_ENTRY_*) is not a signature on the volume.
  const blkid = await runTool(tools.blkid, ['-p', '--no-part-details', '-o', 'export', device]);
  let blkidFound: string | undefined;
  if (blkid.code === 0 || blkid.code === 8) {
    const fields = Object.fromEntries(
      blkid.stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    blkidFound =
      blkid.code === 8 ? 'several conflicting signatures' : (fields.TYPE ?? fields.PTTYPE ?? 'a signature') + (fields.USAGE ? ` (${fields.USAGE})` : '');
  } else if (blkid.code !== 2) {
    throw new AgentError('ERR_AGENT_LUKS', `blkid -p ${device} failed (exit ${blkid.code}): ${blkid.stderr.trim()}`, { device, exit: blkid.code });
  }
  const isLuks = (await runTool(tools.cryptsetup, ['isLuks', device])).code === 0;
  return { prefixBytes: prefix.length, firstNonZero: firstNonZeroByte(prefix), ...(blkidFound !== undefined ? { blkidFound } : {}), isLuks };
}

/** cryptsetup with the key on its standard input; the key buffer is the caller's to wipe. */
function cryptsetup(tools: ToolPaths, args: readonly string[], key: Uint8Array): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tools.cryptsetup, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString('utf8');
    });
    child.once('error', (e) => {
      reject(new AgentError('ERR_AGENT_LUKS', `${tools.cryptsetup} cannot run: ${e.message}`, { tool: tools.cryptsetup }, { cause: e }));
    });
    child.once('close', (code) => resolve({ code: code ?? -1, stderr: stderr.trim() }));
    // An early exit closes the pipe: the write error is the exit status's to explain.
    child.stdin.on('error', () => undefined);
    child.stdin.end(Buffer.from(key.buffer, key.byteOffset, key.byteLength));
  });
}

/** cryptsetup's exit status 2: "no permission (bad passphrase)". */
const CRYPTSETUP_BAD_PASSPHRASE = 2;

function failed(what: string, device: string, r: { code: number; stderr: string }): AgentError {
  if (r.code === CRYPTSETUP_BAD_PASSPHRASE && what !== 'luksFormat') {
    return new AgentError(
      'ERR_AGENT_LUKS_KEY',
      `the released key does not open ${device} (cryptsetup: ${r.stderr || 'no key available with this passphrase'})`,
      {
        device,
      },
    );
  }
  return new AgentError('ERR_AGENT_LUKS', `cryptsetup ${what} ${device} failed (exit ${r.code}): ${r.stderr}`, { device, exit: r.code });
}

/**
 * Formats `device` as LUKS2 with `key` in keyslot 0. PBKDF2 at its minimum iteration count, as
 * clevis does for the keys it binds: the key is 256 random bits from the server, so a memory-hard
 * KDF adds nothing against guessing and would cost boot time and initramfs memory.
 */
export async function formatLuks(device: string, key: Uint8Array, tools: ToolPaths): Promise<void> {
  const r = await cryptsetup(
    tools,
    ['luksFormat', '--batch-mode', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file=-', device],
    key,
  );
  if (r.code !== 0) throw failed('luksFormat', device, r);
}

/** Opens `device` as /dev/mapper/`name`. */
export async function openLuks(device: string, name: string, key: Uint8Array, tools: ToolPaths): Promise<void> {
  const r = await cryptsetup(tools, ['open', '--type', 'luks2', '--key-file=-', device, name], key);
  if (r.code !== 0) throw failed('open', device, r);
}

/** Checks that `key` opens `device`, without device-mapper (cryptsetup open --test-passphrase). */
export async function testLuksKey(device: string, key: Uint8Array, tools: ToolPaths): Promise<void> {
  const r = await cryptsetup(tools, ['open', '--type', 'luks2', '--test-passphrase', '--key-file=-', device], key);
  if (r.code !== 0) throw failed('open --test-passphrase', device, r);
}

/** A device-mapper name cryptsetup accepts and that cannot be read as a path or an option. */
export function checkMapperName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,126}$/.test(name);
}
