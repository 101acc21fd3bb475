/**
 * The functions a shared library exports, read from its ELF dynamic symbol table (what the
 * loader binds an LD_PRELOAD against), without binutils.
 *
 *   exportedFunctions('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2').has('malloc')  // true
 *
 * Throws an Error saying what is wrong for a file that is not a 64-bit little-endian ELF or has
 * no dynamic symbol table.
 */
import {readFileSync} from 'node:fs';

const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;

export function exportedFunctions(path: string): Set<string> {
  const file = readFileSync(path);
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (file[4] !== 2 || file[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const sectionOffset = Number(file.readBigUInt64LE(0x28));
  const sectionSize = file.readUInt16LE(0x3a);
  const sectionCount = file.readUInt16LE(0x3c);
  const section = (index: number): {type: number; offset: number; size: number; link: number; entrySize: number} => {
    const at = sectionOffset + index * sectionSize;
    if (at + 64 > file.length) throw new Error('truncated section table');
    return {
      type: file.readUInt32LE(at + 4),
      offset: Number(file.readBigUInt64LE(at + 0x18)),
      size: Number(file.readBigUInt64LE(at + 0x20)),
      link: file.readUInt32LE(at + 0x28),
      entrySize: Number(file.readBigUInt64LE(at + 0x38)),
    };
  };

  for (let index = 0; index < sectionCount; index++) {
    const symbols = section(index);
    if (symbols.type !== SHT_DYNSYM) continue;
    const strings = section(symbols.link);
    const names = new Set<string>();
    const entrySize = symbols.entrySize || 24;
    for (let at = symbols.offset; at + entrySize <= symbols.offset + symbols.size && at + 24 <= file.length; at += entrySize) {
      const type = file[at + 4]! & 0xf;
      const defined = file.readUInt16LE(at + 6) !== SHN_UNDEF;
      if (!defined || (type !== STT_FUNC && type !== STT_GNU_IFUNC)) continue;
      const start = strings.offset + file.readUInt32LE(at);
      const end = file.indexOf(0, start);
      if (start < file.length && end > start) names.add(file.toString('latin1', start, end));
    }

    return names;
  }

  throw new Error('no dynamic symbol table (a static library or an executable?)');
}
