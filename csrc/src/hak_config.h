/* Every compile-time toggle and tunable of hakmem, with its default: what each one does.
 * The figures measured for them, and their history, are in csrc/README.md (Design, Speed,
 * "Measurements behind the defaults"), not here.
 *
 * The Makefile sets the toggles (DIRECT_CACHE=0 becomes -DHAK_DIRECT_CACHE=0, and so on).
 * Each toggle's "off" path is a real implementation of the baseline the design documents
 * measured, so that the gain of each mechanism can be measured instead of assumed.
 */
#ifndef HAK_CONFIG_H
#define HAK_CONFIG_H

/* HAK_DIRECT_CACHE (default 1).
 *   1: a tiny request finds its page with one array index: heap->direct[(size+7)/8].
 *   0: the size is mapped to a class by a binary search over the class table, then the
 *      class's current page is used (about 5 comparisons per malloc). */
#ifndef HAK_DIRECT_CACHE
#define HAK_DIRECT_CACHE 1
#endif

/* HAK_DUAL_LISTS (default 1).
 *   1: a page keeps two lists: free (the owner pops and pushes it, no atomics; a block
 *      the owner frees is the next one it hands out, while its line is still in L1) and
 *      thread_free (frees by other threads, atomic push), which the owner collects with
 *      one atomic exchange per batch when free runs dry.
 *   0: one free list per page; every malloc and free updates it and the page's use
 *      count with atomic operations (lock cmpxchg / lock xadd), whichever thread frees. */
#ifndef HAK_DUAL_LISTS
#define HAK_DUAL_LISTS 1
#endif

/* HAK_SUPERSLAB (default 1).
 *   1: small-object memory comes in 4 MiB segments aligned to 4 MiB; free finds the
 *      segment by masking the pointer and the page by a shift. A byte map of every
 *      4 MiB slot of the address space says which slots are hakmem's.
 *   0: segments are only 64 KiB aligned and free finds a block's page through a global
 *      hash table keyed by 64 KiB chunk (a hash lookup per free). */
#ifndef HAK_SUPERSLAB
#define HAK_SUPERSLAB 1
#endif

/* HAK_WRAP_TINY (default 1): whether the tiny pool serves the malloc override.
 *   1: malloc and free reaching hakmem through the override serve <= 1 KiB from the tiny
 *      pool.
 *   0: called through the override, the tiny pool declines and glibc's allocator
 *      (__libc_malloc) serves every request of <= 1 KiB; hak_malloc() still uses the pool.
 *   Run-time override: HAKMEM_WRAP_TINY=0 or 1. */
#ifndef HAK_WRAP_TINY
#define HAK_WRAP_TINY 1
#endif

/* HAK_STATS (default 0) -- like mimalloc's MI_STAT.
 *   0: nothing is counted on fast paths. Slow-path counters (pages carved, refills,
 *      requests handed to glibc, large allocations, segments) are always kept.
 *   1: also exact allocations, frees and bytes per tier.
 *   2: also allocations and frees per size class. */
#ifndef HAK_STATS
#define HAK_STATS 0
#endif

/* HAK_HARDEN (default 0) -- heap-misuse detection, like mimalloc's secure mode.
 *   1: free-list links are encoded with a per-page secret and checked when popped (a link
 *      must decode into its page's segment); a free checks that the pointer starts a carved
 *      block of its page (one multiplication and one comparison) and that the block is not
 *      free already (double free, in every tier, from any thread: a free block's link carries
 *      a tag, and a tagged block is looked for on its page's lists); a pointer hakmem does not
 *      own is checked before it goes to glibc (stack, globals and unmapped memory are refused);
 *      a large block gets a canary after the requested size, checked at free, and an
 *      inaccessible guard page after its mapping. Small and mid blocks (hak_harden.c):
 *      a request is served from the class of its size plus HAK_HD_ROOM, so every block has
 *      slack after the request: up to HAK_HD_CANARY_MAX bytes of canary right after the
 *      requested size, and the block's last 4 bytes hold the slack, encoded with the page's
 *      secret; free and realloc check both, and the end of the block before (a write
 *      before a block lands there). A freed block is filled with a pattern (its bytes 8 to
 *      HAK_HD_FILL_HEAD and its last word), checked when malloc hands it out again, and
 *      waits in a per-class quarantine ring of the freeing thread (HAK_HD_QUARANTINE
 *      blocks) before it goes back to its page, so the next malloc of its size gets
 *      another block. malloc(0) returns an address in a PROT_NONE region (any access
 *      faults); free and realloc accept it. Each detection prints one line on stderr,
 *      "hakmem: double free of 0x...040 (64-byte block)", and aborts. The fast paths' checks
 *      are in hak_harden.h.
 *   0: no check on fast paths. Slow paths still abort with such a line, instead of
 *      crashing, when they meet an inconsistency (a collected free block outside its page). */
