/* The SPSC ring, single-threaded: capacity, order, wrap, batches, waits and close.
 * The two-thread properties are in tests/stress/stress_ring.c (run under TSan in CI). */
#include "vigil/ring.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    uint64_t pad[3];
} rec32;

static vg_ring *r;

static void setup(void)
{
    cr_assert_eq(vg_ring_new(sizeof(rec32), 8, &r), 0);
}

static void teardown(void)
{
    vg_ring_free(&r);
    cr_assert_null(r);
}

TestSuite(ring, .init = setup, .fini = teardown, .timeout = 10);

Test(ring, new_rejects_bad_sizes)
{
    vg_ring *x = NULL;
    cr_expect_eq(vg_ring_new(32, 6, &x), -EINVAL);
    cr_expect_eq(vg_ring_new(32, 1, &x), -EINVAL);
    cr_expect_eq(vg_ring_new(0, 8, &x), -EINVAL);
    cr_expect_eq(vg_ring_new(32, (size_t)VG_RING_MAX_CAPACITY * 2, &x), -EINVAL);
    cr_expect_eq(vg_ring_new(32, 8, NULL), -EINVAL);
    cr_expect_null(x);
    vg_ring_free(NULL);
    vg_ring_free(&x);
}

Test(ring, reports_capacity_and_record_size)
{
    cr_expect_eq(vg_ring_capacity(r), 8);
    cr_expect_eq(vg_ring_record_size(r), sizeof(rec32));
    cr_expect_eq(vg_ring_depth(r), 0);
}

Test(ring, pop_on_empty_is_eagain)
{
    rec32 x;
    cr_expect_eq(vg_ring_pop(r, &x), -EAGAIN);
}

Test(ring, push_on_full_is_eagain_and_copies_nothing)
{
    rec32 x = {0};
    for (uint64_t i = 0; i < 8; i++) {
        x.seq = i;
        cr_assert_eq(vg_ring_push(r, &x), 0);
    }
    cr_expect_eq(vg_ring_depth(r), 8);
    x.seq = 99;
    cr_expect_eq(vg_ring_push(r, &x), -EAGAIN);
    for (uint64_t i = 0; i < 8; i++) {
        cr_assert_eq(vg_ring_pop(r, &x), 0);
        cr_expect_eq(x.seq, i);
    }
    cr_expect_eq(vg_ring_pop(r, &x), -EAGAIN);
}

Test(ring, keeps_order_across_many_wraps)
{
    rec32 x = {0};
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; round++) {
        int k = 1 + round % 7;
        for (int i = 0; i < k; i++) {
            x.seq = next_in++;
            cr_assert_eq(vg_ring_push(r, &x), 0);
        }
        for (int i = 0; i < k; i++) {
            cr_assert_eq(vg_ring_pop(r, &x), 0);
            cr_assert_eq(x.seq, next_out++);
        }
    }
}

Test(ring, claim_stops_at_the_wrap_point)
{
    rec32 x = {0};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(vg_ring_push(r, &x), 0);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(vg_ring_pop(r, &x), 0);
    void *slots = NULL;
    /* head is at slot 6: only slots 6 and 7 are contiguous */
    cr_expect_eq(vg_ring_claim(r, 5, &slots), 2);
    vg_ring_publish(r, 2);
    cr_expect_eq(vg_ring_claim(r, 10, &slots), 6);
    cr_expect_eq(vg_ring_claim(r, 0, &slots), 0);
}

Test(ring, claim_on_full_returns_zero_and_leaves_slots_untouched)
{
    rec32 x = {0};
    for (int i = 0; i < 8; i++)
        vg_ring_push(r, &x);
    void *slots = (void *)0x1;
    cr_expect_eq(vg_ring_claim(r, 1, &slots), 0);
    cr_expect_eq(slots, (void *)0x1);
    cr_expect_eq(vg_ring_peek(r, 0, &slots), 0);
}

Test(ring, batched_push_and_pop_move_many_records)
{
    rec32 in[20], out[20];
    for (int i = 0; i < 20; i++)
        in[i].seq = (uint64_t)i;
    cr_expect_eq(vg_ring_push_n(r, in, 20), 8); /* only 8 fit */
    cr_expect_eq(vg_ring_pop_n(r, out, 3), 3);
    cr_expect_eq(vg_ring_push_n(r, in + 8, 12), 3); /* wraps: published in two stores */
    cr_expect_eq(vg_ring_pop_n(r, out + 3, 20), 8);
    for (int i = 0; i < 11; i++)
        cr_expect_eq(out[i].seq, (uint64_t)i);
}

Test(ring, peek_does_not_consume_until_release)
{
    rec32 x = {.seq = 7};
    vg_ring_push(r, &x);
    void *slots;
    cr_assert_eq(vg_ring_peek(r, 4, &slots), 1);
    cr_expect_eq(((rec32 *)slots)->seq, 7);
    cr_expect_eq(vg_ring_depth(r), 1);
    cr_assert_eq(vg_ring_peek(r, 4, &slots), 1);
    vg_ring_release(r, 1);
    cr_expect_eq(vg_ring_depth(r), 0);
}

Test(ring, wait_readable_times_out_when_empty)
{
    cr_expect_eq(vg_ring_wait_readable(r, 2 * 1000 * 1000), -ETIMEDOUT);
}

