/*
 * Argument parsing, memory-check failures, threads, timing and the result line shared by
 * the benchmark programs. Nothing here runs per operation except through the inline
 * helpers of bench_common.h; these are the slow and once-per-run parts.
 */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const bench_cli_t *bench_cli; /* registered by bench_parse_args */

static const char *bench_program(void) {
  return bench_cli != NULL ? bench_cli->program : "bench";
}

/* ---------------------------------------------------------------- arguments */

static void bench_usage_line(const bench_cli_t *cli, FILE *out) {
  fprintf(out, "usage: %s", cli->program);
  for (size_t i = 0; i < cli->nargs; i++) {
    const bench_arg_t *a = &cli->args[i];
    if (i < cli->required) {
      fprintf(out, " <%s>", a->name);
    } else if (a->choices != NULL) {
      fprintf(out, " [%s=%s]", a->name, a->choices[a->def]);
    } else {
      fprintf(out, " [%s=%lld]", a->name, a->def);
    }
  }
  fputc('\n', out);
}

static void bench_print_usage(const bench_cli_t *cli, FILE *out) {
  bench_usage_line(cli, out);
  fprintf(out, "\n%s\n\narguments (positional, in this order):\n", cli->summary);
  for (size_t i = 0; i < cli->nargs; i++) {
    const bench_arg_t *a = &cli->args[i];
    fprintf(out, "  %-10s %s", a->name, a->help);
    if (a->choices != NULL) {
      fputs(": one of", out);
      for (size_t c = 0; a->choices[c] != NULL; c++) fprintf(out, " %s", a->choices[c]);
    } else {
      fprintf(out, " (%lld..%lld)", a->min, a->max);
    }
    fputc('\n', out);
  }
  fputs("\noutput: human text, then one JSON object as the last line of stdout\n"
        "  (bench, params, ops, seconds, opsPerSec, peakRssKb, checksum, verifiedBlocks,\n"
        "  allocatorHint = LD_PRELOAD or null). The allocator is whatever LD_PRELOAD names.\n"
        "exit codes: 0 success, 2 bad argument, 3 memory corruption detected,\n"
        "  4 allocation failure\n",
        out);
}

void bench_arg_error(const bench_cli_t *cli, size_t index, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: bad argument '%s': ", cli->program, cli->args[index].name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see %s --help)\n", cli->program);
  exit(BENCH_EXIT_USAGE);
}

static void bench_parse_one(const bench_cli_t *cli, size_t index, const char *text) {
  bench_arg_t *a = &cli->args[index];
  if (a->choices != NULL) {
    for (size_t c = 0; a->choices[c] != NULL; c++) {
      if (strcmp(text, a->choices[c]) == 0) {
        a->value = (long long)c;
        return;
      }
    }
    fprintf(stderr, "%s: bad argument '%s': unknown value '%s'; expected one of", cli->program,
            a->name, text);
    for (size_t c = 0; a->choices[c] != NULL; c++) fprintf(stderr, " %s", a->choices[c]);
    fprintf(stderr, " (see %s --help)\n", cli->program);
    exit(BENCH_EXIT_USAGE);
  }
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || v < a->min || v > a->max) {
    bench_arg_error(cli, index, "expected an integer in [%lld, %lld], got '%s'", a->min, a->max,
                    text);
  }
  a->value = v;
}

void bench_parse_args(bench_cli_t *cli, int argc, char **argv) {
  bench_cli = cli;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      bench_print_usage(cli, stdout);
      exit(0);
    }
  }
  size_t given = argc > 0 ? (size_t)(argc - 1) : 0;
  if (given > cli->nargs) {
    fprintf(stderr, "%s: too many arguments: %zu given, at most %zu (see %s --help)\n",
            cli->program, given, cli->nargs, cli->program);
    exit(BENCH_EXIT_USAGE);
  }
  if (given < cli->required) {
    fprintf(stderr, "%s: missing argument '%s' (see %s --help)\n", cli->program,
            cli->args[given].name, cli->program);
    exit(BENCH_EXIT_USAGE);
  }
  for (size_t i = 0; i < cli->nargs; i++) {
    cli->args[i].value = cli->args[i].def;
    if (i < given) bench_parse_one(cli, i, argv[i + 1]);
  }
}

void bench_require_order(const bench_cli_t *cli, size_t lo, size_t hi) {
  if (cli->args[hi].value < cli->args[lo].value) {
    bench_arg_error(cli, hi, "must be >= %s (%lld), got %lld", cli->args[lo].name,
                    cli->args[lo].value, cli->args[hi].value);
  }
}

