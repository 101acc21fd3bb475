/* Start-up: run-time options from the environment, the thread-exit hook, fork safety. */
#include "hak_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

hak_options_t _hak_options = {
  .wrap_tiny = HAK_WRAP_TINY,
  .purge_limit = HAK_PURGE_LIMIT_DEFAULT,
  .purge_delay_ms = HAK_PURGE_DELAY_MS_DEFAULT,
  .purge_thread = HAK_PURGE_THREAD_DEFAULT,
  .quarantine = HAK_HD_QUARANTINE,
};
_Atomic(int) _hak_init_state;
static __thread bool _initializing;
static char _stats_path[4096];

bool _hak_in_init(void) { return _initializing; }

#if HAK_OVERRIDE
/* glibc's allocator, found behind hakmem's own __libc_* names. While the lookup runs (it
 * does not allocate in glibc, but a dynamic linker may), a request it makes gets NULL and a
 * free is dropped, instead of recursing. */
static hak_libc_t _libc;
static _Atomic(int) _libc_state;          /* 0 none, 1 looking up, 2 ready */
static __thread bool _libc_resolving;

static void* no_malloc(size_t n) { (void)n; errno = ENOMEM; return NULL; }
static void  no_free(void* p) { (void)p; }
static void* no_calloc(size_t n, size_t s) { (void)n; (void)s; errno = ENOMEM; return NULL; }
static void* no_realloc(void* p, size_t n) { (void)p; (void)n; errno = ENOMEM; return NULL; }
static void* no_memalign(size_t a, size_t n) { (void)a; (void)n; errno = ENOMEM; return NULL; }
static const hak_libc_t _libc_none = { no_malloc, no_free, no_calloc, no_realloc, no_memalign };

const hak_libc_t* _hak_libc(void) {
  if (hak_likely(atomic_load_explicit(&_libc_state, memory_order_acquire) == 2)) return &_libc;
  if (_libc_resolving) return &_libc_none;
  int expected = 0;
  if (atomic_compare_exchange_strong(&_libc_state, &expected, 1)) {
    _libc_resolving = true;
    int saved = errno;
    _libc.malloc = (void* (*)(size_t))dlsym(RTLD_NEXT, "__libc_malloc");
    _libc.free = (void (*)(void*))dlsym(RTLD_NEXT, "__libc_free");
    _libc.calloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "__libc_calloc");
    _libc.realloc = (void* (*)(void*, size_t))dlsym(RTLD_NEXT, "__libc_realloc");
    _libc.memalign = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "__libc_memalign");
    errno = saved;
    _libc_resolving = false;
    if (_libc.malloc == NULL || _libc.free == NULL || _libc.calloc == NULL || _libc.realloc == NULL || _libc.memalign == NULL) {
      static const char msg[] = "hakmem: glibc's __libc_malloc and friends not found\n";
      if (write(2, msg, sizeof(msg) - 1) < 0) { /* aborting anyway */ }
      abort();
    }
    atomic_store_explicit(&_libc_state, 2, memory_order_release);
    return &_libc;
  }
  while (atomic_load_explicit(&_libc_state, memory_order_acquire) != 2) sched_yield();
  return &_libc;
}
#endif

static bool env_flag(const char* name, int* out) {
  const char* v = getenv(name);
  if (v == NULL || v[0] == 0) return false;
  *out = !(v[0] == '0' || v[0] == 'n' || v[0] == 'N' || v[0] == 'f' || v[0] == 'F');
  return true;
}

/* A decimal number; anything else leaves *out as it is. */
static void env_number(const char* name, uint64_t* out) {
  const char* v = getenv(name);
  if (v == NULL || v[0] == 0) return;
  char* end;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end == 0) *out = n;
}

static void read_environment(void) {
  env_flag("HAKMEM_WRAP_TINY", &_hak_options.wrap_tiny);
  env_flag("HAKMEM_VERBOSE", &_hak_options.verbose);
  env_flag("HAKMEM_PURGE_THREAD", &_hak_options.purge_thread);
  uint64_t limit = _hak_options.purge_limit;
  env_number("HAKMEM_PURGE_LIMIT", &limit);
  _hak_options.purge_limit = (size_t)limit;
  env_number("HAKMEM_PURGE_DELAY_MS", &_hak_options.purge_delay_ms);
  env_number("HAKMEM_QUARANTINE", &_hak_options.quarantine);
  if (_hak_options.quarantine > HAK_HD_QUARANTINE_MAX) _hak_options.quarantine = HAK_HD_QUARANTINE_MAX;
  const char* path = getenv("HAKMEM_STATS");
  if (path != NULL && path[0] != 0 && strlen(path) < sizeof(_stats_path)) {
    strcpy(_stats_path, path);
    _hak_options.stats_path = _stats_path;
  }
}

