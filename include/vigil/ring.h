/* Bounded single-producer / single-consumer ring of fixed-size records.
 *
 * Threads talk only through these rings. Exactly one producer thread and one consumer
 * thread use a ring; any thread may read its depth or close it. Capacity is a power of two.
 * No call allocates after vg_ring_new().
 *
 * Batched use (one atomic publish for many records):
 *     void *slots;
 *     size_t n = vg_ring_claim(r, want, &slots);   // up to want contiguous free slots
 *     ... write n records at slots ...
 *     vg_ring_publish(r, n);
 *   and on the consumer side vg_ring_peek() / vg_ring_release() the same way.
 *
 * Waiting: vg_ring_wait_readable() and vg_ring_wait_writable() spin briefly, then sleep on
 * a futex, so an idle consumer or a blocked producer costs no CPU. publish/release wake the
 * other side only when it is asleep.
 *
 * Speed: in C, claim, publish, peek and release are inline functions (defined at the end of
 * this header, with their external definitions in ring.c), so moving one record costs no
 * call; they call into ring.c only to refresh a cached counter, for claims of 256 bytes or
 * more (which prefetch the next batch's slots), for releases of 256 bytes or more (which may
 * evict the released lines from the caches), or to wake a sleeper. C++ sees ordinary
 * functions. The struct is in this header only for those inline functions: its
 * fields are private. */
#ifndef VIGIL_RING_H
#define VIGIL_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define VG_RING_INLINE
#else
#include <stdalign.h>
#include <stdatomic.h>
/* C11 inline: an inline definition here, one external definition in ring.c. */
#define VG_RING_INLINE inline
#endif

typedef struct vg_ring vg_ring;

/* Largest capacity accepted (indices are 32-bit and wrap). */
#define VG_RING_MAX_CAPACITY (UINT32_C(1) << 30)

/* Creates a ring of `capacity` records of `record_size` bytes each; slots are aligned to 64
 * bytes at the start and to record_size thereafter.
 * Returns 0 and *ret (free with vg_ring_free()), -EINVAL if capacity is not a power of two
 * in [2, VG_RING_MAX_CAPACITY] or record_size is 0 or over 1 MiB, -ENOMEM.
 * Thread: any, before the ring is shared. */
int vg_ring_new(size_t record_size, size_t capacity, vg_ring **ret);

/* Frees the ring; accepts NULL and *rp == NULL; sets *rp to NULL.
 * Thread: any, after both sides have stopped using it. */
void vg_ring_free(vg_ring **rp);

/* Wake-up protocol. By default (when the kernel has membarrier(2)) a publish or release
 * costs the hot side a compiler barrier only, and a side about to sleep pays a membarrier,
 * which interrupts every CPU running a thread of this process: the fastest choice while the
 * consumer is mostly busy (batch throughput, bench_ring). vg_ring_set_low_latency() makes
 * both sides use full barriers instead (an atomic exchange per publish or release, no
 * membarrier): better where the sides sleep between most records, as in an engine waiting
 * for the next reading, because no sleep then disturbs the other threads (lower wake-up
 * latency end to end, bench/RESULTS.md). Thread: before the ring is shared. */
void vg_ring_set_low_latency(vg_ring *r);

size_t vg_ring_capacity(const vg_ring *r);
size_t vg_ring_record_size(const vg_ring *r);

/* Records published and not yet released. Exact from either side's own thread between
 * its calls; a snapshot from any other thread. Thread: any. */
size_t vg_ring_depth(const vg_ring *r);

/* ---- producer ---- */

/* Reserves up to `want` contiguous free slots and stores the first one's address in
 * *ret_slots. Returns how many (0 when the ring is full or want is 0; then *ret_slots is
 * untouched). Fewer than `want` come back at the wrap point or when the ring is nearly full:
 * claim again after publishing. The slots belong to the producer until vg_ring_publish().
 * Thread: producer. Never blocks. */
VG_RING_INLINE size_t vg_ring_claim(vg_ring *r, size_t want, void **ret_slots);

