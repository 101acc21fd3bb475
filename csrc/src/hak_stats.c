/* Counters: per-heap while a thread lives, merged into global totals when it exits, summed
 * over both for a report. Written as JSON at exit when HAKMEM_STATS names a file. */
#include "hak_internal.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic(uint64_t) _global_always[HAK_STAT_ALWAYS_COUNT];
#if HAK_STATS >= 1
static _Atomic(uint64_t) _global_tier[3][HAK_TIER_COUNT];       /* allocs, frees, bytes */
#endif
#if HAK_STATS >= 2
static _Atomic(uint64_t) _global_class[2][HAK_CLASS_COUNT];     /* allocs, frees */
#endif

static const char* const _always_names[HAK_STAT_ALWAYS_COUNT] = {
  "tinyPagesCarved", "midPagesCarved",
  "largeAllocs", "largeBytes", "largeCacheHits", "largeMaps", "largeUnmaps",
  "tinyRefills", "tinyBlocksSupplied", "midRefills", "midBlocksSupplied",
  "segmentsMapped", "segmentsUnmapped", "pagesPurged",
  "libcMallocTiny", "libcMallocTinyBytes", "libcMallocOther", "libcFree",
  "remoteFrees", "heapsAbandoned", "segmentsAdopted", "segmentsReclaimed",
  "segmentsReused", "segmentsPurged", "midBatchesShared", "midBatchesTaken",
  "tinyBatchesShared", "tinyBatchesTaken",
};

void _hak_stat_global_add(int which, uint64_t n) {
  atomic_fetch_add_explicit(&_global_always[which], n, memory_order_relaxed);
}

/* A free by a thread that has no heap (it never allocated). */
void _hak_stat_global_free(const hak_page_t* page) {
#if HAK_STATS >= 1
  atomic_fetch_add_explicit(&_global_tier[1][page->tier], 1, memory_order_relaxed);
#endif
#if HAK_STATS >= 2
  if (page->tier != HAK_TIER_LARGE) atomic_fetch_add_explicit(&_global_class[1][page->class_idx], 1, memory_order_relaxed);
#endif
  (void)page;
}

static uint64_t load(hak_counter_t* c) { return atomic_load_explicit(c, memory_order_relaxed); }

void _hak_stats_merge_heap(hak_heap_t* heap) {
  for (int i = 0; i < HAK_STAT_ALWAYS_COUNT; i++) _hak_stat_global_add(i, load(&heap->stats.always[i]));
#if HAK_STATS >= 1
  for (int t = 0; t < HAK_TIER_COUNT; t++) {
    atomic_fetch_add_explicit(&_global_tier[0][t], load(&heap->stats.tier_allocs[t]), memory_order_relaxed);
    atomic_fetch_add_explicit(&_global_tier[1][t], load(&heap->stats.tier_frees[t]), memory_order_relaxed);
    atomic_fetch_add_explicit(&_global_tier[2][t], load(&heap->stats.tier_bytes[t]), memory_order_relaxed);
  }
#endif
#if HAK_STATS >= 2
  for (int c = 0; c < HAK_CLASS_COUNT; c++) {
    atomic_fetch_add_explicit(&_global_class[0][c], load(&heap->stats.class_allocs[c]), memory_order_relaxed);
    atomic_fetch_add_explicit(&_global_class[1][c], load(&heap->stats.class_frees[c]), memory_order_relaxed);
  }
#endif
}

typedef struct snapshot_s {
  uint64_t always[HAK_STAT_ALWAYS_COUNT];
  uint64_t tier[3][HAK_TIER_COUNT];
  uint64_t cls[2][HAK_CLASS_COUNT];
} snapshot_t;

static void snapshot(snapshot_t* s) {
  memset(s, 0, sizeof(*s));
  for (int i = 0; i < HAK_STAT_ALWAYS_COUNT; i++) s->always[i] = atomic_load_explicit(&_global_always[i], memory_order_relaxed);
#if HAK_STATS >= 1
  for (int k = 0; k < 3; k++)
    for (int t = 0; t < HAK_TIER_COUNT; t++) s->tier[k][t] = atomic_load_explicit(&_global_tier[k][t], memory_order_relaxed);
#endif
#if HAK_STATS >= 2
  for (int k = 0; k < 2; k++)
    for (int c = 0; c < HAK_CLASS_COUNT; c++) s->cls[k][c] = atomic_load_explicit(&_global_class[k][c], memory_order_relaxed);
#endif
  _hak_heaps_lock();
  for (hak_heap_t* heap = _hak_heaps_first(); heap != NULL; heap = heap->live_next) {
    for (int i = 0; i < HAK_STAT_ALWAYS_COUNT; i++) s->always[i] += load(&heap->stats.always[i]);
#if HAK_STATS >= 1
    for (int t = 0; t < HAK_TIER_COUNT; t++) {
      s->tier[0][t] += load(&heap->stats.tier_allocs[t]);
      s->tier[1][t] += load(&heap->stats.tier_frees[t]);
      s->tier[2][t] += load(&heap->stats.tier_bytes[t]);
    }
#endif
#if HAK_STATS >= 2
    for (int c = 0; c < HAK_CLASS_COUNT; c++) {
      s->cls[0][c] += load(&heap->stats.class_allocs[c]);
      s->cls[1][c] += load(&heap->stats.class_frees[c]);
    }
#endif
  }
  _hak_heaps_unlock();
}