#ifndef HAK_HARDEN
#define HAK_HARDEN 0
#endif

/* Harden's small and mid blocks (hak_harden.h, hak_harden_blocks.c). HAK_HD_ROOM: the bytes
 * a request gets beyond its size (4 for the encoded slack, at least 1 of canary); a request
 * that fills its class takes the next one. HAK_HD_CANARY_MAX: how many bytes after the
 * request hold the canary (one word, written and compared in one access on the fast paths;
 * the rest of the slack is not checked). HAK_HD_FILL_HEAD: a freed block is filled, and
 * checked at reuse, from byte 8 to this one and in its last word (all of a block up to
 * HEAD + 8 bytes; a larger one's middle is not: a constant price per free and malloc, which
 * misses a write deep inside a large free block). HAK_HD_QUARANTINE (default 8): a freed
 * block waits in its freeing thread's ring for its class until this many newer blocks of
 * the class wait behind it; then that thread's next malloc of the class may take it (the
 * ring is its cache, as the tiny and mid caches are without harden). A class's ring holds
 * about HAK_HD_RING_BYTES of blocks (between the setting plus HAK_HD_RING_SPARE and
 * HAK_HD_RING - 1); a full one hands its oldest half (never the blocks still waiting) back
 * to their pages, a mid class's to the shared pool instead: up to HAK_HD_POOL_SLOTS blocks
 * a class and HAK_HD_POOL_BYTES in all, from which a thread whose ring and current page
 * are empty takes them before it looks for other pages (the default build's mid pool, for
 * blocks still filled and marked free). A thread's exit hands its tiny blocks back to their
 * pages and its mid blocks to the pool. Run-time
 * override: HAKMEM_QUARANTINE=<n>, at most HAK_HD_QUARANTINE_MAX (0: no delay and no
 * ring, every free takes the slow path). HAK_HD_ZERO_SPAN: the PROT_NONE region
 * whose 16-byte steps malloc(0) hands out in turn. */
#define HAK_HD_ROOM          5
#define HAK_HD_CANARY_MAX    8
#define HAK_HD_FILL_HEAD     64
#ifndef HAK_HD_QUARANTINE
#define HAK_HD_QUARANTINE    8
#endif
#define HAK_HD_QUARANTINE_MAX 32
#define HAK_HD_RING          64
#ifndef HAK_HD_RING_SPARE
#define HAK_HD_RING_SPARE    16
#endif
#ifndef HAK_HD_RING_BYTES
#define HAK_HD_RING_BYTES    (32u << 10)
#endif
#define HAK_HD_POOL_SLOTS    256
#ifndef HAK_HD_POOL_BYTES
#define HAK_HD_POOL_BYTES    (8u << 20)
#endif
#define HAK_HD_ZERO_SPAN     (64u << 20)

/* HAK_OVERRIDE (default 1): export malloc and friends. Sanitizer builds set 0, since
 * the sanitizer runtime owns malloc; they use the hak_* API. */
#ifndef HAK_OVERRIDE
#define HAK_OVERRIDE 1
#endif

