// Inputs that carry several byte strings: each section is a 32-bit little-endian length and that
// many bytes; a length past the end takes what is left, and missing sections are empty, so every
// mutation still yields the same number of sections.
export function splitSections(data: Uint8Array, count: number): Uint8Array[] {
  const sections: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (i === count - 1) {
      sections.push(data.subarray(Math.min(at + 4, data.length)));
      break;
    }
    const length = at + 4 <= data.length ? new DataView(data.buffer, data.byteOffset + at, 4).getUint32(0, true) : 0;
    const start = Math.min(at + 4, data.length);
    const end = Math.min(start + length, data.length);
    sections.push(data.subarray(start, end));
    at = end;
  }
  return sections;
}

export function joinSections(sections: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(sections.reduce((n, s) => n + 4 + s.length, 0));
  let at = 0;
  for (const section of sections) {
    new DataView(out.buffer).setUint32(at, section.length, true);
    out.set(section, at + 4);
    at += 4 + section.length;
  }
  return out;
}
