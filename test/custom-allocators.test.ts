import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {parseAllocatorName, peerLibraryPath, resolveAllocator} from '../src/allocators.js';
import {customAllocator} from '../src/custom-allocators.js';
import {exportedFunctions} from '../src/elf-symbols.js';
import {UsageError} from '../src/errors.js';
import {withHardenedTwins} from '../src/profiles/index.js';
import {allocatorOfLibrary} from '../src/verify/binding.js';

/** The C library this very process runs on: a shared library that exports malloc and free on any glibc host. */
function loadedLibc(): string {
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const match = /\s(\/\S*\/libc(?:\.so\.\d+|-[\d.]+\.so))$/m.exec(maps);
  if (!match) throw new Error('no libc in /proc/self/maps');
  return match[1]!;
}

describe('exportedFunctions', () => {
  it('reads the dynamic symbol table of a shared library', () => {
    const functions = exportedFunctions(loadedLibc());
    expect(functions.has('malloc')).toBe(true);
    expect(functions.has('free')).toBe(true);
    expect(functions.has('no_such_function_anywhere')).toBe(false);
  });

  it('refuses a file that is not ELF', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hak-elf-'));
    writeFileSync(join(dir, 'text.so'), 'not a library at all, only text that is long enough to have a header');
    expect(() => exportedFunctions(join(dir, 'text.so'))).toThrow(/not an ELF file/);
  });
});

describe('NAME=PATH allocators', () => {
  it('registers a malloc library under its name, with its path and sha256', () => {
    const libc = loadedLibc();
    expect(parseAllocatorName(`mylibc=${libc}`)).toBe('mylibc');
    const registered = customAllocator('mylibc');
    expect(registered?.path).toBe(libc);
    expect(registered?.sha256).toMatch(/^[\da-f]{64}$/);
    expect(resolveAllocator('mylibc')).toEqual({name: 'mylibc', preload: libc});
    expect(peerLibraryPath('mylibc')).toBe(libc);
    expect(allocatorOfLibrary(libc)).toBe('mylibc');
    expect(parseAllocatorName('mylibc')).toBe('mylibc');
  });

  it('refuses a missing file, a library without malloc, a built-in name and bad syntax, each with a UsageError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hak-custom-'));
    writeFileSync(join(dir, 'fake.so'), Buffer.alloc(128));
    expect(() => parseAllocatorName(`x=${join(dir, 'missing.so')}`)).toThrow(/does not exist/);
    expect(() => parseAllocatorName(`x=${join(dir, 'fake.so')}`)).toThrow(/not a shared library/);
    expect(() => parseAllocatorName(`glibc=${loadedLibc()}`)).toThrow(/built-in allocator/);
    expect(() => parseAllocatorName('=nothing')).toThrow(UsageError);
    expect(() => parseAllocatorName('nonesuch')).toThrow(/unknown allocator "nonesuch"/);
  });

  it('knows scudo by its library name', () => {
    expect(allocatorOfLibrary('/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so')).toBe('scudo');
    expect(peerLibraryPath('scudo')).toMatch(/libclang_rt\.scudo_standalone-x86_64\.so$/);
  });
});

describe('withHardenedTwins', () => {
  it('puts a hardened twin after each variant, and leaves a profile that prices harden itself alone', () => {
    const profile = {variants: [{name: 'default', features: {}, expected: null}, {name: 'no-dc', features: {directCache: false}, expected: null}]};
    const twins = withHardenedTwins(profile as never) as unknown as typeof profile;
    expect(twins.variants.map((variant) => variant.name)).toEqual(['default', 'harden', 'no-dc', 'no-dc-harden']);
    expect(twins.variants[3]!.features).toEqual({directCache: false, harden: true});
    const priced = {variants: [{name: 'default', features: {}, expected: null}, {name: 'harden', features: {harden: true}, expected: null}]};
    expect(withHardenedTwins(priced as never)).toBe(priced);
  });
});