/* HAK_DEBUG (default 0; the Makefile's DEBUG=1 sets it, with -O0): internal assertions and
 * the invariant checkers of hak_check.c, run at the slow paths' transitions; each broken fact
 * aborts after one line "hakmem: invariant broken: <structure> <address>: <fact>". */
#ifndef HAK_DEBUG
#define HAK_DEBUG 0
#endif

/* HAK_FAULTS (default 0; the Makefile's FAULTS=1 sets it): fault injection for the tests of
 * the out-of-memory paths (make check-faults). HAKMEM_FAULT_AT=N makes the Nth call to the
 * OS (map, purge, unmap) fail as the kernel would; nothing else changes. */
#ifndef HAK_FAULTS
#define HAK_FAULTS 0
#endif

/* ---- tunables (not toggles) ---- */

/* Segments: 4 MiB, the unit of memory the small tiers take from the OS. */
#define HAK_SEGMENT_SHIFT    22
/* Superslab's segment map is flat (32 MiB of address space, read by the free fast path) unless
 * the process starts under an address-space limit (RLIMIT_AS, `ulimit -v`) below this, where
 * it is compact (16 KiB leaves, which every free reads out of line): see hak_internal.h. */
#define HAK_SEGMAP_FLAT_MIN_LIMIT ((size_t)4 << 30)
/* Tiny pages are 512 KiB (8 per segment): one page holds 512 blocks of 1 KiB, so a class
 * with that many live blocks keeps one page, and its frees land on the page malloc pops
 * from. Mid pages are 256 KiB (16 per segment): no larger than 4 blocks of the largest class
 * need, since with 24 mid classes per heap a larger page strands more of its touched memory
 * when a class is sparsely used. Pages are carved lazily (HAK_EXTEND_BYTES at a time), so
 * the size costs no memory a thread does not use. */
#define HAK_TINY_PAGE_SHIFT  19
#define HAK_MID_PAGE_SHIFT   18
/* Tier limits: tiny <= 1 KiB, mid <= 64 KiB, large above (mmap-backed). */
#define HAK_TINY_MAX         1024
#define HAK_MID_MAX          65536

/* Fresh blocks are carved from a page lazily, about this many bytes at a time, so a page
 * that serves a few blocks never touches all of its memory. */
#define HAK_EXTEND_BYTES     4096

/* Refill order (default 32 KiB). When a class's current page runs dry, blocks already
 * carved come before fresh ones: the current page's remote frees (collected), then any other
 * page of the class with at least HAK_REFILL_SWITCH_BYTES of free blocks, its own frees or
 * remote ones (it becomes the current page; any amount once the current page has no room
 * left), then exited threads' segments (adopted), and only then fresh blocks of the current
 * page, whose first touch the kernel faults in (a fault per 4 KiB), then the other pages in
 * order, then a new page. The threshold keeps a thread that frees its own blocks in random
 * order from switching pages for a handful of blocks at every refill (a switch rewrites up to
 * 16 entries of the direct cache). */
#ifndef HAK_REFILL_SWITCH_BYTES
#define HAK_REFILL_SWITCH_BYTES (32u << 10)
#endif

/* Cache colours of mid pages: a new mid page's first block starts a multiple of 64 bytes
 * past the page's start, one of HAK_MID_COLORS offsets (0 .. 4032 with 64), different for
 * neighbouring pages and segments; 1 turns colours off. Mid classes from 4 KiB up are
 * multiples of 1 KiB or more, so without colours every block of a page, and the same block
 * of every page, starts on the same few cache sets (a 4 KiB-aligned address can only use
 * set 0 of a 64-set L1, and 32 of an L2's 2048 sets): a working set of a few hundred mid
 * blocks, whose first lines a program touches at each malloc and free, keeps evicting its
 * own heads. A colour costs at most 4 KiB
 * of a page's 256 KiB of address space, none of its memory (the span before the first block
 * is never touched), and is 0 where it would cost a page of fewer than 8 blocks a block. A
 * coloured page's blocks are 64-byte aligned, no more: memalign and friends with a larger
 * alignment take pages whose colour keeps it, and get a page without colour when the class
 * has none. */
