/* Bounded SPSC ring of fixed-size records.
 *
 * DESIGN
 * head counts records published by the producer, tail records released by the consumer;
 * both are free-running 32-bit counters (unsigned wrap-around keeps head - tail right while
 * capacity <= 2^30), and a slot is counter & mask. Each side keeps a private copy of the
 * other's counter and reloads it only when the copy says full (producer) or empty
 * (consumer), so in steady state the two cores share only the record lines and the one
 * counter line they hand over per batch.
 *
 * Sleeping: a waiter announces itself in *_waiting, re-checks the counter, then sleeps on a
 * futex word (*_wake); publish/release store their counter, then read the waiting flag.
 * This is Dekker's pattern: either the waiter sees the new counter or the other side sees
 * the flag and bumps the wake word (which makes a late futex_wait return at once). It needs
 * a full barrier between each side's store and load. The hot side (publish/release) must
 * not pay for one per batch, so the barrier is asymmetric (membarrier(2), as liburcu does):
 * the waiter, on its slow path, calls membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which
 * runs a full barrier on every CPU running one of our threads, and the hot side needs only a
 * compiler barrier. Where membarrier is unavailable (old kernel, seccomp filter) both sides
 * fall back to seq_cst operations (an xchg per publish on x86).
 * The flags and wake words live on their own line, written only around a sleep, so the
 * per-publish read of the flag hits a shared, unmodified line.
 *
 * Batches: records cross from the producer's core to the consumer's one cache line at a
 * time, and at batch 64 that transfer, not the ring's bookkeeping, is the cost. A claim of
 * 256 bytes or more therefore prefetches for writing the lines of the next claim, one batch
 * ahead, as long as they are free: taking them back from the consumer's cache overlaps the
 * writing of this batch instead of the producer missing on each line in turn.
 * Only whole lines of free slots are prefetched, so the producer never pulls a line the
 * consumer is still reading. The consumer gains nothing from the same on its side (it
 * waits for the producer; measured in bench/RESULTS.md), so it does not prefetch. Small
 * claims stay inline in ring.h.
 *
 * Bulk releases may evict. After the consumer has read a line, the line sits in both cores'
 * caches, and the producer's next write to it must first invalidate the consumer's copy: a
 * cross-core round trip per line, which the producer pays while the consumer, caught up,
 * waits. A release of 256 bytes or more can instead write the whole lines it covers back to
 * memory and out of every cache first (CLFLUSHOPT, which does not wait): the consumer, which
 * has time to spare, does the cross-core work, and the producer's prefetch then reads the
 * lines from memory with no one to ask. Whether that pays depends on where the two threads
 * run. On this VM's usual placement (a 450-600 ns round trip between the vCPUs) batch 64
 * went from 13x to 27-34x ck_ring's batch-1 rate; where the cores share a cache, memory is
 * the slower way (a quarter slower on the VM's fast placement, half on one core). The
 * threads can move at any time, so the
 * consumer measures instead of guessing: it times each lap of the ring (the time stamp
 * counter), keeps each mode's best recent lap time, runs the faster mode and, every 128
 * laps, tries the other again. A lap right after a switch is not timed: its producer is
 * still writing lines the previous mode left behind. Laps with a sleep in them are not
 * timed either, so a ring that is mostly idle (the engine's at live rates) just keeps what
 * it has. Eviction is a hint: coherence keeps the data right whatever the timing. */
#include "vigil/ring.h"
#include "vigil/common.h"

#include <errno.h>
#include <limits.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() atomic_signal_fence(memory_order_seq_cst)
#endif

#ifndef SYS_membarrier
#define SYS_membarrier 324
#endif

/* Spins before sleeping: long enough to catch a producer that is mid-batch, short enough
 * (a few microseconds) that an idle side goes to sleep almost at once. */
#define SPIN_ROUNDS 256

