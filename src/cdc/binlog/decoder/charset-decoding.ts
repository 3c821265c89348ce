import { collationCharset } from './collation-charsets.js';

/**
 * How text of a server charset is decoded: `utf8`, MySQL's `latin1` (cp1252 with the C1 gaps),
 * `binary` (bytes), `utf32` (big-endian code points), or a WHATWG encoding label for Node's
 * TextDecoder. Charsets missing here (armscii8, cp850, cp852, dec8, geostd8, hp8, keybcs2, macce,
 * swe7) have no decoder in Node: their columns are refused rather than decoded wrongly.
 */
const CHARSET_DECODING: Readonly<Record<string, string>> = {
  ascii: 'utf8',
  big5: 'big5',
  binary: 'binary',
  cp1250: 'windows-1250',
  cp1251: 'windows-1251',
  cp1256: 'windows-1256',
  cp1257: 'windows-1257',
  cp866: 'ibm866',
  cp932: 'shift_jis',
  eucjpms: 'euc-jp',
  euckr: 'euc-kr',
  gb18030: 'gb18030',
  gb2312: 'gbk',
  gbk: 'gbk',
  greek: 'iso-8859-7',
  hebrew: 'iso-8859-8',
  koi8r: 'koi8-r',
  koi8u: 'koi8-u',
  latin1: 'latin1',
  latin2: 'iso-8859-2',
  latin5: 'windows-1254',
  latin7: 'iso-8859-13',
  macroman: 'macintosh',
  sjis: 'shift_jis',
  tis620: 'windows-874',
  ucs2: 'utf-16be',
  ujis: 'euc-jp',
  utf16: 'utf-16be',
  utf16le: 'utf-16le',
  utf32: 'utf32',
  utf8mb3: 'utf8',
  utf8mb4: 'utf8',
};

/** What a collation id's charset decodes with: {@link CHARSET_DECODING}'s value, or why there is none. */
export function collationDecoding(collationId: number): { decoding: string } | { unknown: string } {
  const charset = collationCharset(collationId);
  if (charset === undefined) return { unknown: `unknown collation ${collationId}` };
  const decoding = CHARSET_DECODING[charset];
  if (decoding === undefined) return { unknown: `no decoder for charset ${charset} (collation ${collationId})` };
  return { decoding };
}

/** UTF-32 (big-endian, as MySQL stores it) to a string; code points beyond U+10FFFF become U+FFFD. */
export const utf32Decoder = {
  decode(bytes: Uint8Array): string {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.byteLength >> 2;
    let out = '';
    const codes: number[] = [];
    for (let i = 0; i < n; i++) {
      const cp = view.getUint32(i * 4);
      codes.push(cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0xfffd : cp);
      if (codes.length === 4096) {
        out += String.fromCodePoint(...codes);
        codes.length = 0;
      }
    }
    if (bytes.byteLength % 4 !== 0) codes.push(0xfffd);
    return out + String.fromCodePoint(...codes);
  },
};
