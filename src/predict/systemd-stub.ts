// What systemd-stub measures of a unified kernel image (systemd src/boot/efi/stub.c): into PCR 11,
// for each PE section it knows, in the order of its UnifiedSection enum (not file order), first
// the section name with its NUL, then the section's bytes as loaded (VirtualSize).
import type { PeImage } from '../secureboot/index.ts';
import { peSectionContent } from '../secureboot/index.ts';
import { PredictError } from './errors.ts';

/**
 * Measured sections per systemd release. `.pcrsig` is never measured (it signs the result).
 * v252-253 (Debian 12): linux osrel cmdline initrd splash dtb pcrpkey; v254 added .uname and .sbat;
 * v256 added .ucode after .initrd.
 */
export function measuredSections(stubVersion: number): readonly string[] {
  if (stubVersion >= 256) return ['.linux', '.osrel', '.cmdline', '.initrd', '.ucode', '.splash', '.dtb', '.uname', '.sbat', '.pcrpkey'];
  if (stubVersion >= 254) return ['.linux', '.osrel', '.cmdline', '.initrd', '.splash', '.dtb', '.uname', '.sbat', '.pcrpkey'];
  return ['.linux', '.osrel', '.cmdline', '.initrd', '.splash', '.dtb', '.pcrpkey'];
}

/**
 * How far a measured section's VirtualSize may run past its raw data. The loader zero-fills the
 * gap and systemd-stub hashes it; UKI builders never leave more than alignment padding, and a
 * forged header claiming a gigabyte would otherwise make prediction allocate and hash it.
 */
export const MAX_SECTION_ZERO_FILL = 1024 * 1024;

export interface UkiSections {
  /** Measured sections present in the image, in measuring order, with their loaded bytes. */
  readonly measured: readonly { readonly name: string; readonly content: Uint8Array }[];
  readonly cmdline?: string;
  readonly initrd?: Uint8Array;
}

/** The sections of a UKI that systemd-stub `stubVersion` measures; `.linux` must be present. */
export function ukiSections(pe: PeImage, stubVersion: number): UkiSections {
  for (const name of new Set(pe.sections.map((s) => s.name))) {
    // The stub takes the first section of a name; a second copy would be ignored by it but
    // could mislead anyone reading the file, so such an image is refused.
    if (pe.sections.filter((s) => s.name === name).length > 1 && name.startsWith('.')) {
      throw new PredictError('ERR_PREDICT_UKI', `UKI has section ${name} twice`, { section: name });
    }
  }
  if (!pe.sections.some((s) => s.name === '.linux')) throw new PredictError('ERR_PREDICT_UKI', 'UKI has no .linux section', { section: '.linux' });
  for (const s of pe.sections) {
    if (s.name.startsWith('.') && s.virtualSize > s.sizeOfRawData + MAX_SECTION_ZERO_FILL) {
      throw new PredictError(
        'ERR_PREDICT_UKI',
        `UKI section ${s.name}: VirtualSize ${s.virtualSize} exceeds its ${s.sizeOfRawData} bytes of data by more than ${MAX_SECTION_ZERO_FILL}`,
        {
          section: s.name,
        },
      );
    }
  }
  const measured = [];
  for (const name of measuredSections(stubVersion)) {
    const content = peSectionContent(pe, name);
    if (content !== undefined) measured.push({ name, content });
  }
  const cmdlineBytes = peSectionContent(pe, '.cmdline');
  const initrd = peSectionContent(pe, '.initrd');
  return {
    measured,
    ...(cmdlineBytes !== undefined ? { cmdline: new TextDecoder().decode(cmdlineBytes) } : {}),
    ...(initrd !== undefined ? { initrd } : {}),
  };
}
