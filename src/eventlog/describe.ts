// One-line human summaries of decoded events, for `vouch eventlog show` and verdict texts.
import type { DecodedEvent, DecodedSipaItem, DecodedVariable } from './decoded-types.ts';
import { escapeControlCharacters } from './printable.ts';

const maxSummaryChars = 160;

/** One line of at most maxSummaryChars: runs of spaces, tabs and line breaks fold into one space, other control characters are escaped. */
function clip(text: string): string {
  const oneLine = escapeControlCharacters(text.replace(/[ \t\r\n]+/g, ' ')).trim();
  return oneLine.length > maxSummaryChars ? oneLine.slice(0, maxSummaryChars - 1) + '…' : oneLine;
}

function describeVariable(v: DecodedVariable): string {
  const { value } = v;
  switch (value.kind) {
    case 'boolean':
      return `${v.name}=${value.value ? 'on' : 'off'}`;
    case 'boot-order':
      return `${v.name}=${value.order.join(',')}`;
    case 'load-option': {
      const o = value.option;
      const args = o.optionalDataText ? ` ${o.optionalDataText}` : '';
      return `${v.name} "${o.description}"${o.active ? '' : ' (inactive)'} ${o.devicePaths.join(' ; ')}${args}`;
    }
    case 'signature-lists':
      return `${v.name} (${v.dataLength} bytes of signature lists)`;
    case 'authority':
      return `${v.name} authority ${value.certificate ? `certificate (${value.certificate.length / 2} bytes)` : `hash ${value.hash ?? ''}`}${value.owner ? ` owner ${value.owner}` : ''}`;
    case 'sbat':
      return `${v.name} ${value.text}`;
    case 'empty':
      return `${v.name} (empty)`;
    case 'undecodable':
      return `${v.name} (undecodable: ${value.code})`;
    case 'raw':
      return `${v.name} (${v.dataLength} bytes)`;
  }
}

function describeSipaItems(items: readonly DecodedSipaItem[]): string {
  return items
    .map((item) => {
      const name = item.name?.replace(/^SIPA(EVENT|ERROR)_/, '') ?? `0x${item.type.toString(16)}`;
      if (item.items) return `${name}{${describeSipaItems(item.items)}}`;
      return item.text !== undefined ? `${name}=${item.text}` : `${name}=${item.data ?? ''}`;
    })
    .join(' ');
}

/** A short text for an event's decoded data: device path, command line, variable value, action text. */
export function describeDecodedEvent(decoded: DecodedEvent): string {
  switch (decoded.kind) {
    case 'spec-id':
      return clip(`${decoded.signature} ${decoded.specVersion} banks ${decoded.algorithms.map((a) => a.name).join(',')}`);
    case 'startup-locality':
      return `StartupLocality ${decoded.locality}`;
    case 'no-action':
      return clip(decoded.signature || `${decoded.data.length / 2} bytes`);
    case 'separator':
      if (!decoded.isError) return decoded.value === 0 ? 'separator' : `separator 0x${decoded.value.toString(16)}`;
      return decoded.errorInformation === undefined ? 'error separator' : clip(`error separator, error information ${decoded.errorInformation}`);
    case 'text':
      return clip(decoded.text);
    case 'guid':
      return `GUID ${decoded.guid}`;
    case 'firmware-blob':
      return clip(`${decoded.description ? decoded.description + ' ' : ''}blob ${decoded.base} +${decoded.length}`);
    case 'handoff-tables':
      return clip(`${decoded.description ? decoded.description + ' ' : ''}${decoded.tables.map((t) => t.name ?? t.vendorGuid).join(', ')}`);
    case 'efi-variable':
      return clip(describeVariable(decoded));
    case 'image-load':
      return clip(decoded.devicePath || `image at ${decoded.imageLocation} (no device path)`);
    case 'gpt':
      return clip(`disk ${decoded.diskGuid}: ${decoded.partitions.map((p) => p.name || p.typeGuid).join(', ')}`);
    case 'ipl':
      if (decoded.encoding === 'binary') return 'binary data (not text)';
      return clip(decoded.role === 'other' ? decoded.text : `${decoded.role}: ${decoded.value ?? decoded.text}`);
    case 'event-tag':
      if (decoded.sipa) return clip(`WBCL ${describeSipaItems(decoded.sipa)}`);
      return clip(`tag 0x${decoded.tagId.toString(16)}${decoded.tagName ? ` ${decoded.tagName}` : ''}${decoded.text ? ` ${decoded.text}` : ''}`);
    case 'device-security':
      return clip(`${decoded.signature} v${decoded.version} (${decoded.data.length / 2} bytes)`);
    case 'raw':
      return `${decoded.data.length / 2} bytes`;
    case 'undecodable':
      return clip(`undecodable (${decoded.code})`);
  }
}
