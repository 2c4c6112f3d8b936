/* What one hand-over between two engine threads costs when the consumer is asleep, by where
 * the two threads run. The engine moves a reading from thread to thread through vg_ring in
 * low-latency mode (ingest -> analysis -> alert); at live rates each consumer has gone to
 * sleep before the next record comes, so every hop is a wake-up. This bench times that hop:
 * the producer stamps a record, pushes it, and the consumer, blocked in
 * vg_ring_wait_readable(), stamps it on arrival. A reply through a second ring lets the
 * producer block too, then it waits 1 ms so the consumer is really asleep again.
 *
 * Placements (threads pinned):
 *   same      both on CPU 0: the reference (no inter-processor interrupt)
 *   cross     producer on CPU 0, consumer on CPU 1, CPU 1 otherwise idle
 *   busy      as cross, with a SCHED_IDLE spinner on CPU 1 standing for other work there
 * Prints p50/p99 per placement and each one's p50 over the reference's.
 *
 * Usage: bench_wake [rounds]   (default 2000) */
#include "vigil/common.h"
#include "vigil/ring.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int rounds = 2000;
static vg_ring *to_cons, *to_prod;
static int64_t *lat;
static atomic_int spin_stop;

static int pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void *consumer(void *arg)
{
    pin((int)(intptr_t)arg);
    for (int i = 0; i < rounds; i++) {
        int64_t sent;
        while (vg_ring_pop(to_cons, &sent) != 0)
            vg_ring_wait_readable(to_cons, -1);
        lat[i] = vg_mono_ns() - sent;
        vg_ring_push(to_prod, &sent);
    }
    return NULL;
}

/* Keeps CPU 1 busy at the lowest priority: any woken thread preempts it at once. */
static void *spinner(void *arg)
{
    (void)arg;
    struct sched_param p = {0};
    pin(1);
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
    while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
        __builtin_ia32_pause();
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Runs one placement; stores p50 and p99 in ns. */
static void run(int cons_cpu, int busy, double *p50, double *p99)
{
    pthread_t tc, ts;
    if (busy) {
        atomic_store(&spin_stop, 0);
        pthread_create(&ts, NULL, spinner, NULL);
    }
    pin(0);
    pthread_create(&tc, NULL, consumer, (void *)(intptr_t)cons_cpu);
    struct timespec gap = {0, 1000000};
    for (int i = 0; i < rounds; i++) {
        nanosleep(&gap, NULL);
        int64_t now = vg_mono_ns(), back;
        vg_ring_push(to_cons, &now);
        while (vg_ring_pop(to_prod, &back) != 0)
            vg_ring_wait_readable(to_prod, -1);
    }
    pthread_join(tc, NULL);
    if (busy) {
        atomic_store(&spin_stop, 1);
        pthread_join(ts, NULL);
    }
    qsort(lat, (size_t)rounds, sizeof(lat[0]), cmp);
    *p50 = (double)lat[rounds / 2];
    *p99 = (double)lat[rounds * 99 / 100];
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (rounds < 100) {
        fprintf(stderr, "usage: bench_wake [rounds >= 100]\n");
        return 2;
    }
    lat = calloc((size_t)rounds, sizeof(lat[0]));
    if (!lat || vg_ring_new(sizeof(int64_t), 64, &to_cons) || vg_ring_new(sizeof(int64_t), 64, &to_prod))
        return 1;
    vg_ring_set_low_latency(to_cons); /* as the engine's rings */
    vg_ring_set_low_latency(to_prod);

    cpu_set_t s;
    if (sched_getaffinity(0, sizeof(s), &s) != 0 || !CPU_ISSET(0, &s) || !CPU_ISSET(1, &s)) {
        fprintf(stderr, "bench_wake: needs CPUs 0 and 1\n");
        return 1;
    }
    static const struct {
        const char *name;
        int cpu, busy;
    } place[] = {{"same", 0, 0}, {"cross", 1, 0}, {"busy", 1, 1}};
    double p50[3], p99[3];
    for (int k = 0; k < 3; k++)
        run(place[k].cpu, place[k].busy, &p50[k], &p99[k]);

    printf("# ring hand-over to a sleeping consumer, %d rounds, 1 ms apart\n", rounds);
    printf("%-8s %10s %10s %14s\n", "placement", "p50_us", "p99_us", "p50/same");
    for (int k = 0; k < 3; k++)
        printf("%-8s %10.1f %10.1f %14.1f\n", place[k].name, p50[k] / 1e3, p99[k] / 1e3,
               p50[k] / p50[0]);
    vg_ring_free(&to_cons);
    vg_ring_free(&to_prod);
    free(lat);
    return 0;
}
