# Benchmark programs. Included by csrc/Makefile, which defines CC and BUILD; paths are
# relative to csrc/. The programs do not link hakmem: the allocator under test comes from
# LD_PRELOAD, so one binary measures glibc, mimalloc, jemalloc, tcmalloc or hakmem.

BENCH_PROGRAMS := random_mixed tiny_hot quick_wins mid_large_mt larson fragment_stress \
                  producer_consumer thread_churn cross_thread large_churn stress_exchange \
                  working_set larson_cxx stress_rounds slot_churn \
                  cache_scratch

BENCH_COMMON_SRC := bench/bench_common.c bench/bench_churn.c
BENCH_COMMON_HDR := bench/bench_common.h bench/bench_churn.h

# -fno-builtin-*: the compiler must not merge or remove malloc/free pairs, or the
# benchmarks would measure less allocator work than they claim. -gdwarf-4: valgrind 3.19
# cannot read clang 14's default DWARF 5, and callgrind counts must work with either compiler.
BENCH_CFLAGS := -std=c11 -O2 -g -gdwarf-4 -Wall -Wextra -D_GNU_SOURCE -pthread \
                -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc
BENCH_LDLIBS := -lpthread -lm

# Built into a temporary name and renamed, so an interrupted build leaves no program behind.
$(BUILD)/bench/%: bench/%.c $(BENCH_COMMON_SRC) $(BENCH_COMMON_HDR) bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@.tmp $< $(BENCH_COMMON_SRC) $(BENCH_LDLIBS)
	@mv -f $@.tmp $@

# A C++ build of a program: its C sources compiled with BENCH_CXX_NEW, so its measured calls are
# operator new and sized operator delete (bench/cxx_new.cc), linked by the C compiler's C++
# sibling with libstdc++.
BENCH_CXX := $(if $(filter clang,$(notdir $(CC))),clang++,g++)
BENCH_CXXFLAGS := -std=c++17 -fsized-deallocation -O2 -g -gdwarf-4 -Wall -Wextra
$(BUILD)/bench/%_cxx: bench/%.c bench/cxx_new.cc $(BENCH_COMMON_SRC) $(BENCH_COMMON_HDR) bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DBENCH_CXX_NEW -c -o $@.main.o $<
	$(CC) $(BENCH_CFLAGS) -DBENCH_CXX_NEW -c -o $@.common.o bench/bench_common.c
	$(CC) $(BENCH_CFLAGS) -DBENCH_CXX_NEW -c -o $@.churn.o bench/bench_churn.c
	$(BENCH_CXX) $(BENCH_CXXFLAGS) -c -o $@.new.o bench/cxx_new.cc
	$(BENCH_CXX) -pthread -o $@.tmp $@.main.o $@.common.o $@.churn.o $@.new.o $(BENCH_LDLIBS)
	@rm -f $@.main.o $@.common.o $@.churn.o $@.new.o
	@mv -f $@.tmp $@