#ifndef HAK_MID_COLORS
#define HAK_MID_COLORS 64
#endif

/* Mid cache (hak_midcache.c): a thread keeps the mid blocks it frees, its own or another
 * thread's, in a stack per class (pointers held in the heap, not links in the blocks), and
 * its next malloc of the class takes the most recent one, whose lines are still in cache,
 * without reading the block. Without it a freed mid block goes back to its own page, which
 * is often not the page the class allocates from, so reuse follows the page order and lands
 * on cold blocks, pages fill and empty over and over, and a block freed into a page whose
 * owner no longer allocates is never reused. A class's stack holds at most
 * HAK_MID_CACHE_SLOTS blocks and about HAK_MID_CACHE_BYTES of them (never fewer than 2);
 * a full stack gives its older half away as one batch to a process-wide pool, from which
 * any thread whose stack and current page are empty takes a batch before it looks for
 * other pages or carves fresh memory. The pool keeps at most HAK_MID_POOL_BYTES in all
 * classes; beyond that, blocks go back to their pages. A thread's exit empties its stacks
 * the same way. Blocks in stacks and the pool count as in use in their pages; a thread holds
 * at most about 14 MiB in its stacks (the sum over the 24 classes with the defaults). A full
 * stack's own blocks go to the pool too: sending them back to their pages instead empties
 * pages that are then purged and faulted in again. Compiling with -DHAK_MID_CACHE_SLOTS=0
 * turns the cache off;
 * harden turns it off too, since a block on a stack is not marked free and a second free of
 * it would go unnoticed. */
#ifndef HAK_MID_CACHE_SLOTS
#define HAK_MID_CACHE_SLOTS  64
#endif
#ifndef HAK_MID_CACHE_BYTES
#define HAK_MID_CACHE_BYTES  (1024u << 10)
#endif
#ifndef HAK_MID_POOL_BYTES
#define HAK_MID_POOL_BYTES   (16u << 20)
#endif
#if HAK_HARDEN
#undef HAK_MID_CACHE_SLOTS
#define HAK_MID_CACHE_SLOTS  0
#endif
/* A process-wide pool of freed mid blocks exists: the mid cache's, or harden's (hak_harden.h),
 * which keeps its blocks filled and marked free. Both answer to the _hak_mid_pool_* calls. */
#define HAK_MID_POOL (HAK_MID_CACHE_SLOTS > 0 || HAK_HARDEN)

/* Tiny cache (hak_tinycache.c): each thread keeps a free list per tiny class, linked through
 * the blocks as a page's list is, and free puts any tiny block on it, whichever thread
 * allocated it; malloc takes from it. A block another thread frees is so reused by the
 * thread that freed it, without an atomic operation on the owner's page and without the
 * owner having to collect it. A class's list holds at most HAK_TINY_CACHE_BLOCKS blocks and
 * about HAK_TINY_CACHE_BYTES of them (never fewer than 8): about 530 KiB a thread at most
 * with the defaults. A thread that only frees (one consumer of a producer) holds what its
 * lists hold, which bounds the bytes. An empty list takes up to half its room from the class's current page
 * in one go (the page's order kept); a full one sends the older half back to their pages (a
 * page whose blocks have all come back is released as before), and so does a thread's exit,
 * except the blocks of the pages of another live thread that is idle, which go to the shared
 * tiny pool (below).
 * Blocks on these lists count as in use in their pages. Lists, not arrays of pointers: an
 * array is one more set of lines in L1. A thread's list of a class opens at its first
 * allocation from the class; the blocks of the class it frees before that wait on a stash,
 * which malloc never takes from, and go back to their pages in runs (when the stash holds
 * a list's worth, and when the list opens): a thread whose first act is to free what another
 * allocated for it would otherwise be handed that block by its next malloc, and write to
 * cache lines the other thread's blocks share (passive false sharing).
 * -DHAK_TINY_CACHE_BLOCKS=0 turns the cache off, and so does harden (a block on a list is not
 * marked free where the hardened free checks); wrap-tiny off at run time gives the lists no
 * room, so the override's tiny requests keep reaching the pool's refusal. */
