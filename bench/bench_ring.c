/* Ring throughput against Concurrency Kit's ck_ring, in the same run, on the same 32-byte
 * records: a producer thread and a consumer thread move N records through a 4096-slot ring
 * in batches of 1, 16, 64, 256 and 2048. Vigil publishes a batch with one atomic store
 * (claim / publish, peek / release); ck_ring has no batch publish, so it moves the batch one record
 * at a time, its fastest SPSC use. Both spin with a pause when full or empty.
 * The machine is shared and its speed drifts (other jobs; the hypervisor moving the vCPUs),
 * so the cases run in REPS rounds, each round every batch size on both rings, alternating
 * which goes first; a ratio is taken within a round (vigil / ck_ring at that batch size, and
 * vigil / ck_ring at batch 1 of the same round) and the medians over the rounds are printed.
 * It first prints the cross-core round trip (two threads bouncing a counter), which tells what
 * a cache line transfer costs on this machine right now.
 * Then the idle case: the CPU time a consumer blocked in vg_ring_wait_readable() uses while
 * a producer trickles one record every 50 ms.
 * Usage: bench_ring [records_per_case]   (default 20 million) */
#include "vigil/common.h"
#include "vigil/ring.h"

#include <ck_ring.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAP 4096
#define REPS 7
#define NBATCH 5
/* 2048 (half the ring per publish) is not a target: it shows the ceiling that the cache line
 * transfers between the two cores leave once the per-batch hand-over is negligible. */
static const size_t batches[NBATCH] = {1, 16, 64, 256, 2048};

struct rec {
    uint64_t seq;
    uint64_t a, b, c;
};
CK_RING_PROTOTYPE(rec, rec)

static uint64_t n_records;
static size_t batch;

#define relax() __builtin_ia32_pause()

/* ---- vigil ---- */
static vg_ring *vr;

static void *vg_producer(void *arg)
{
    (void)arg;
    uint64_t seq = 0;
    while (seq < n_records) {
        void *slots;
        size_t want = batch;
        if (want > n_records - seq)
            want = (size_t)(n_records - seq);
        size_t n = vg_ring_claim(vr, want, &slots);
        if (n == 0) {
            relax();
            continue;
        }
        struct rec *r = slots;
        for (size_t i = 0; i < n; i++)
            r[i] = (struct rec){seq + i, 1, 2, 3};
        vg_ring_publish(vr, n);
        seq += n;
    }
    return NULL;
}

static uint64_t vg_consume(void)
{
    uint64_t seq = 0, sum = 0;
    while (seq < n_records) {
        void *slots;
        size_t n = vg_ring_peek(vr, batch, &slots);
        if (n == 0) {
            relax();
            continue;
        }
        const struct rec *r = slots;
        for (size_t i = 0; i < n; i++)
            sum += r[i].seq;
        vg_ring_release(vr, n);
        seq += n;
    }
    return sum;
}

/* ---- ck_ring ---- */
static ck_ring_t ckr;
static struct rec *ckbuf;

static void *ck_producer(void *arg)
{
    (void)arg;
    uint64_t seq = 0;
    while (seq < n_records) {
        size_t want = batch;
        if (want > n_records - seq)
            want = (size_t)(n_records - seq);
        for (size_t i = 0; i < want;) {
            struct rec r = {seq, 1, 2, 3};
            if (ck_ring_enqueue_spsc_rec(&ckr, ckbuf, &r)) {
                i++;
                seq++;
            } else {
                relax();
            }
        }
    }
    return NULL;
}

static uint64_t ck_consume(void)
{
    uint64_t seq = 0, sum = 0;
    while (seq < n_records) {
        for (size_t i = 0; i < batch && seq < n_records;) {
            struct rec r;
            if (ck_ring_dequeue_spsc_rec(&ckr, ckbuf, &r)) {
                sum += r.seq;
                i++;
                seq++;
            } else {
                relax();
            }
        }
    }
    return sum;
}

