/* Shared by the C tests: the allocator under test, checks, a PRNG. A normal build tests
 * both the malloc override and the hak_* API; a sanitizer build (no override) only the API. */
#ifndef HAK_TEST_UTIL_H
#define HAK_TEST_UTIL_H

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"

typedef struct api_s {
  const char* name;
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*reallocarray)(void*, size_t, size_t);
  void* (*memalign)(size_t, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  size_t (*usable)(void*);
  int override;     /* these are the process's malloc and friends */
} api_t;

static size_t hak_usable_nc(void* p) { return hak_usable_size(p); }

static const api_t api_hak = {
  "hak_*", hak_malloc, hak_free, hak_calloc, hak_realloc, hak_reallocarray,
  hak_memalign, hak_posix_memalign, hak_aligned_alloc, hak_usable_nc, 0,
};

#if HAK_TEST_DIRECT
static const api_t* const test_apis[] = { &api_hak };
#else
static const api_t api_std = {
  "malloc", malloc, free, calloc, realloc, reallocarray,
  memalign, posix_memalign, aligned_alloc, malloc_usable_size, 1,
};
static const api_t* const test_apis[] = { &api_std, &api_hak };
#endif
#define TEST_API_COUNT (sizeof(test_apis) / sizeof(test_apis[0]))

#define CHECK(cond, ...) do {                                                        \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);       \
      fprintf(stderr, __VA_ARGS__);                                                  \
      fputc('\n', stderr);                                                           \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

static inline int wrap_tiny_on(void) {
  hak_config_t c;
  hak_config(&c);
  return c.wrap_tiny;
}

/* Whether an API's tiny requests reach hakmem: through malloc with wrap-tiny off, glibc
 * serves them. */
static inline int tiny_served(const api_t* a) { return !a->override || wrap_tiny_on(); }

/* Sanitizer builds run smaller counts. */
static inline int test_quick(void) {
  const char* q = getenv("HAK_TEST_QUICK");
  return q != NULL && q[0] == '1';
}

/* Runs fn(arg) in a child process that must end within 20 s, its stderr captured into out
 * (at most cap - 1 bytes, NUL-terminated; *len: how many). Returns the child's wait status. */
static inline int run_in_child(void (*fn)(const void*), const void* arg, char* out, size_t cap, size_t* len) {
  int fds[2];
  CHECK(pipe(fds) == 0, "pipe");
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    alarm(20);
    fn(arg);
    _exit(0);
  }
  close(fds[1]);
  size_t n = 0;
  ssize_t r;
  while (n < cap - 1 && (r = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
  out[n] = 0;
  close(fds[0]);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  *len = n;
  return status;
}

static inline uint32_t xorshift32(uint32_t* s) {
  uint32_t x = *s;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  return *s = x;
}

/* A pattern that depends on the block's identity, so a block handed out twice or
 * overwritten by another is noticed. It is written in 8-byte words: every word of blocks up
 * to 4 KiB; for larger ones the first and last 1 KiB and one word in every 512 bytes. */
#define PATTERN_FULL 4096
#define PATTERN_EDGE 1024
#define PATTERN_STRIDE_WORDS 64

static inline uint64_t pattern_word(size_t j, uint32_t seed) {
  return ((uint64_t)seed * UINT64_C(0x9E3779B97F4A7C15)) ^ ((uint64_t)(j + 1) * UINT64_C(0xD6E8FEB86659FD93));
}

/* The next covered word index after j for a block of `size` bytes. */
static inline size_t pattern_next(size_t j, size_t size) {
  size_t words = (size + 7) / 8;
  if (size <= PATTERN_FULL || j + 1 < PATTERN_EDGE / 8 || j + 1 >= (size - PATTERN_EDGE) / 8) return j + 1;
  size_t next = (j + PATTERN_STRIDE_WORDS) & ~(size_t)(PATTERN_STRIDE_WORDS - 1);
  size_t tail = (size - PATTERN_EDGE) / 8;
  return next < tail ? next : (tail < words ? tail : words);
}

static inline void fill_pattern(void* p, size_t size, uint32_t seed) {
  uint8_t* b = (uint8_t*)p;
  for (size_t j = 0; j * 8 < size; j = pattern_next(j, size)) {
    uint64_t w = pattern_word(j, seed);
    if (size - j * 8 >= 8) memcpy(b + j * 8, &w, 8);
    else memcpy(b + j * 8, &w, size - j * 8);
  }
}

/* Checks what fill_pattern(p, written, seed) wrote below `limit` (a realloc may have kept
 * only a prefix of the block). */
static inline int check_pattern_prefix(const void* p, size_t written, size_t limit, uint32_t seed) {
  const uint8_t* b = (const uint8_t*)p;
  size_t end = written < limit ? written : limit;
  for (size_t j = 0; j * 8 < end; j = pattern_next(j, written)) {
    uint64_t w = pattern_word(j, seed), got = 0;
    size_t n = end - j * 8 < 8 ? end - j * 8 : 8;
    if (n == 8) memcpy(&got, b + j * 8, 8);
    else { memcpy(&got, b + j * 8, n); w &= (UINT64_C(1) << (n * 8)) - 1; }
    if (got != w) return 0;
  }
  return 1;
}

static inline int check_pattern(const void* p, size_t size, uint32_t seed) {
  return check_pattern_prefix(p, size, size, seed);
}

#endif
