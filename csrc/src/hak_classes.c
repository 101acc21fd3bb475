/* Size classes of the tiny and mid tiers. */
#include "hak_internal.h"

/* Tiny: 8, then 16..128 step 16, then four per doubling to 1024. Mid: (5..8) << (8+g) for
 * g = 0..5, four per doubling from 1280 to 65536. Every class but the first is a multiple of
 * 16, so its blocks are 16-byte aligned; the 8-byte class serves requests of at most 8 bytes,
 * which need no more than 8 (an object of 8 bytes or less has no 16-byte alignment). A
 * uniform 16..1039 B mix loses 8.0% of its block bytes to rounding. */
const uint32_t _hak_class_size[HAK_CLASS_COUNT] = {
  8, 16, 32, 48, 64, 80, 96, 112, 128,
  160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
  1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
  10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
};

/* (size+7)/8 -> tiny class, for size 0..1024. Sizes 0..8 take HAK_FIRST_CLASS: the 8-byte
 * class, or with harden, whose canary room and free-block fill need 16 bytes, the 16-byte
 * one. test_api checks every size against the class table. */
const uint8_t _hak_direct_class[HAK_DIRECT_SLOTS] = {
  HAK_FIRST_CLASS, HAK_FIRST_CLASS, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
  9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12,
  13, 13, 13, 13, 13, 13, 13, 13, 14, 14, 14, 14, 14, 14, 14, 14,
  15, 15, 15, 15, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16, 16, 16,
  17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17,
  18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18,
  19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19, 19,
  20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
};

/* (size-1)/256 -> mid class, for size 1025..65536 (the first four entries are never read):
 * one load instead of the arithmetic of four classes per doubling, which costs malloc's mid
 * path eight instructions. test_api checks it against the class table. */
const uint8_t _hak_mid_direct_class[HAK_MID_DIRECT_SLOTS] = {
  21, 21, 21, 21, 21, 22, 23, 24, 25, 25, 26, 26, 27, 27, 28, 28,
  29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31, 32, 32, 32, 32,
  33, 33, 33, 33, 33, 33, 33, 33, 34, 34, 34, 34, 34, 34, 34, 34,
  35, 35, 35, 35, 35, 35, 35, 35, 36, 36, 36, 36, 36, 36, 36, 36,
  37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37,
  38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
  39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39,
  40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40,
  41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41,
  41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41, 41,
  42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42,
  42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42,
  43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43,
  43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43,
  44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44,
  44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44,
};

int _hak_class_search(size_t size) {
  int lo = HAK_FIRST_CLASS, hi = HAK_CLASS_COUNT - 1;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (_hak_class_size[mid] < size) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/* The smallest class whose blocks all start on an `alignment` boundary: its size is a
 * multiple of the alignment, and page areas start at least 4 KiB aligned, or 64 bytes
 * for a coloured mid page (the caller takes a page whose colour keeps the alignment). -1 if
 * none. */
int _hak_aligned_class(size_t size, size_t alignment) {
  if (alignment > HAK_OS_PAGE || size > HAK_MID_MAX) return -1;
  for (int c = _hak_class_search(size < 1 ? 1 : size); c < HAK_CLASS_COUNT; c++) {
    if ((_hak_class_size[c] & (alignment - 1)) == 0) return c;
  }
  return -1;
}

int hak_size_class_count(void) { return HAK_CLASS_COUNT; }

size_t hak_size_class_block_size(int class_index) {
  if (class_index < 0 || class_index >= HAK_CLASS_COUNT) return 0;
  return _hak_class_size[class_index];
}
