// Building a unified kernel image (UAPI.5 "Unified Kernel Image"): systemd's EFI stub with the
// kernel, initrd, command line and os-release appended as PE sections. The stub finds them by
// name, so file order is free; we add them in the order ukify uses, with `.linux` last because
// the kernel is by far the largest.
import { appendSections, type NewSection } from '../secureboot/index.ts';
import { PredictError } from './errors.ts';

export interface UkiParts {
  /** systemd-boot-efi's linuxx64.efi.stub (unsigned). */
  readonly stub: Uint8Array;
  /** The kernel (bzImage with its EFI stub). */
  readonly linux: Uint8Array;
  readonly initrd?: Uint8Array;
  /** The kernel command line; stored as is (no trailing newline is added). */
  readonly cmdline?: string;
  /** os-release text for `.osrel` (boot menus and systemd read it). */
  readonly osrel?: string;
  readonly uname?: string;
  readonly splash?: Uint8Array;
  readonly dtb?: Uint8Array;
  /** `.pcrpkey`: the PEM public key whose signatures approve this image's PCR policies (measured into PCR 11). */
  readonly pcrpkey?: Uint8Array;
  /**
   * `.pcrsig`: the signed PCR policy JSON. systemd-stub does not measure it (it signs the result of
   * measuring the others), so it can be added after the PCRs were predicted from the image without it.
   */
  readonly pcrsig?: Uint8Array;
}

/**
 * Returns an unsigned UKI; sign it with src/secureboot's signImage for Secure Boot. Predict its
 * PCRs with a profile whose chain ends in `{kind: uki, image: …}`.
 *
 * @example buildUki({ stub, linux: kernel, initrd, cmdline: 'console=ttyS0 composefs=…', osrel: 'ID=vouch\n' })
 */
export function buildUki(parts: UkiParts): Uint8Array {
  if (parts.linux.length === 0) throw new PredictError('ERR_PREDICT_UKI', 'UKI needs a non-empty kernel for .linux', { section: '.linux' });
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  const sections: NewSection[] = [];
  if (parts.osrel !== undefined) sections.push({ name: '.osrel', data: text(parts.osrel) });
  if (parts.cmdline !== undefined) sections.push({ name: '.cmdline', data: text(parts.cmdline) });
  if (parts.dtb !== undefined) sections.push({ name: '.dtb', data: parts.dtb });
  if (parts.uname !== undefined) sections.push({ name: '.uname', data: text(parts.uname) });
  if (parts.splash !== undefined) sections.push({ name: '.splash', data: parts.splash });
  if (parts.pcrpkey !== undefined) sections.push({ name: '.pcrpkey', data: parts.pcrpkey });
  if (parts.pcrsig !== undefined) sections.push({ name: '.pcrsig', data: parts.pcrsig });
  if (parts.initrd !== undefined) sections.push({ name: '.initrd', data: parts.initrd });
  sections.push({ name: '.linux', data: parts.linux });
  return appendSections(parts.stub, sections);
}
