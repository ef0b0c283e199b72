// Text from a log (device paths, boot entry descriptions, variable names, EV_NO_ACTION signatures,
// GRUB commands) is attacker-chosen: printed as is, it can clear a terminal, set its title, recolour
// or reorder what an operator reads (escape sequences, bidi overrides). Before any of it reaches a
// human, every character that is not printable is written as a visible escape.

/**
 * Control characters (C0, DEL, C1), format characters (bidi embeddings, overrides and isolates,
 * zero-width characters, the Arabic letter mark), line and paragraph separators, and lone surrogates.
 */
const notPrintable = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function escapeCodePoint(character: string): string {
  const codePoint = character.codePointAt(0)!;
  if (codePoint < 0x100) return `\\x${codePoint.toString(16).padStart(2, '0')}`;
  return codePoint <= 0xffff ? `\\u${codePoint.toString(16).padStart(4, '0')}` : `\\u{${codePoint.toString(16)}}`;
}

/**
 * `text` with every non-printable character as `\xHH`, `\uHHHH` or `\u{H…}`. Backslashes stay as
 * they are (UEFI file paths are full of them), so applying it twice changes nothing more.
 *
 * @example
 *   escapeControlCharacters('Disk \x1b[31mRED') // 'Disk \\x1b[31mRED'
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(notPrintable, escapeCodePoint);
}