/* Makes the first n claimed records visible to the consumer, in one atomic store, and wakes
 * the consumer if it sleeps. n must not exceed the last claim. Thread: producer. */
VG_RING_INLINE void vg_ring_publish(vg_ring *r, size_t n);

/* Copies one record in and publishes it. Returns 0, or -EAGAIN when the ring is full (nothing
 * copied). Thread: producer. Never blocks. */
int vg_ring_push(vg_ring *r, const void *record);

/* Copies up to n records from `records` (n * record_size bytes) and publishes them with one
 * atomic store (two at the wrap point). Returns the number copied, 0..n. Thread: producer. */
size_t vg_ring_push_n(vg_ring *r, const void *records, size_t n);

/* Waits until at least n slots are free (n <= capacity). Returns 0, -ETIMEDOUT after
 * timeout_ns (negative: no limit), -ECANCELED once the ring is closed, -EINVAL if n is 0
 * or over the capacity. Thread: producer. */
int vg_ring_wait_writable(vg_ring *r, size_t n, int64_t timeout_ns);

/* ---- consumer ---- */

/* Finds up to `max` contiguous published records; stores the first one's address in
 * *ret_slots. Returns how many (0 when empty; then *ret_slots is untouched). The records stay
 * valid until vg_ring_release(). Thread: consumer. Never blocks. */
VG_RING_INLINE size_t vg_ring_peek(vg_ring *r, size_t max, void **ret_slots);

/* Hands the first n peeked records back to the producer, in one atomic store, and wakes the
 * producer if it sleeps waiting for room. Thread: consumer. */
VG_RING_INLINE void vg_ring_release(vg_ring *r, size_t n);

/* Copies the oldest record out and releases it. Returns 0, or -EAGAIN when empty.
 * Thread: consumer. Never blocks. */
int vg_ring_pop(vg_ring *r, void *record);

/* Copies up to max records out (max * record_size bytes) and releases them with one atomic
 * store (two at the wrap point). Returns the number copied. Thread: consumer. */
size_t vg_ring_pop_n(vg_ring *r, void *records, size_t max);

/* Waits until at least one record is readable. Returns 0, -ETIMEDOUT after timeout_ns
 * (negative: no limit), or -ECANCELED when the ring is closed and empty (records published
 * before the close are still delivered first). Thread: consumer. */
int vg_ring_wait_readable(vg_ring *r, int64_t timeout_ns);

/* ---- either side ---- */

/* Marks the ring closed and wakes both sides. The producer may not publish after closing;
 * the consumer drains what is left, then its waits return -ECANCELED. Idempotent.
 * Thread: any. */
void vg_ring_close(vg_ring *r);

/* Nonzero once vg_ring_close() was called. Thread: any. */
int vg_ring_closed(const vg_ring *r);

/* ---- private: the inline fast paths (C only) ---- */
#ifndef __cplusplus

/* Separates what each side writes. 128 bytes, not 64: AMD and Intel L2 prefetchers fetch
 * 64-byte lines in aligned pairs, so a neighbour on the paired line is shared too. */
#define VG_RING_SPACING 128

struct vg_ring {
    /* Read-only after vg_ring_new(). */
    unsigned char *slots;
    uint32_t mask;
    uint32_t record_size;
    uint32_t inline_max; /* claims of up to this many records stay inline */
    uint32_t bulk_min;   /* releases of this many records or more are bulk (ring.c) */
    int asym;            /* membarrier registered: hot side uses a compiler barrier only */

    alignas(VG_RING_SPACING) _Atomic uint32_t head; /* written by producer only */
    uint32_t prod_tail;                             /* producer's copy of tail */

    alignas(VG_RING_SPACING) _Atomic uint32_t tail; /* written by consumer only */
    uint32_t cons_head;                             /* consumer's copy of head */
    /* Consumer only: whether bulk releases evict, and the lap timings that decide it. */
    uint32_t evict;       /* 0 or 1 */
    uint32_t lap_start;   /* tail when the current lap began */
    uint32_t lap_skip;    /* the current lap follows a switch: not timed */
    uint32_t laps;
    uint64_t lap_tsc;     /* time stamp counter when the current lap began */
    uint64_t lap_cost[2]; /* ticks per lap without / with eviction (0: not known) */

