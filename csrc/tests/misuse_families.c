/* Heap misuse by family, through plain malloc and free, for any allocator put in place by
 * LD_PRELOAD (misuse_families.sh runs it under each). Every case runs in a child process; a
 * case the allocator let pass prints NOT_CAUGHT and exits 0. The child's outcome is one of:
 *   stopped   it ended by a signal or a non-zero exit before NOT_CAUGHT (a message and abort,
 *             or a fault in the program's own code, as a PROT_NONE zero-size block gives);
 *   missed    NOT_CAUGHT;
 *   crashed   a fault whose instruction lies in the allocator's library (crashing inside the
 *             allocator is not a detection).
 * Prints one line per case, then "family stopped/total" per family, then "crashed N".
 *   misuse_families [ALLOCATOR_LIBRARY_SUBSTRING]   (the library whose faults count as crashes) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile char sink;
static const char* allocator_library;

static void not_caught(void) {
  ssize_t ignored = write(STDOUT_FILENO, "NOT_CAUGHT\n", 11);
  (void)ignored;
  _exit(0);
}

/* Overflow: a and b neighbours of one size; `by` bytes past a's request, by byte stores or
 * memcpy; both freed. Underflow: `by` bytes before b. */
static void overflow(size_t size, size_t by, int use_memcpy) {
  char* a = malloc(size);
  char* b = malloc(size);
  memset(a, 'a', size);
  memset(b, 'b', size);
  if (use_memcpy) {
    char* src = malloc(size + by);
    memset(src, 'm', size + by);
    memcpy(a, src, size + by);
    free(src);
  } else {
    for (size_t i = 0; i < size + by; i++) ((volatile char*)a)[i] = 'o';
  }
  free(a);
  free(b);
  not_caught();
}

static void underflow(size_t size, size_t by) {
  char* a = malloc(size);
  char* b = malloc(size);
  memset(a, 'a', size);
  for (size_t i = 1; i <= by; i++) ((volatile char*)b)[-(ptrdiff_t)i] = 'u';
  free(b);
  free(a);
  not_caught();
}

/* Zero-size blocks read or written. */
static void zero_access(int how) {
  char* p;
  switch (how) {
    case 0: p = malloc(0); sink = p[0]; break;
    case 1: p = malloc(0); p[0] = 1; break;
    case 2: p = calloc(0, 1); sink = p[0]; break;
    case 3: p = calloc(0, 1); p[0] = 1; break;
    case 4: p = malloc(0); memset(p, 'z', 8); break;
    default: if (posix_memalign((void**)&p, 16, 0) != 0) abort(); p[0] = 1; break;
  }
  free(p);
  not_caught();
}

/* A write after free, then the program goes on allocating and freeing that size. */
static void write_after_free(size_t size, size_t offset) {
  char* p = malloc(size);
  memset(p, 'p', size);
  free(p);
  p[offset] = 'w';
  void* held[64] = {0};
  for (int i = 0; i < 4096; i++) {
    free(held[i % 64]);
    held[i % 64] = malloc(size);
  }
  for (int i = 0; i < 64; i++) free(held[i]);
  not_caught();
}

/* A freed block's old bytes, read through the dangling pointer. */
static void read_after_free(size_t size, size_t offset) {
  char* p = malloc(size);
  memset(p, 's', size);
  free(p);
  if (((volatile char*)p)[offset] == 's') not_caught();
  _exit(1);   /* the bytes are gone: the misuse reads nothing of use */
}

/* Immediate reuse: the next malloc of the size returns the freed block (or a realloc's old one). */
static void immediate_reuse(size_t size, int via_realloc) {
  char* p = malloc(size);
  char* q;
  if (via_realloc) {
    char* r = realloc(p, size * 4);
    if (r == p) _exit(1);   /* grown in place: no old block */
    q = malloc(size);
    free(r);
  } else {
    free(p);
    q = malloc(size);
  }
  if (q == p) not_caught();
  _exit(1);
}

typedef struct { const char* family; const char* name; void (*run)(int); int arg; } probe_t;

static void ovf_case(int k) {
  static const size_t sizes[] = {24, 64, 4000};
  overflow(sizes[k / 4], (k & 2) ? 32 : 1, k & 1);
}
static void udf_case(int k) { underflow(k / 2 ? 4000 : 64, (k & 1) ? 32 : 1); }
static void zero_case(int k) { zero_access(k); }
static void uaf_case(int k) {
  switch (k) {
    case 0: write_after_free(64, 0); break;
    case 1: write_after_free(64, 24); break;
    case 2: write_after_free(4000, 40); break;
    case 3: read_after_free(64, 16); break;
    case 4: read_after_free(200, 40); break;
    default: read_after_free(4000, 56); break;
  }
}
static void reuse_case(int k) {
  static const size_t sizes[] = {16, 64, 1000, 4000};
  if (k < 4) immediate_reuse(sizes[k], 0);
  else immediate_reuse(k == 4 ? 64 : 4000, 1);
}