Test(ring, wait_readable_returns_at_once_with_data)
{
    rec32 x = {0};
    vg_ring_push(r, &x);
    cr_expect_eq(vg_ring_wait_readable(r, 0), 0);
}

Test(ring, wait_writable_times_out_when_full_and_checks_n)
{
    rec32 x = {0};
    for (int i = 0; i < 8; i++)
        vg_ring_push(r, &x);
    cr_expect_eq(vg_ring_wait_writable(r, 1, 2 * 1000 * 1000), -ETIMEDOUT);
    cr_expect_eq(vg_ring_wait_writable(r, 0, 0), -EINVAL);
    cr_expect_eq(vg_ring_wait_writable(r, 9, 0), -EINVAL);
    vg_ring_pop(r, &x);
    cr_expect_eq(vg_ring_wait_writable(r, 1, 0), 0);
}

Test(ring, close_delivers_what_was_published_then_cancels)
{
    rec32 x = {.seq = 1};
    vg_ring_push(r, &x);
    vg_ring_close(r);
    vg_ring_close(r); /* idempotent */
    cr_expect(vg_ring_closed(r));
    cr_expect_eq(vg_ring_wait_readable(r, -1), 0);
    cr_expect_eq(vg_ring_pop(r, &x), 0);
    cr_expect_eq(vg_ring_wait_readable(r, -1), -ECANCELED);
    cr_expect_eq(vg_ring_wait_writable(r, 1, -1), -ECANCELED);
}

/* claim and peek run inline in C for small counts (under 256 bytes: 7 records of 32 B) and
 * out of line otherwise, and ring.c also holds their external definitions (what C++ and a
 * function pointer call). Every path must hand out the same contiguous slots. */
Test(ring, claim_and_peek_agree_inline_and_out_of_line)
{
    vg_ring *q = NULL;
    cr_assert_eq(vg_ring_new(sizeof(rec32), 64, &q), 0);
    size_t (*claim_ext)(vg_ring *, size_t, void **) = vg_ring_claim;
    size_t (*peek_ext)(vg_ring *, size_t, void **) = vg_ring_peek;
    void (*publish_ext)(vg_ring *, size_t) = vg_ring_publish;
    void (*release_ext)(vg_ring *, size_t) = vg_ring_release;
    uint64_t next_in = 0, next_out = 0;
    char *base = NULL;
    for (int round = 0; round < 2000; round++) {
        size_t want = 1 + (size_t)round % 20; /* 1..20: both sides of the limit */
        int ext = round / 20 % 2;             /* direct (inline) or through a pointer */
        size_t to_wrap = 64 - next_in % 64;
        void *slots = NULL;
        size_t n = ext ? claim_ext(q, want, &slots) : vg_ring_claim(q, want, &slots);
        cr_assert_eq(n, want < to_wrap ? want : to_wrap);
        if (!base)
            base = slots; /* slot 0 */
        cr_assert_eq(slots, base + (next_in % 64) * sizeof(rec32));
        for (size_t i = 0; i < n; i++)
            ((rec32 *)slots)[i].seq = next_in + i;
        if (ext)
            publish_ext(q, n);
        else
            vg_ring_publish(q, n);
        next_in += n;
        void *got = NULL;
        size_t m = ext ? peek_ext(q, 20, &got) : vg_ring_peek(q, 20, &got);
        cr_assert_eq(m, n); /* everything published, up to the wrap point */
        cr_assert_eq(got, slots);
        for (size_t i = 0; i < m; i++)
            cr_assert_eq(((rec32 *)got)[i].seq, next_out + i);
        if (ext)
            release_ext(q, m);
        else
            vg_ring_release(q, m);
        next_out += m;
        cr_assert_eq(vg_ring_depth(q), 0);
    }
    vg_ring_free(&q);
}

/* Releases of 256 bytes or more may evict their cache lines (ring.c), choosing by timing
 * laps; here, over hundreds of laps (so both choices run) with record sizes that leave
 * partial lines at either end and spans that end exactly at the array's end, every record
 * comes back intact. */
Test(ring, bulk_releases_of_odd_sizes_keep_every_record)
{
    static const size_t sizes[] = {24, 40, 100, 1000};
    unsigned char in[64 * 1000], out[64 * 1000];

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t size = sizes[k];
        vg_ring *q = NULL;
        cr_assert_eq(vg_ring_new(size, 16, &q), 0);
        uint64_t next_in = 0, next_out = 0;
        for (int round = 0; round < 3000; round++) {
            size_t n = 1 + (size_t)round * 7 % 16; /* 1..16 records: small and bulk */
            for (size_t i = 0; i < n; i++)
                memset(in + i * size, (int)((next_in + i) & 0xff), size);
            size_t pushed = vg_ring_push_n(q, in, n);
            next_in += pushed;
            size_t got = vg_ring_pop_n(q, out, 16);
            cr_assert_eq(got, pushed);
            for (size_t i = 0; i < got * size; i++)
                cr_assert_eq(out[i], (unsigned char)((next_out + i / size) & 0xff),
                             "size %zu, record %llu", size,
                             (unsigned long long)(next_out + i / size));
            next_out += got;
        }
        cr_assert_gt(next_out, 16 * 300); /* hundreds of laps */
        vg_ring_free(&q);
    }
}