void bench_require_power_of_two(const bench_cli_t *cli, size_t index) {
  const long long v = cli->args[index].value;
  if ((v & (v - 1)) != 0) bench_arg_error(cli, index, "must be a power of two, got %lld", v);
}

/* ---------------------------------------------------------------- random numbers, digest */

static uint64_t bench_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

uint32_t bench_rng_seed(uint64_t seed, uint32_t stream) {
  uint64_t x = bench_mix64(seed * 0x9e3779b97f4a7c15ull + stream + 1);
  uint32_t s = (uint32_t)(x ^ (x >> 32));
  return s != 0 ? s : 0x6d2b79f5u; /* xorshift32 would stay at zero forever */
}

uint64_t bench_digest_finish(uint64_t h) {
  return bench_mix64(h);
}

/* ---------------------------------------------------------------- memory checks */

static _Thread_local uint64_t bench_thread_verified;
static _Atomic uint64_t bench_published_verified;

void bench_publish_verified(void) {
  atomic_fetch_add_explicit(&bench_published_verified, bench_thread_verified,
                            memory_order_relaxed);
  bench_thread_verified = 0;
}

void bench_count_verified(uint64_t blocks) {
  bench_thread_verified += blocks;
}

uint64_t bench_verified_count(void) {
  return atomic_load_explicit(&bench_published_verified, memory_order_relaxed) +
         bench_thread_verified;
}

/* A failure ends the process at once: other threads may still be calling the allocator,
 * so exit handlers and destructors (the allocator's own included) must not run. */
void bench_die(int code) {
  fflush(stdout);
  _exit(code);
}

void bench_fail_nomem(size_t size) {
  fprintf(stderr, "%s: allocation failure: " BENCH_NOMEM_FORMAT "\n", bench_program(), size);
  bench_die(BENCH_EXIT_NOMEM);
}

void bench_fail_slot_address(const void *p) {
  fprintf(stderr, "%s: malloc returned %p, above 2^48: no room for a slot's check bits\n", bench_program(), p);
  bench_die(BENCH_EXIT_NOMEM);
}

void bench_check_tag_sums(uint64_t freed, uint64_t allocated) {
  if (freed == allocated) return;
  fprintf(stderr, "%s: memory corruption detected: the tags of the blocks freed sum to %016" PRIx64
                  ", those allocated to %016" PRIx64 "\n", bench_program(), freed, allocated);
  bench_die(BENCH_EXIT_CORRUPT);
}

void bench_fail_word(const void *p, size_t size, uint64_t slot, const char *what, size_t offset,
                     uint64_t expected, uint64_t found) {
  fprintf(stderr,
          "%s: memory corruption detected: slot %" PRIu64 ", block of %zu bytes at %p: %s at "
          "offset %zu reads 0x%016" PRIx64 ", expected 0x%016" PRIx64
          " (the allocator returned memory that something else overwrote)\n",
          bench_program(), slot, size, p, what, offset, found, expected);
  bench_die(BENCH_EXIT_CORRUPT);
}

void bench_fail_tag(const void *p, size_t size, uint64_t tag, uint64_t slot) {
  bench_fail_word(p, size, slot, "start tag", 0, tag, bench_load_word(p));
}

/* Two words at a time through 16-byte vectors: a sampled block costs about one store per
 * 16 bytes to fill and three instructions per 16 bytes to verify. The vectors stop short of
 * the last word (which may be unaligned), one more word closes most of the gap. */
typedef uint64_t bench_v2 __attribute__((vector_size(16)));

/* Where the block's last word goes: its last 8 bytes, or the start word itself in a block
 * of less than 16 bytes, where the two would overlap. */
static size_t bench_last_word_offset(size_t size) {
  return size >= 2 * sizeof(uint64_t) ? size - sizeof(uint64_t) : 0;
}

static size_t bench_fill_span(size_t size) {
  return bench_last_word_offset(size) & ~(size_t)15;
}

static int bench_fill_has_word(size_t size, size_t span) {
  return span + 2 * sizeof(uint64_t) <= size;
}

static void bench_fill(void *p, size_t size, uint64_t tag) {
  char *b = p;
  const bench_v2 v = {tag, tag};
  size_t span = bench_fill_span(size);
  memcpy(b, &tag, sizeof tag);
  for (size_t i = 0; i < span; i += 16) memcpy(b + i, &v, sizeof v);
  if (bench_fill_has_word(size, span)) memcpy(b + span, &tag, sizeof tag);
  memcpy(b + bench_last_word_offset(size), &tag, sizeof tag);
}

