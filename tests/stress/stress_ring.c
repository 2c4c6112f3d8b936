/* Two threads push N records (default 100 million) through one ring in batches of varying
 * sizes, through every producer and consumer entry point, with pauses on either side so both
 * the full/sleep and the empty/sleep paths run. The consumer checks that every record comes
 * once, in order, with intact contents. Exit 0 only if all N arrived exactly once. Then the
 * same with N/4 records on a ring in low-latency mode (full barriers instead of membarrier).
 * Usage: stress_ring [N]   (or VG_STRESS_RECORDS=N). Run under ThreadSanitizer in CI. */
#include "vigil/common.h"
#include "vigil/ring.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint64_t seq;
    uint64_t check; /* seq scrambled: a torn or stale record fails the check */
    uint64_t pad[2];
} rec;

static uint64_t scramble(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    return x ^ (x >> 29);
}

/* xorshift: deterministic batch sizes and pauses */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void nap(void)
{
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}

static vg_ring *ring;
static uint64_t total;

static void fill(rec *x, uint64_t seq)
{
    x->seq = seq;
    x->check = scramble(seq);
}

static void *producer(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "stress-prod");
    uint64_t s = 0x9e3779b97f4a7c15u, seq = 0;
    rec batch[300];
    while (seq < total) {
        uint64_t r = rnd(&s);
        size_t want = 1 + (size_t)(r % 300);
        if (want > total - seq)
            want = (size_t)(total - seq);
        if (vg_ring_wait_writable(ring, 1, -1) != 0)
            return (void *)1;
        switch ((r >> 20) % 3) {
        case 0: { /* zero-copy claim / publish */
            void *slots;
            size_t n = vg_ring_claim(ring, want, &slots);
            for (size_t i = 0; i < n; i++)
                fill((rec *)slots + i, seq + i);
            vg_ring_publish(ring, n);
            seq += n;
            break;
        }
        case 1: /* copying batch */
            for (size_t i = 0; i < want; i++)
                fill(&batch[i], seq + i);
            seq += vg_ring_push_n(ring, batch, want);
            break;
        default: /* one at a time */
            fill(&batch[0], seq);
            if (vg_ring_push(ring, &batch[0]) == 0)
                seq++;
        }
        if ((r >> 40) % 200000 == 0)
            nap(); /* let the consumer find the ring empty and sleep */
    }
    vg_ring_close(ring);
    return NULL;
}

/* One run of `records`; 1 when every record came once, in order, intact. */
static int run(uint64_t records, int low_latency)
{
    total = records;
    if (vg_ring_new(sizeof(rec), 1024, &ring) != 0)
        return 0;
    if (low_latency)
        vg_ring_set_low_latency(ring);
    pthread_t t;
    pthread_create(&t, NULL, producer, NULL);

    uint64_t s = 12345, expect = 0, bad = 0;
    rec batch[300];
    for (;;) {
        int e = vg_ring_wait_readable(ring, -1);
        if (e == -ECANCELED)
            break;
        if (e != 0) {
            fprintf(stderr, "wait_readable: %s\n", vg_strerror(e));
            return 0;
        }
        uint64_t r = rnd(&s);
        size_t max = 1 + (size_t)(r % 300), n;
        const rec *got;
        if ((r >> 20) % 2) {
            void *slots;
            n = vg_ring_peek(ring, max, &slots);
            got = slots;
        } else {
            n = vg_ring_pop_n(ring, batch, max);
            got = batch;
        }
        for (size_t i = 0; i < n; i++, expect++)
            if (got[i].seq != expect || got[i].check != scramble(expect)) {
                if (bad++ < 10)
                    fprintf(stderr, "record %" PRIu64 ": got seq %" PRIu64 "\n", expect,
                            got[i].seq);
                expect = got[i].seq; /* resynchronise to count further damage */
            }
        if (got != batch)
            vg_ring_release(ring, n);
        if ((r >> 40) % 200000 == 0)
            nap(); /* let the producer find the ring full and sleep */
    }
    void *pr;
    pthread_join(t, &pr);
    vg_ring_free(&ring);
    printf("stress_ring%s: %" PRIu64 " records, %" PRIu64 " received, %" PRIu64
           " out of order\n", low_latency ? " (low latency)" : "", total, expect, bad);
    return pr == NULL && bad == 0 && expect == total;
}

int main(int argc, char **argv)
{
    const char *env = getenv("VG_STRESS_RECORDS");
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10)
                 : env  ? strtoull(env, NULL, 10)
                        : UINT64_C(100000000);
    int ok = run(n, 0) && run(n / 4, 1);
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