/* fork: every lock is taken before and released after, so the child starts with none held
 * by a thread that does not exist there. */
static void fork_prepare(void) {
  _hak_heaps_lock();
#if HAK_MID_POOL
  _hak_mid_pool_lock();
#endif
#if HAK_TINY_CACHE_BLOCKS
  _hak_tiny_pool_lock();
#endif
  _hak_segments_lock();
  _hak_large_lock();
  _hak_registry_fork_lock();
}

static void fork_parent(void) {
  _hak_registry_fork_unlock();
  _hak_large_unlock();
  _hak_segments_unlock();
#if HAK_TINY_CACHE_BLOCKS
  _hak_tiny_pool_unlock();
#endif
#if HAK_MID_POOL
  _hak_mid_pool_unlock();
#endif
  _hak_heaps_unlock();
}

static void fork_child(void) {
  _hak_purge_thread_fork_child();
  _hak_registry_fork_unlock();
  _hak_large_reset_lock();
  _hak_segments_reset_lock();
#if HAK_MID_POOL
  _hak_mid_pool_reset_lock();
#endif
#if HAK_TINY_CACHE_BLOCKS
  _hak_tiny_pool_reset_lock();
#endif
  _hak_heaps_reset_lock();
}

static int segmap_compact(void) {
#if HAK_SUPERSLAB
  return _hak_segmap_compact;
#else
  return 0;
#endif
}

static void print_config(void) {
  char line[256];
  int n = snprintf(line, sizeof(line),
                   "hakmem %s: direct-cache=%d dual-lists=%d superslab=%d%s wrap-tiny=%d (compiled %d) stats=%d\n",
                   HAKMEM_VERSION, HAK_DIRECT_CACHE, HAK_DUAL_LISTS, HAK_SUPERSLAB,
                   segmap_compact() ? " (compact map: address-space limit)" : "",
                   _hak_options.wrap_tiny, HAK_WRAP_TINY, HAK_STATS);
  if (n > 0 && write(2, line, (size_t)n) < 0) { /* nothing to do about it */ }
}

void _hak_init(void) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&_hak_init_state, &expected, 1)) {
    _initializing = true;
#if HAK_OVERRIDE
    (void)_hak_libc();              /* before anything here allocates through glibc */
#endif
    read_environment();
#if HAK_SUPERSLAB
    _hak_segmap_choose(_hak_os_as_limit_refresh());
#else
    _hak_os_as_limit_refresh();
#endif
    _hak_heap_thread_key_create();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atomic_store_explicit(&_hak_init_state, 2, memory_order_release);
    _initializing = false;
    if (_hak_options.verbose) print_config();
    return;
  }
  while (atomic_load_explicit(&_hak_init_state, memory_order_acquire) != 2) sched_yield();
}

void hak_config(hak_config_t* out) {
  if (atomic_load_explicit(&_hak_init_state, memory_order_acquire) != 2 && !_hak_in_init()) _hak_init();
  out->direct_cache = HAK_DIRECT_CACHE;
  out->dual_lists = HAK_DUAL_LISTS;
  out->superslab = HAK_SUPERSLAB;
  out->wrap_tiny = _hak_options.wrap_tiny;
  out->wrap_tiny_compiled = HAK_WRAP_TINY;
  out->stats = HAK_STATS;
  out->tiny_max = HAK_TINY_MAX;
  out->mid_max = HAK_MID_MAX;
  out->harden = HAK_HARDEN;
  out->mid_cache_slots = HAK_MID_CACHE_SLOTS;
  out->tiny_cache_blocks = HAK_TINY_CACHE_BLOCKS;
  out->segmap_compact = segmap_compact();
}

__attribute__((constructor)) static void hak_start(void) {
  if (atomic_load_explicit(&_hak_init_state, memory_order_acquire) == 0) _hak_init();
}

__attribute__((destructor)) static void hak_finish(void) { _hak_stats_dump_at_exit(); }