static const probe_t probes[] = {
  {"overflow/underflow", "24 B by 1, stores", ovf_case, 0},
  {"overflow/underflow", "24 B by 1, memcpy", ovf_case, 1},
  {"overflow/underflow", "24 B by 32, stores", ovf_case, 2},
  {"overflow/underflow", "24 B by 32, memcpy", ovf_case, 3},
  {"overflow/underflow", "64 B by 1, stores", ovf_case, 4},
  {"overflow/underflow", "64 B by 1, memcpy", ovf_case, 5},
  {"overflow/underflow", "64 B by 32, stores", ovf_case, 6},
  {"overflow/underflow", "64 B by 32, memcpy", ovf_case, 7},
  {"overflow/underflow", "4000 B by 1, stores", ovf_case, 8},
  {"overflow/underflow", "4000 B by 1, memcpy", ovf_case, 9},
  {"overflow/underflow", "4000 B by 32, stores", ovf_case, 10},
  {"overflow/underflow", "4000 B by 32, memcpy", ovf_case, 11},
  {"overflow/underflow", "underflow 64 B by 1", udf_case, 0},
  {"overflow/underflow", "underflow 64 B by 32", udf_case, 1},
  {"overflow/underflow", "underflow 4000 B by 1", udf_case, 2},
  {"overflow/underflow", "underflow 4000 B by 32", udf_case, 3},
  {"zero-size", "malloc(0) read", zero_case, 0},
  {"zero-size", "malloc(0) written", zero_case, 1},
  {"zero-size", "calloc(0, 1) read", zero_case, 2},
  {"zero-size", "calloc(0, 1) written", zero_case, 3},
  {"zero-size", "malloc(0), 8 bytes written", zero_case, 4},
  {"zero-size", "posix_memalign(16, 0) written", zero_case, 5},
  {"write/read after free", "64 B written at 0", uaf_case, 0},
  {"write/read after free", "64 B written at 24", uaf_case, 1},
  {"write/read after free", "4000 B written at 40", uaf_case, 2},
  {"write/read after free", "64 B old bytes read at 16", uaf_case, 3},
  {"write/read after free", "200 B old bytes read at 40", uaf_case, 4},
  {"write/read after free", "4000 B old bytes read at 56", uaf_case, 5},
  {"immediate reuse", "16 B", reuse_case, 0},
  {"immediate reuse", "64 B", reuse_case, 1},
  {"immediate reuse", "1000 B", reuse_case, 2},
  {"immediate reuse", "4000 B", reuse_case, 3},
  {"immediate reuse", "realloc's old 64 B block", reuse_case, 4},
  {"immediate reuse", "realloc's old 4000 B block", reuse_case, 5},
};

/* A fault: inside the allocator's library it is a crash (exit 3), else the default action. */
static void on_fault(int sig, siginfo_t* info, void* context) {
  (void)info;
  ucontext_t* uc = context;
  Dl_info where;
  void* pc = (void*)uc->uc_mcontext.gregs[REG_RIP];
  if (allocator_library != NULL && dladdr(pc, &where) != 0 && where.dli_fname != NULL && strstr(where.dli_fname, allocator_library) != NULL) {
    ssize_t ignored = write(STDOUT_FILENO, "CRASHED_IN_ALLOCATOR\n", 21);
    (void)ignored;
    _exit(3);
  }
  signal(sig, SIG_DFL);   /* the faulting instruction runs again and ends the child */
}

enum { STOPPED, MISSED, CRASHED };

static int run_probe(const probe_t* probe) {
  int out[2];
  if (pipe(out) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    dup2(out[1], STDOUT_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    alarm(20);
    probe->run(probe->arg);
    _exit(1);
  }
  close(out[1]);
  char text[256] = {0};
  size_t got = 0;
  ssize_t n;
  while (got < sizeof(text) - 1 && (n = read(out[0], text + got, sizeof(text) - 1 - got)) > 0) got += (size_t)n;
  close(out[0]);
  int status;
  waitpid(pid, &status, 0);
  if (strstr(text, "CRASHED_IN_ALLOCATOR") != NULL) return CRASHED;
  if (strstr(text, "NOT_CAUGHT") != NULL) return MISSED;
  return STOPPED;
}

int main(int argc, char** argv) {
  allocator_library = argc > 1 && argv[1][0] != 0 ? argv[1] : NULL;
  size_t count = sizeof(probes) / sizeof(probes[0]);
  int crashed = 0;
  const char* family = NULL;
  int stopped = 0, total = 0;
  char summary[1024] = {0};
  for (size_t i = 0; i <= count; i++) {
    if (i == count || (family != NULL && strcmp(family, probes[i].family) != 0)) {
      size_t at = strlen(summary);
      snprintf(summary + at, sizeof(summary) - at, "family %s: %d/%d\n", family, stopped, total);
      stopped = total = 0;
    }
    if (i == count) break;
    family = probes[i].family;
    int outcome = run_probe(&probes[i]);
    printf("  %-24s %-32s %s\n", probes[i].family, probes[i].name, outcome == STOPPED ? "stopped" : outcome == MISSED ? "missed" : "CRASHED in the allocator");
    stopped += outcome == STOPPED;
    total++;
    crashed += outcome == CRASHED;
  }
  fputs(summary, stdout);
  printf("crashed %d\n", crashed);
  return 0;
}