#ifndef HAK_TINY_CACHE_BLOCKS
#define HAK_TINY_CACHE_BLOCKS 256
#endif
#ifndef HAK_TINY_CACHE_BYTES
#define HAK_TINY_CACHE_BYTES (32u << 10)
#endif
/* The shared tiny pool (hak_tinycache.c): the blocks a thread's full list or its exit sends
 * back whose page belongs to another live thread, one whose tiny cache has neither filled
 * nor trimmed for HAK_TINY_POOL_IDLE_MS, go, one batch per class and return, to a
 * process-wide pool instead of that page's atomic list, and a thread whose list of the class
 * is empty takes a batch (its own first) before it goes to its pages. An active owner's
 * blocks still go home: handed to a third thread, they would share cache lines with the
 * blocks their owner is using (larson-tiny, 8-128 B on two threads, ran x0.76 when every
 * other thread's blocks went to the pool). On its page's atomic
 * list, such a block waits for its owner's next refill of the class, which may never come:
 * a main thread that allocated a program's first blocks and handed them to workers,
 * and now only waits for them, keeps every one of those pages, its blocks all freed, for
 * the life of the process (larson: 5.3 MB of 19), while the workers carve pages of their
 * own. The pool keeps at most HAK_TINY_POOL_BATCHES batches a class and HAK_TINY_POOL_BYTES
 * in all; beyond that, blocks go back to their pages as before. Blocks in the pool count as
 * in use in their pages; memory given back and the idle purge thread empty it onto them. */
#ifndef HAK_TINY_POOL_BATCHES
#define HAK_TINY_POOL_BATCHES 64
#endif
#ifndef HAK_TINY_POOL_BYTES
#define HAK_TINY_POOL_BYTES  (4u << 20)
#endif
#ifndef HAK_TINY_POOL_IDLE_MS
#define HAK_TINY_POOL_IDLE_MS 10
#endif
#if HAK_HARDEN
#undef HAK_TINY_CACHE_BLOCKS
#define HAK_TINY_CACHE_BLOCKS 0
#endif

/* Purging (decay). A page emptied by its heap stays committed, so the next alloc/free cycle
 * does not fault it in again; a heap returns all its empty written pages to the OS
 * (madvise(MADV_DONTNEED)) in one batch once the oldest has waited HAK_PURGE_DELAY_MS, or
 * at once when they exceed HAK_PURGE_LIMIT. Checked when pages are carved or emptied, never
 * on the fast paths. Neighbouring empty pages of a segment go in one madvise. The limit
 * bounds what a thread that goes idle right after freeing keeps resident; it is not lower
 * because a thread that adopts an exited thread's segments takes their empty pages on too
 * and would purge them before it reuses them. Run-time
 * overrides: HAKMEM_PURGE_DELAY_MS=<ms> (0: at the next check), HAKMEM_PURGE_LIMIT=<bytes>. */
#define HAK_PURGE_DELAY_MS_DEFAULT 10

/* Giving memory back when idle (HAKMEM_PURGE_THREAD, default on; 0 turns it off). A thread
 * of hakmem's, started the first time memory waits in a shared cache (an exited thread's
 * segments, empty segments, cached large blocks, the mid pool), wakes every
 * HAK_PURGE_THREAD_MS: cached segments that waited the purge delay are purged, and empty
 * segments and large blocks cached for HAK_PURGE_THREAD_IDLE_MS are unmapped. When nothing
 * changed in the shared state for a whole tick, the process is idle: the pool is drained
 * back to its pages, exited threads' segments are adopted by the purge thread, and every
 * empty page and segment goes back to the OS. A living thread's own caches and empty pages
 * (at most the purge limit) stay until its next slow path: only it may touch them. The
 * child of a fork starts its own thread when it needs one. */