static double run(void *(*prod)(void *), uint64_t (*cons)(void))
{
    pthread_t t;
    int64_t t0 = vg_mono_ns();
    pthread_create(&t, NULL, prod, NULL);
    uint64_t sum = cons();
    pthread_join(t, NULL);
    int64_t dt = vg_mono_ns() - t0;
    if (sum != n_records * (n_records - 1) / 2) {
        fprintf(stderr, "bench_ring: checksum mismatch\n");
        exit(1);
    }
    return (double)n_records / ((double)dt / 1e9);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void reset_vg(void)
{
    vg_ring_free(&vr);
    if (vg_ring_new(sizeof(struct rec), CAP, &vr) != 0)
        exit(1);
}

static void reset_ck(void)
{
    ck_ring_init(&ckr, CAP);
}

static double median(double *x)
{
    qsort(x, REPS, sizeof(x[0]), cmp);
    return x[REPS / 2];
}

/* ---- cross-core round trip ---- */
static _Alignas(128) _Atomic uint64_t ping;
static _Alignas(128) _Atomic uint64_t pong;
#define BOUNCES 100000

static void *bouncer(void *arg)
{
    (void)arg;
    for (uint64_t i = 1; i <= BOUNCES; i++) {
        /* Acquire/release pairs between the two loops; no other data is shared. */
        while (atomic_load_explicit(&ping, memory_order_acquire) != i)
            relax();
        atomic_store_explicit(&pong, i, memory_order_release);
    }
    return NULL;
}

/* Nanoseconds per round trip of a counter between two threads; the best of 5 runs. */
static double round_trip_ns(void)
{
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        atomic_store(&ping, 0);
        atomic_store(&pong, 0);
        pthread_t t;
        pthread_create(&t, NULL, bouncer, NULL);
        int64_t t0 = vg_mono_ns();
        for (uint64_t i = 1; i <= BOUNCES; i++) {
            atomic_store_explicit(&ping, i, memory_order_release);
            while (atomic_load_explicit(&pong, memory_order_acquire) != i)
                relax();
        }
        double ns = (double)(vg_mono_ns() - t0) / BOUNCES;
        pthread_join(t, NULL);
        if (ns < best)
            best = ns;
    }
    return best;
}

/* ---- idle ---- */
static volatile int idle_stop;

static void *trickle(void *arg)
{
    (void)arg;
    struct rec r = {0};
    struct timespec ts = {0, 50 * 1000 * 1000};
    while (!idle_stop) {
        nanosleep(&ts, NULL);
        vg_ring_push(vr, &r);
    }
    vg_ring_close(vr);
    return NULL;
}

static double idle_cpu_percent(double seconds)
{
    reset_vg();
    pthread_t t;
    idle_stop = 0;
    pthread_create(&t, NULL, trickle, NULL);
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    int64_t w0 = vg_mono_ns(), end = w0 + (int64_t)(seconds * 1e9);
    struct rec r;
    while (vg_mono_ns() < end) {
        if (vg_ring_wait_readable(vr, end - vg_mono_ns()) == 0)
            vg_ring_pop(vr, &r);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    int64_t w1 = vg_mono_ns();
    idle_stop = 1;
    pthread_join(t, NULL);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec);
    return 100.0 * cpu / (double)(w1 - w0);
}

int main(int argc, char **argv)
{
    n_records = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
    ckbuf = aligned_alloc(64, CAP * sizeof(struct rec));
    printf("# ring: %llu records of 32 B per case, capacity %d, medians of %d rounds\n",
           (unsigned long long)n_records, CAP, REPS);
    printf("cross_core_round_trip_ns %.0f\n", round_trip_ns());
    /* v, c: rates per batch size and round; ratio within the round */
    static double v[NBATCH][REPS], c[NBATCH][REPS], ratio[NBATCH][REPS], vs1[NBATCH][REPS];
    for (int k = 0; k < REPS; k++) {
        for (int i = 0; i < NBATCH; i++) {
            batch = batches[i];
            if (k % 2) {
                reset_ck();
                c[i][k] = run(ck_producer, ck_consume);
                reset_vg();
                v[i][k] = run(vg_producer, vg_consume);
            } else {
                reset_vg();
                v[i][k] = run(vg_producer, vg_consume);
                reset_ck();
                c[i][k] = run(ck_producer, ck_consume);
            }
        }
        for (int i = 0; i < NBATCH; i++) {
            ratio[i][k] = v[i][k] / c[i][k];
            vs1[i][k] = v[i][k] / c[0][k];
        }
    }
    printf("%-8s %14s %14s %8s %16s\n", "batch", "vigil_rec_s", "ck_ring_rec_s", "ratio",
           "vs_ck_batch1");
    for (int i = 0; i < NBATCH; i++)
        printf("%-8zu %14.0f %14.0f %8.2f %16.2f\n", batches[i], median(v[i]), median(c[i]),
               median(ratio[i]), median(vs1[i]));
    printf("idle_consumer_cpu_percent %.3f\n", idle_cpu_percent(3.0));
    vg_ring_free(&vr);
    free(ckbuf);
    return 0;
}
