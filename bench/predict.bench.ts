// predict: PCR prediction of a 64 MiB UKI (what dominates is hashing: Authenticode of the whole
// image plus every measured section, in each bank) next to `sha256sum` of the same file in the
// same run — prediction in the sha256 bank alone must hash the image about twice. Then profile
// prediction rate for a shim → GRUB → kernel chain given by digests (no hashing of images).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildUki, parseBootProfile, predict, type PcrBank } from '../src/predict/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, opsPerSecond, timeCommand, timeOnce } from './measure.ts';

const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const SNAKEOIL_VARS = '/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd';

export async function run(): Promise<void> {
  if (!existsSync(STUB) || !existsSync(SNAKEOIL_VARS)) {
    console.log('systemd-boot-efi / ovmf not installed: skipped');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'vouch-bench-predict-'));
  try {
    const uki = buildUki({ stub: await readFile(STUB), linux: randomBytes(48 << 20), initrd: randomBytes(16 << 20), cmdline: 'ro quiet', osrel: 'ID=bench\n' });
    const ukiPath = join(dir, 'bench.efi');
    await writeFile(ukiPath, uki);
    const mb = uki.length / (1 << 20);
    const vars = new Uint8Array(await readFile(SNAKEOIL_VARS));
    const predictUki = (banks: PcrBank[]): unknown =>
      predict(
        parseBootProfile({ banks, firmware: { variableStore: 'vars' }, chain: [{ kind: 'uki', image: 'uki', authority: 'none' }] }),
        new Map([
          ['uki', uki],
          ['vars', vars],
        ]),
      );
    let sha256Only = Infinity;
    let allBanks = Infinity;
    for (let i = 0; i < 3; i++) {
      sha256Only = Math.min(sha256Only, await timeOnce(() => predictUki(['sha256'])));
      allBanks = Math.min(allBanks, await timeOnce(() => predictUki(['sha1', 'sha256', 'sha384', 'sha512'])));
    }
    console.log(`predict UKI (${fmt(mb, 0)} MiB), sha256 bank: ${fmt(mb / sha256Only)} MiB/s of image`);
    console.log(`predict UKI, 4 banks (sha1/256/384/512): ${fmt(mb / allBanks)} MiB/s of image`);
    const sha256sum = findTool('sha256sum') ? timeCommand('sha256sum', [ukiPath]) : undefined;
    if (sha256sum !== undefined) {
      console.log(`sha256sum of the same file: ${fmt(mb / sha256sum)} MiB/s`);
      console.log(`ratio predict(sha256 bank) / sha256sum: ${fmt(sha256sum / sha256Only, 2)}× (prediction hashes the image twice: Authenticode + sections)`);
    }

    const digests = (n: number): { sha1: string; sha256: string } => ({ sha1: n.toString(16).padStart(40, '0'), sha256: n.toString(16).padStart(64, '0') });
    const chainProfile = parseBootProfile({
      firmware: { secureBoot: false },
      chain: [
        { kind: 'shim', image: { authenticode: digests(1) }, mokList: { hex: '' }, mokListX: { hex: '' } },
        { kind: 'grub', image: { authenticode: digests(2) }, commands: Array.from({ length: 40 }, (_, i) => `set var${i}=value`) },
        { kind: 'linux', image: { authenticode: digests(3) }, cmdline: 'root=/dev/vda2 ro quiet', initrd: { hex: '00'.repeat(4096) } },
      ],
    });
    const rate = await opsPerSecond(() => predict(chainProfile, new Map()), 1);
    console.log(`predict shim → GRUB (40 commands) → kernel by digests: ${fmt(rate, 0)} predictions/s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