static void bench_verify_fill(const void *p, size_t size, uint64_t tag, uint64_t slot) {
  const char *b = p;
  const bench_v2 v = {tag, tag};
  bench_v2 diff = {0, 0};
  size_t span = bench_fill_span(size);
  for (size_t i = 0; i < span; i += 16) {
    bench_v2 w;
    memcpy(&w, b + i, sizeof w);
    diff |= w ^ v;
  }
  if (bench_fill_has_word(size, span)) {
    uint64_t w;
    memcpy(&w, b + span, sizeof w);
    diff[0] |= w ^ tag;
  }
  const size_t last = bench_last_word_offset(size);
  diff[1] |= bench_load_word(b + last) ^ tag;
  if (bench_unlikely((diff[0] | diff[1]) != 0)) {
    size_t words_end = bench_fill_has_word(size, span) ? span + sizeof tag : span;
    for (size_t i = 0; i < words_end; i += sizeof tag) {
      uint64_t w;
      memcpy(&w, b + i, sizeof w);
      if (w != tag) bench_fail_word(p, size, slot, "pattern word", i, tag, w);
    }
    bench_fail_word(p, size, slot, "last word", last, tag, bench_load_word(b + last));
  }
  bench_thread_verified++;
}

void *bench_alloc_filled(size_t size, uint64_t tag) {
  void *p = bench_malloc(size);
  if (bench_unlikely(p == NULL)) bench_fail_nomem(size);
  bench_fill(p, size, tag);
  return p;
}

uint64_t bench_free_verified(void *p, size_t size, uint64_t tag, uint64_t slot) {
  if (bench_unlikely(bench_load_word(p) != tag)) bench_fail_tag(p, size, tag, slot);
  bench_verify_fill(p, size, tag, slot);
  bench_release(p, size);
  return tag;
}

/* ---------------------------------------------------------------- threads, bookkeeping */

void bench_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
  int err = pthread_create(thread, NULL, fn, arg);
  if (err != 0) {
    fprintf(stderr, "%s: cannot start a thread: %s\n", bench_program(), strerror(err));
    bench_die(BENCH_EXIT_NOMEM);
  }
}

void bench_thread_join(pthread_t thread) {
  int err = pthread_join(thread, NULL);
  if (err != 0) {
    fprintf(stderr, "%s: cannot join a thread: %s\n", bench_program(), strerror(err));
    bench_die(BENCH_EXIT_NOMEM);
  }
}

typedef struct bench_member_s {
  void *(*fn)(void *);
  void *arg;
} bench_member_t;

static pthread_barrier_t bench_team_start, bench_team_stop;

static void bench_barrier_wait(pthread_barrier_t *b) {
  int err = pthread_barrier_wait(b);
  if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD) {
    fprintf(stderr, "%s: barrier failed: %s\n", bench_program(), strerror(err));
    bench_die(BENCH_EXIT_NOMEM);
  }
}

void bench_team_begin(void) {
  bench_barrier_wait(&bench_team_start);
}

void bench_team_end(void) {
  bench_barrier_wait(&bench_team_stop);
}

static void *bench_member_main(void *p) {
  bench_member_t *m = p;
  m->fn(m->arg);
  bench_publish_verified();
  return NULL;
}

double bench_run_team(unsigned n, void *(*fn)(void *), void *args, size_t stride) {
  pthread_t *threads = bench_calloc(n, sizeof *threads);
  bench_member_t *members = bench_calloc(n, sizeof *members);
  if (pthread_barrier_init(&bench_team_start, NULL, n + 1) != 0 ||
      pthread_barrier_init(&bench_team_stop, NULL, n + 1) != 0) {
    fprintf(stderr, "%s: cannot create a barrier for %u threads\n", bench_program(), n);
    bench_die(BENCH_EXIT_NOMEM);
  }
  for (unsigned i = 0; i < n; i++) {
    members[i].fn = fn;
    members[i].arg = (char *)args + (size_t)i * stride;
    bench_thread_start(&threads[i], bench_member_main, &members[i]);
  }
  bench_barrier_wait(&bench_team_start);
  double t0 = bench_now();
  bench_barrier_wait(&bench_team_stop);
  double t1 = bench_now();
  for (unsigned i = 0; i < n; i++) bench_thread_join(threads[i]);
  pthread_barrier_destroy(&bench_team_start);
  pthread_barrier_destroy(&bench_team_stop);
  free(members);
  free(threads);
  return t1 - t0;
}