    alignas(VG_RING_SPACING) _Atomic uint32_t cons_waiting; /* written by consumer only */
    _Atomic uint32_t prod_waiting;                          /* written by producer only */
    _Atomic uint32_t cons_wake;                             /* futex: bumped to wake consumer */
    _Atomic uint32_t prod_wake;                             /* futex: bumped to wake producer */
    _Atomic uint32_t closed;
};

/* Out of line, in ring.c: the rest of claim and peek, bulk releases, and the wake-ups. */
size_t vg_ring_claim_slow(vg_ring *r, size_t want, void **ret_slots);
size_t vg_ring_peek_slow(vg_ring *r, size_t max, void **ret_slots);
void vg_ring_release_bulk(vg_ring *r, uint32_t t, size_t n);
void vg_ring_wake(_Atomic uint32_t *word);

/* Stores a new value of our counter and tells whether the other side announced a sleep
 * (Dekker's pattern; see ring.c for why a compiler barrier is enough here). */
VG_RING_INLINE int vg_ring_hand_over(vg_ring *r, _Atomic uint32_t *counter, uint32_t v,
                                     _Atomic uint32_t *waiting);

VG_RING_INLINE int vg_ring_hand_over(vg_ring *r, _Atomic uint32_t *counter, uint32_t v,
                                     _Atomic uint32_t *waiting)
{
    if (r->asym) {
        /* Release: the record bytes (publish) or our reads of them (release) happen before
         * the new counter is seen; pairs with the other side's acquire load of it. */
        atomic_store_explicit(counter, v, memory_order_release);
        /* Compiler barrier only: a side about to sleep runs membarrier(), which supplies
         * the CPU barrier. */
        atomic_signal_fence(memory_order_seq_cst);
        /* Relaxed: ordered by the asymmetric barrier above. */
        return atomic_load_explicit(waiting, memory_order_relaxed) != 0;
    }
    atomic_exchange(counter, v);
    return atomic_load(waiting) != 0;
}

VG_RING_INLINE size_t vg_ring_claim(vg_ring *r, size_t want, void **ret_slots)
{
    /* Relaxed: head is written only by this thread. */
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t idx = h & r->mask;
    /* A small claim that fits the room we already know of, before the wrap point. */
    if (want != 0 && want <= r->inline_max && want <= r->mask + 1 - (h - r->prod_tail) &&
        want <= r->mask + 1 - idx) {
        *ret_slots = r->slots + (size_t)idx * r->record_size;
        return want;
    }
    return vg_ring_claim_slow(r, want, ret_slots);
}

VG_RING_INLINE void vg_ring_publish(vg_ring *r, size_t n)
{
    if (n == 0)
        return;
    /* Relaxed: head is written only by this thread. */
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (vg_ring_hand_over(r, &r->head, h + (uint32_t)n, &r->cons_waiting))
        vg_ring_wake(&r->cons_wake);
}

VG_RING_INLINE size_t vg_ring_peek(vg_ring *r, size_t max, void **ret_slots)
{
    /* Relaxed: tail is written only by this thread. */
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t idx = t & r->mask;
    /* A peek that the head we already know of covers, before the wrap point. */
    if (max != 0 && max <= r->cons_head - t && max <= r->mask + 1 - idx) {
        *ret_slots = r->slots + (size_t)idx * r->record_size;
        return max;
    }
    return vg_ring_peek_slow(r, max, ret_slots);
}

VG_RING_INLINE void vg_ring_release(vg_ring *r, size_t n)
{
    if (n == 0)
        return;
    /* Relaxed: tail is written only by this thread. */
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (n >= r->bulk_min)
        vg_ring_release_bulk(r, t, n);
    if (vg_ring_hand_over(r, &r->tail, t + (uint32_t)n, &r->prod_waiting))
        vg_ring_wake(&r->prod_wake);
}

#endif /* !__cplusplus */

#ifdef __cplusplus
}
#endif

#endif