/* Claims of at least this many bytes go out of line and prefetch. */
#define PREFETCH_MIN_BYTES 256
/* At most this much is prefetched ahead: more would not stay in L1 until it is used. */
#define PREFETCH_MAX_BYTES 4096

/* The external definitions of the inline functions in ring.h. */
extern inline int vg_ring_hand_over(vg_ring *r, _Atomic uint32_t *counter, uint32_t v,
                                    _Atomic uint32_t *waiting);
extern inline size_t vg_ring_claim(vg_ring *r, size_t want, void **ret_slots);
extern inline void vg_ring_publish(vg_ring *r, size_t n);
extern inline size_t vg_ring_peek(vg_ring *r, size_t max, void **ret_slots);
extern inline void vg_ring_release(vg_ring *r, size_t n);

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *rel)
{
    return syscall(SYS_futex, (uint32_t *)word, op, val, rel, NULL, 0);
}

void vg_ring_wake(_Atomic uint32_t *word)
{
    atomic_fetch_add(word, 1);
    futex(word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

static int asym_ok;
static pthread_once_t asym_once = PTHREAD_ONCE_INIT;

static void asym_register(void)
{
    asym_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* The waiter's side of the asymmetric barrier: after this, every store the hot side made
 * before its compiler barrier is visible to us, or it will see our waiting flag. */
static void slow_barrier(const vg_ring *r)
{
    if (r->asym)
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

/* Prefetches for writing the whole cache lines among `count` slots from slot index `first`
 * (no wrap). A line the span only partly covers is left alone: its other part may still
 * belong to the consumer. */
static void prefetch_for_write(const vg_ring *r, uint32_t first, uint32_t count)
{
    size_t bytes = (size_t)count * r->record_size;
    if (bytes > PREFETCH_MAX_BYTES)
        bytes = PREFETCH_MAX_BYTES;
    uintptr_t p = (uintptr_t)(r->slots + (size_t)first * r->record_size);
    uintptr_t end = (p + bytes) & ~(uintptr_t)(VG_CACHELINE - 1);
    /* Rounding down is safe: the slots before `first` on that line are the ones just
     * claimed, which are ours (a prefetching claim spans >= 256 bytes). */
    for (p &= ~(uintptr_t)(VG_CACHELINE - 1); p < end; p += VG_CACHELINE) {
#if defined(__x86_64__)
        /* PREFETCHW, which takes the line exclusive: gcc emits PREFETCHT0 (shared) for
         * __builtin_prefetch(p, 1) unless built with -mprfchw, and PREFETCHW measured 26 %
         * faster at batch 256 (bench/RESULTS.md). Every x86-64 AMD CPU has it; Intel ones
         * since Broadwell, and older ones execute it as a no-op. */
        __asm__ volatile("prefetchw %0" : : "m"(*(const unsigned char *)p));
#else
        __builtin_prefetch((const void *)p, 1, 3);
#endif
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* Laps slower than this (about 5-8 ms) had a sleep or a preemption in them. */
#define LAP_MAX_TICKS (UINT64_C(1) << 24)
/* Every this many laps, the mode that measured slower runs again, to notice a change. */
#define EXPLORE_LAPS 128

/* Writes back and drops from every cache the whole lines among the n slots released from
 * counter t. A line the span only partly covers is left alone: its other part may be in
 * use. */
static void evict_lines(const vg_ring *r, uint32_t t, size_t n)
{
    uint32_t idx = t & r->mask;
    if (n > r->mask + 1 - idx)
        n = r->mask + 1 - idx; /* the part after the wrap point stays (a hint only) */
    uintptr_t p = (uintptr_t)(r->slots + (size_t)idx * r->record_size);
    uintptr_t end = (p + n * r->record_size) & ~(uintptr_t)(VG_CACHELINE - 1);
    for (p = (p + VG_CACHELINE - 1) & ~(uintptr_t)(VG_CACHELINE - 1); p < end;
         p += VG_CACHELINE)
        __asm__ volatile("clflushopt %0" : : "m"(*(const unsigned char *)p));
}

/* A lap ended at tail t: time it, then pick the mode for the next one (see DESIGN). */
static void end_lap(vg_ring *r, uint32_t t)
{
    uint64_t now = __rdtsc(), ticks = now - r->lap_tsc;
    uint64_t *cost = &r->lap_cost[r->evict];

    if (!r->lap_skip && ticks < LAP_MAX_TICKS)
        /* The best recent lap: one slowed by an interrupt does not count, while a mode that
         * really became slower catches up by 1/8 a lap. */
        *cost = !*cost || ticks < *cost + *cost / 8 ? ticks : *cost + *cost / 8;
    r->lap_start = t;
    r->lap_tsc = now;
    r->lap_skip = 0;
    r->laps++;
    uint32_t next;
    if (!r->lap_cost[0] || !r->lap_cost[1])
        next = !r->lap_cost[r->evict] ? r->evict : !r->evict; /* measure both first */
    else
        next = r->lap_cost[1] < r->lap_cost[0];
    if (r->laps % EXPLORE_LAPS < 2)
        next = !next; /* two laps of the other mode: one to settle, one timed */
    if (next != r->evict) {
        r->evict = next;
        r->lap_skip = 1;
    }
}
#endif

void vg_ring_release_bulk(vg_ring *r, uint32_t t, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (r->evict)
        evict_lines(r, t, n);
    if (t + (uint32_t)n - r->lap_start > r->mask)
        end_lap(r, t + (uint32_t)n);
#else
    (void)r, (void)t, (void)n;
#endif
}

/* Releases of at least this many records are bulk; never where the CPU cannot evict. */
static uint32_t bulk_min(size_t record_size)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_CLFLUSHOPT))
        return (uint32_t)((PREFETCH_MIN_BYTES + record_size - 1) / record_size);
#endif
    (void)record_size;
    return UINT32_MAX;
}

int vg_ring_new(size_t record_size, size_t capacity, vg_ring **ret)
{
    if (!ret || record_size == 0 || record_size > (1u << 20) || capacity < 2 ||
        capacity > VG_RING_MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
        return -EINVAL;
    if (capacity > SIZE_MAX / record_size)
        return -EINVAL;
    vg_ring *r = aligned_alloc(alignof(vg_ring), sizeof(*r));
    if (!r)
        return -ENOMEM;
    memset(r, 0, sizeof(*r));
    size_t bytes = (capacity * record_size + VG_CACHELINE - 1) / VG_CACHELINE * VG_CACHELINE;
    r->slots = aligned_alloc(VG_CACHELINE, bytes);
    if (!r->slots) {
        free(r);
        return -ENOMEM;
    }
    r->mask = (uint32_t)(capacity - 1);
    r->record_size = (uint32_t)record_size;
    r->inline_max = (uint32_t)((PREFETCH_MIN_BYTES - 1) / record_size);
    r->bulk_min = bulk_min(record_size);
    pthread_once(&asym_once, asym_register);
    r->asym = asym_ok;
    *ret = r;
    return 0;
}

void vg_ring_free(vg_ring **rp)
{
    if (!rp || !*rp)
        return;
    free((*rp)->slots);
    free(*rp);
    *rp = NULL;
}

void vg_ring_set_low_latency(vg_ring *r)
{
    r->asym = 0; /* store_and_check_waiter() and the waiters then use seq_cst operations */
}

size_t vg_ring_capacity(const vg_ring *r)
{
    return (size_t)r->mask + 1;
}

size_t vg_ring_record_size(const vg_ring *r)
{
    return r->record_size;
}

size_t vg_ring_depth(const vg_ring *r)
{
    /* Relaxed: a snapshot for status. Tail first, so depth never looks negative; from a third
     * thread both may move between the loads and a full ring look over-full: clamp. */
    uint32_t t = atomic_load_explicit(&((vg_ring *)r)->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&((vg_ring *)r)->head, memory_order_relaxed);
    uint32_t d = h - t;
    return d > r->mask + 1 ? r->mask + 1 : d;
}

/* ---- producer ---- */

size_t vg_ring_claim_slow(vg_ring *r, size_t want, void **ret_slots)
{
    /* Relaxed: head is written only by this thread. */
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t cap = r->mask + 1;
    uint32_t free_n = cap - (h - r->prod_tail);
    if (free_n < want) {
        /* Acquire: the consumer has finished reading the slots it released before we
         * overwrite them (pairs with the release store of tail in vg_ring_release). */
        r->prod_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        free_n = cap - (h - r->prod_tail);
    }
    uint32_t idx = h & r->mask;
    size_t n = want < free_n ? want : free_n;
    if (n > cap - idx)
        n = cap - idx;
    if (n == 0)
        return 0;
    *ret_slots = r->slots + (size_t)idx * r->record_size;
    if (n > r->inline_max) {
        /* The next claim, as large as this one, in slots known to be free. */
        uint32_t next = (idx + (uint32_t)n) & r->mask;
        uint32_t count = free_n - (uint32_t)n;
        if (count > n)
            count = (uint32_t)n;
        if (count > cap - next)
            count = cap - next;
        prefetch_for_write(r, next, count);
    }
    return n;
}

int vg_ring_push(vg_ring *r, const void *record)
{
    void *slot;
    if (vg_ring_claim(r, 1, &slot) == 0)
        return -EAGAIN;
    memcpy(slot, record, r->record_size);
    vg_ring_publish(r, 1);
    return 0;
}

size_t vg_ring_push_n(vg_ring *r, const void *records, size_t n)
{
    const unsigned char *src = records;
    size_t done = 0, k;
    void *slot;
    /* A claim stops at the wrap point, so this publishes once, or twice when it wraps. */
    while (done < n && (k = vg_ring_claim(r, n - done, &slot)) > 0) {
        memcpy(slot, src + done * r->record_size, k * r->record_size);
        vg_ring_publish(r, k);
        done += k;
    }
    return done;
}

static int64_t deadline_of(int64_t timeout_ns)
{
    return timeout_ns < 0 ? -1 : vg_mono_ns() + timeout_ns;
}

/* Sleeps on *word while it still holds `seen`, at most until deadline (-1: forever).
 * Returns 0 when woken or the word changed, -ETIMEDOUT past the deadline. */
static int sleep_on(_Atomic uint32_t *word, uint32_t seen, int64_t deadline)
{
    struct timespec rel, *relp = NULL;
    if (deadline >= 0) {
        int64_t left = deadline - vg_mono_ns();
        if (left <= 0)
            return -ETIMEDOUT;
        rel.tv_sec = left / VG_NS_PER_S;
        rel.tv_nsec = left % VG_NS_PER_S;
        relp = &rel;
    }
    futex(word, FUTEX_WAIT_PRIVATE, seen, relp); /* EAGAIN, EINTR, ETIMEDOUT: caller re-checks */
    return 0;
}

/* Free slots according to the producer's copy of tail. */
static uint32_t room(const vg_ring *r)
{
    return r->mask + 1 - (atomic_load_explicit(&r->head, memory_order_relaxed) - r->prod_tail);
}

static uint32_t free_slots(vg_ring *r)
{
    /* Acquire: pairs with the release store of tail in vg_ring_release. */
    r->prod_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return room(r);
}

int vg_ring_wait_writable(vg_ring *r, size_t n, int64_t timeout_ns)
{
    if (n == 0 || n > (size_t)r->mask + 1)
        return -EINVAL;
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&r->closed, memory_order_relaxed))
            return -ECANCELED;
        if (free_slots(r) >= n)
            return 0;
        cpu_relax();
    }
    int64_t deadline = deadline_of(timeout_ns);
    for (;;) {
        uint32_t seen = atomic_load(&r->prod_wake);
        atomic_store(&r->prod_waiting, 1);
        slow_barrier(r);
        /* seq_cst load of tail after the seq_cst store of the flag (Dekker with release). */
        r->prod_tail = atomic_load(&r->tail);
        int closed = atomic_load(&r->closed) != 0;
        if (closed || room(r) >= n) {
            atomic_store(&r->prod_waiting, 0);
            return closed ? -ECANCELED : 0;
        }
        int e = sleep_on(&r->prod_wake, seen, deadline);
        atomic_store(&r->prod_waiting, 0);
        if (e < 0)
            return free_slots(r) >= n ? 0 : e;
    }
}

/* ---- consumer ---- */

size_t vg_ring_peek_slow(vg_ring *r, size_t max, void **ret_slots)
{
    /* Relaxed: tail is written only by this thread. */
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t avail = r->cons_head - t;
    if (avail < max) {
        /* Acquire: the record bytes are visible before we read them (pairs with the release
         * store of head in vg_ring_publish). */
        r->cons_head = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->cons_head - t;
    }
    uint32_t idx = t & r->mask;
    size_t n = max < avail ? max : avail;
    if (n > r->mask + 1 - idx)
        n = r->mask + 1 - idx;
    if (n)
        *ret_slots = r->slots + (size_t)idx * r->record_size;
    return n;
}

int vg_ring_pop(vg_ring *r, void *record)
{
    void *slot;
    if (vg_ring_peek(r, 1, &slot) == 0)
        return -EAGAIN;
    memcpy(record, slot, r->record_size);
    vg_ring_release(r, 1);
    return 0;
}

size_t vg_ring_pop_n(vg_ring *r, void *records, size_t max)
{
    unsigned char *dst = records;
    size_t done = 0, k;
    void *slot;
    while (done < max && (k = vg_ring_peek(r, max - done, &slot)) > 0) {
        memcpy(dst + done * r->record_size, slot, k * r->record_size);
        vg_ring_release(r, k);
        done += k;
    }
    return done;
}

static int readable(vg_ring *r)
{
    /* Acquire: pairs with the release store of head in vg_ring_publish. */
    r->cons_head = atomic_load_explicit(&r->head, memory_order_acquire);
    return r->cons_head != atomic_load_explicit(&r->tail, memory_order_relaxed);
}

int vg_ring_wait_readable(vg_ring *r, int64_t timeout_ns)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (readable(r))
            return 0;
        if (atomic_load_explicit(&r->closed, memory_order_acquire) && !readable(r))
            return -ECANCELED;
        cpu_relax();
    }
    int64_t deadline = deadline_of(timeout_ns);
    for (;;) {
        uint32_t seen = atomic_load(&r->cons_wake);
        atomic_store(&r->cons_waiting, 1);
        slow_barrier(r);
        /* seq_cst load of head after the seq_cst store of the flag (Dekker with publish). */
        r->cons_head = atomic_load(&r->head);
        if (r->cons_head != atomic_load_explicit(&r->tail, memory_order_relaxed)) {
            atomic_store(&r->cons_waiting, 0);
            return 0;
        }
        if (atomic_load(&r->closed)) {
            atomic_store(&r->cons_waiting, 0);
            return readable(r) ? 0 : -ECANCELED;
        }
        int e = sleep_on(&r->cons_wake, seen, deadline);
        atomic_store(&r->cons_waiting, 0);
        if (e < 0)
            return readable(r) ? 0 : e;
    }
}

void vg_ring_close(vg_ring *r)
{
    atomic_store(&r->closed, 1);
    vg_ring_wake(&r->cons_wake);
    vg_ring_wake(&r->prod_wake);
}

int vg_ring_closed(const vg_ring *r)
{
    return atomic_load(&((vg_ring *)r)->closed) != 0;
}