void *bench_calloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (p == NULL) bench_fail_nomem(n * size);
  return p;
}

/* ---------------------------------------------------------------- timing, result */

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* VmHWM rather than getrusage's ru_maxrss: Linux carries ru_maxrss across execve, so a program
   started by a large parent (node forks itself to spawn one) would report the parent's footprint
   as its own floor. read(2) into a stack buffer: stdio would malloc from the allocator measured. */
static long bench_status_kb(const char *name) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[8192];
  size_t len = 0;
  ssize_t got;
  while (len < sizeof buf - 1 && (got = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)got;
  close(fd);
  buf[len] = '\0';
  const char *field = strstr(buf, name);
  long kb = -1;
  if (field == NULL || sscanf(field + strlen(name), " %ld kB", &kb) != 1) return -1;
  return kb;
}

long bench_rss_kb(void) {
  return bench_status_kb("VmRSS:");
}

long bench_peak_rss_kb(void) {
  long hwm = bench_status_kb("VmHWM:");
  if (hwm >= 0) return hwm;
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return ru.ru_maxrss; /* kilobytes on Linux */
}

static long bench_result_peak_kb(const bench_result_t *r) {
  return r->peak_rss_kb > 0 ? r->peak_rss_kb : bench_peak_rss_kb();
}

typedef struct bench_json_s {
  char *buf;
  size_t cap;
  size_t len;
} bench_json_t;

static void bench_json_add(bench_json_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bench_json_add(bench_json_t *j, const char *fmt, ...) {
  if (j->len >= j->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
  va_end(ap);
  if (n > 0) j->len += (size_t)n;
  if (j->len >= j->cap) j->len = j->cap; /* truncated; the caller's buffer was too small */
}

static void bench_json_string(bench_json_t *j, const char *s) {
  bench_json_add(j, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
    if (*c == '"' || *c == '\\')
      bench_json_add(j, "\\%c", *c);
    else if (*c < 0x20)
      bench_json_add(j, "\\u%04x", *c);
    else
      bench_json_add(j, "%c", *c);
  }
  bench_json_add(j, "\"");
}

double bench_ops_per_sec(const bench_result_t *r) {
  double seconds = r->seconds > 1e-9 ? r->seconds : 1e-9; /* never divide by zero */
  return (double)r->ops / seconds;
}

size_t bench_format_result(char *buf, size_t cap, const bench_result_t *r) {
  bench_json_t j = {buf, cap, 0};
  const bench_cli_t *cli = bench_cli;
  bench_json_add(&j, "{\"bench\":");
  bench_json_string(&j, bench_program());
  bench_json_add(&j, ",\"params\":{");
  for (size_t i = 0; cli != NULL && i < cli->nargs; i++) {
    const bench_arg_t *a = &cli->args[i];
    bench_json_add(&j, "%s\"%s\":", i > 0 ? "," : "", a->name);
    if (a->choices != NULL)
      bench_json_string(&j, a->choices[a->value]);
    else
      bench_json_add(&j, "%lld", a->value);
  }
  bench_json_add(&j,
                 "},\"ops\":%" PRIu64 ",\"seconds\":%.9f,\"opsPerSec\":%.1f,\"peakRssKb\":%ld,"
                 "\"checksum\":\"%016" PRIx64 "\",\"verifiedBlocks\":%" PRIu64
                 ",\"allocatorHint\":",
                 r->ops, r->seconds, bench_ops_per_sec(r), bench_result_peak_kb(r), r->checksum,
                 r->verified);
  const char *preload = getenv("LD_PRELOAD");
  if (preload != NULL && preload[0] != '\0')
    bench_json_string(&j, preload);
  else
    bench_json_add(&j, "null");
  if (r->extra != NULL && r->extra[0] != '\0') bench_json_add(&j, ",%s", r->extra);
  bench_json_add(&j, "}");
  return j.len;
}

void bench_report(const bench_result_t *r) {
  char line[16384];
  bench_format_result(line, sizeof line, r);
  printf("%s: %" PRIu64 " ops in %.4f s, %.2f M ops/s, peak RSS %ld KiB, checksum %016" PRIx64
         "\n%s\n",
         bench_program(), r->ops, r->seconds, bench_ops_per_sec(r) / 1e6, bench_result_peak_kb(r),
         r->checksum, line);
  fflush(stdout);
}