#define HAK_PURGE_THREAD_DEFAULT 1
#define HAK_PURGE_THREAD_MS      200
#define HAK_PURGE_THREAD_IDLE_MS 500
#define HAK_PURGE_LIMIT_DEFAULT (32u << 20)

/* Global cache of empty segments: a heap keeps one empty segment per kind; further empty
 * segments (and an exited thread's spares) go to a process-wide cache, from which any
 * thread's next segment comes, of either kind, before a fresh one is mapped. A cached
 * segment is purged once it has waited the purge delay (checked when segments are released
 * and when a heap purges) and the oldest is unmapped when more than HAK_SEGMENT_CACHE_MAX
 * are cached (under an address-space limit, at most a sixteenth of it). */
#ifndef HAK_SEGMENT_CACHE_MAX
#define HAK_SEGMENT_CACHE_MAX 16
#endif

/* Large tier cache: freed large blocks of at most HAK_LARGE_CACHE_MAX_BLOCK bytes are
 * kept, resident, for reuse. The bytes it may hold follow recent use: the highest figure of
 * resident bytes in large blocks in use during the current or the previous
 * HAK_LARGE_DECAY_MS period, and at least HAK_LARGE_CACHE_MIN_BYTES. It holds at most
 * HAK_LARGE_CACHE_SLOTS blocks of HAK_LARGE_CACHE_SMALL_BLOCK resident bytes or more, and of
 * smaller ones as many as have left use since the recent peak of large blocks in use (at
 * least HAK_LARGE_CACHE_SLOTS): a program that frees a thousand 80 KiB blocks at a thread's
 * exit and allocates them again in the next thread (mimalloc's stress test) maps them once.
 * A request takes the cached block that costs least (fewest pages to fault in or left idle)
 * among the first few of its bin of resident size (four per doubling) and of the nearest
 * bins above and below. On a large free at most once per period, the budget decays, and blocks cached for two whole periods
 * or beyond the budget are unmapped, oldest first (the purge thread unmaps those idle for
 * HAK_PURGE_THREAD_IDLE_MS). Blocks of HAK_LARGE_RESERVE_MIN bytes or more reserve
 * HAK_LARGE_CACHE_MAX_BLOCK of address space (not memory), so a cached block can grow into
 * any later request. */
#ifndef HAK_LARGE_CACHE_SLOTS
#define HAK_LARGE_CACHE_SLOTS     32
#endif
#define HAK_LARGE_CACHE_SMALL_BLOCK (256u << 10)
#define HAK_LARGE_CACHE_MAX_BLOCK (32u << 20)
#ifndef HAK_LARGE_CACHE_MIN_BYTES
#define HAK_LARGE_CACHE_MIN_BYTES (64u << 20)
#endif
#define HAK_LARGE_DECAY_MS        1000
#define HAK_LARGE_RESERVE_MIN     (1u << 20)
/* A cached block reused for a smaller request keeps its resident tail for the next large
 * request unless the tail exceeds this many times the request (plus 1 MiB): then the tail is
 * purged (MADV_DONTNEED). */
#define HAK_LARGE_IDLE_RATIO      4

/* Alignments above this are handed to glibc (__libc_memalign): a large block's header
 * sits at the 4 MiB boundary below its first byte. */
#define HAK_MAX_ALIGN        (2u << 20)

/* Segments abandoned by exited threads that one refill may adopt before it maps a fresh
 * segment. */
#define HAK_ADOPT_PER_REFILL 4

/* How many of the most recently abandoned segments a refill looks through for one that
 * serves its class (a page of the class with free or uncarved blocks), and a thread
 * without a free page for one with a free page, before it carves or maps fresh memory. */
#define HAK_ADOPT_SCAN 8

/* Page registry (SUPERSLAB=0): open-addressing table of 64 KiB chunks. 2^20 slots cover
 * 64 GiB of small-object memory; when the table is 3/4 full, new segments are refused and
 * requests fall back to glibc (counted in libcMallocOther). */
#define HAK_REGISTRY_SHIFT   20

#endif
