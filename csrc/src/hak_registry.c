/* The page registry of SUPERSLAB=0: a global hash table from 64 KiB chunk to page
 * descriptor, the lookup every free pays for when segments are not aligned. Open
 * addressing with linear probing; keys are never removed (a released chunk keeps its key
 * with a NULL value), so a lookup can stop at the first empty key without locks. */
#include "hak_internal.h"

#if !HAK_SUPERSLAB

#define REG_SLOTS ((size_t)1 << HAK_REGISTRY_SHIFT)
#define REG_MASK  (REG_SLOTS - 1)

typedef struct reg_slot_s {
  _Atomic(uintptr_t) key;              /* chunk index + 1; 0 = empty */
  _Atomic(hak_page_t*) page;
} reg_slot_t;

static _Atomic(reg_slot_t*) _reg_table; /* mapped on first use */
static _Atomic(size_t) _reg_keys;       /* keys in use, for the fill bound */
static _Atomic(int) _reg_lock;          /* serialises inserts (slow path only) */

static inline size_t reg_hash(uintptr_t key) {
  return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - HAK_REGISTRY_SHIFT));
}

hak_page_t* _hak_registry_lookup(const void* p) {
  reg_slot_t* table = atomic_load_explicit(&_reg_table, memory_order_acquire);
  if (hak_unlikely(table == NULL)) return &_hak_page_empty;
  uintptr_t key = ((uintptr_t)p >> HAK_CHUNK_SHIFT) + 1;
  for (size_t i = reg_hash(key);; i = (i + 1) & REG_MASK) {
    uintptr_t k = atomic_load_explicit(&table[i].key, memory_order_acquire);
    if (hak_likely(k == key)) {
      hak_page_t* page = atomic_load_explicit(&table[i].page, memory_order_acquire);
      return page != NULL ? page : &_hak_page_empty;
    }
    if (k == 0) return &_hak_page_empty;
  }
}

static void reg_lock(void) {
  while (atomic_exchange_explicit(&_reg_lock, 1, memory_order_acquire)) { }
}
static void reg_unlock(void) { atomic_store_explicit(&_reg_lock, 0, memory_order_release); }

/* fork: held across fork by the parent, so the child never sees it half-way */
void _hak_registry_fork_lock(void) { reg_lock(); }
void _hak_registry_fork_unlock(void) { reg_unlock(); }

static reg_slot_t* reg_slot_for(reg_slot_t* table, uintptr_t key) {
  for (size_t i = reg_hash(key);; i = (i + 1) & REG_MASK) {
    uintptr_t k = atomic_load_explicit(&table[i].key, memory_order_relaxed);
    if (k == key) return &table[i];
    if (k == 0) {
      if (atomic_load_explicit(&_reg_keys, memory_order_relaxed) >= REG_SLOTS / 4 * 3) return NULL;
      atomic_fetch_add_explicit(&_reg_keys, 1, memory_order_relaxed);
      atomic_store_explicit(&table[i].page, NULL, memory_order_relaxed);
      atomic_store_explicit(&table[i].key, key, memory_order_release);
      return &table[i];
    }
  }
}

/* The chunks a lookup may ask for: every chunk of a small-object segment, and only the
 * chunk of the first byte of a large block (a free always passes that pointer). */
static void reg_range(const hak_segment_t* seg, uintptr_t* start, uintptr_t* end) {
  if (seg->kind == HAK_SEG_LARGE) {
    *start = (uintptr_t)seg->first_area & ~(((uintptr_t)1 << HAK_CHUNK_SHIFT) - 1);
    *end = *start + 1;
  } else {
    *start = (uintptr_t)seg;
    *end = (uintptr_t)seg + ((size_t)seg->page_count << seg->page_shift);
  }
}

bool _hak_registry_add(hak_segment_t* seg) {
  reg_lock();
  if (atomic_load_explicit(&_reg_table, memory_order_relaxed) == NULL) {
    reg_slot_t* table = _hak_os_map(REG_SLOTS * sizeof(reg_slot_t));
    if (table == NULL) { reg_unlock(); return false; }
    atomic_store_explicit(&_reg_table, table, memory_order_release);
  }
  uintptr_t start, end;
  reg_range(seg, &start, &end);
  bool ok = true;
  for (uintptr_t c = start; c < end; c += (uintptr_t)1 << HAK_CHUNK_SHIFT) {
    reg_slot_t* slot = reg_slot_for(atomic_load_explicit(&_reg_table, memory_order_relaxed), (c >> HAK_CHUNK_SHIFT) + 1);
    if (slot == NULL) { ok = false; break; }
    size_t idx = seg->kind == HAK_SEG_LARGE ? 0 : (size_t)((c - (uintptr_t)seg) >> seg->page_shift);
    atomic_store_explicit(&slot->page, &seg->pages[idx], memory_order_release);
  }
  reg_unlock();
  if (!ok) _hak_registry_remove(seg);
  return ok;
}

void _hak_registry_remove(hak_segment_t* seg) {
  reg_slot_t* table = atomic_load_explicit(&_reg_table, memory_order_relaxed);
  if (table == NULL) return;
  uintptr_t start, end;
  reg_range(seg, &start, &end);
  for (uintptr_t c = start; c < end; c += (uintptr_t)1 << HAK_CHUNK_SHIFT) {
    uintptr_t key = (c >> HAK_CHUNK_SHIFT) + 1;
    for (size_t i = reg_hash(key);; i = (i + 1) & REG_MASK) {
      uintptr_t k = atomic_load_explicit(&table[i].key, memory_order_relaxed);
      if (k == key) { atomic_store_explicit(&table[i].page, NULL, memory_order_release); break; }
      if (k == 0) break;
    }
  }
}

#else

bool _hak_registry_add(hak_segment_t* seg) { (void)seg; return true; }
void _hak_registry_remove(hak_segment_t* seg) { (void)seg; }
void _hak_registry_fork_lock(void) { }
void _hak_registry_fork_unlock(void) { }

#endif