void hak_stats_get(hak_stats_t* out) {
  snapshot_t s;
  snapshot(&s);
  memset(out, 0, sizeof(*out));
  /* hak_stats_always_t lists the counters in the order of the HAK_STAT_* enum */
  _Static_assert(sizeof(hak_stats_always_t) == HAK_STAT_ALWAYS_COUNT * sizeof(uint64_t), "counter lists agree");
  memcpy(&out->always, s.always, sizeof(out->always));
  out->level = HAK_STATS;
  for (int t = 0; t < HAK_TIER_COUNT; t++) {
    out->tiers[t].allocs = s.tier[0][t];
    out->tiers[t].frees = s.tier[1][t];
    out->tiers[t].bytes = s.tier[2][t];
  }
}

/* ---------------------------------------------------------------- JSON */

typedef struct out_s { char* buf; size_t size; size_t len; } out_t;

static void put(out_t* o, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t* o, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char* dst = o->len < o->size ? o->buf + o->len : NULL;
  int n = vsnprintf(dst, dst != NULL ? o->size - o->len : 0, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n;
}

static const char* json_bool(int v) { return v ? "true" : "false"; }

size_t hak_stats_json(char* buf, size_t size) {
  snapshot_t s;
  snapshot(&s);
  hak_config_t cfg;
  hak_config(&cfg);
  out_t o = { buf, size, 0 };
  put(&o, "{\"format\":1,\"pid\":%ld,", (long)getpid());
  put(&o, "\"config\":{\"directCache\":%s,\"dualLists\":%s,\"superslab\":%s,\"wrapTiny\":%s,"
          "\"wrapTinyCompiled\":%s,\"stats\":%d,\"tinyMax\":%zu,\"midMax\":%zu,\"segmapCompact\":%s},",
      json_bool(cfg.direct_cache), json_bool(cfg.dual_lists), json_bool(cfg.superslab),
      json_bool(cfg.wrap_tiny), json_bool(cfg.wrap_tiny_compiled), cfg.stats, cfg.tiny_max, cfg.mid_max,
      json_bool(cfg.segmap_compact));
  put(&o, "\"always\":{");
  for (int i = 0; i < HAK_STAT_ALWAYS_COUNT; i++) {
    put(&o, "%s\"%s\":%llu", i ? "," : "", _always_names[i], (unsigned long long)s.always[i]);
  }
  put(&o, "},");
  if (HAK_STATS >= 1) {
    static const char* const tier_names[HAK_TIER_COUNT] = { "tiny", "mid", "large" };
    put(&o, "\"tiers\":{");
    for (int t = 0; t < HAK_TIER_COUNT; t++) {
      put(&o, "%s\"%s\":{\"allocs\":%llu,\"frees\":%llu,\"bytes\":%llu}", t ? "," : "", tier_names[t],
          (unsigned long long)s.tier[0][t], (unsigned long long)s.tier[1][t], (unsigned long long)s.tier[2][t]);
    }
    put(&o, "},");
  } else {
    put(&o, "\"tiers\":null,");
  }
  if (HAK_STATS >= 2) {
    put(&o, "\"classes\":[");
    for (int c = 0; c < HAK_CLASS_COUNT; c++) {
      put(&o, "%s{\"tier\":\"%s\",\"size\":%u,\"allocs\":%llu,\"frees\":%llu}", c ? "," : "",
          c < HAK_TINY_CLASSES ? "tiny" : "mid", _hak_class_size[c],
          (unsigned long long)s.cls[0][c], (unsigned long long)s.cls[1][c]);
    }
    put(&o, "]}");
  } else {
    put(&o, "\"classes\":null}");
  }
  if (size > 0) buf[o.len < size ? o.len : size - 1] = 0;
  return o.len;
}

/* HAKMEM_STATS=<path>: "%p" becomes the pid (for programs that fork or exec children). The
 * file is written beside its final name and renamed, so a reader sees all of it or none. */
void _hak_stats_dump_at_exit(void) {
  const char* pattern = _hak_options.stats_path;
  if (pattern == NULL) return;
  char path[4096], tmp[4160];
  size_t n = 0;
  for (const char* c = pattern; *c != 0 && n + 24 < sizeof(path); c++) {
    if (c[0] == '%' && c[1] == 'p') {
      n += (size_t)snprintf(path + n, sizeof(path) - n, "%ld", (long)getpid());
      c++;
    } else {
      path[n++] = *c;
    }
  }
  path[n] = 0;
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  static char json[16384];
  size_t len = hak_stats_json(json, sizeof(json));
  if (len >= sizeof(json)) return;
  json[len++] = '\n';
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  bool ok = write(fd, json, len) == (ssize_t)len;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) unlink(tmp);
}
