/* Stress of the engine's threads without a broker, for ThreadSanitizer: this thread is the
 * ingest side (vg_engine_submit parses and pushes into the readings ring, blocking when it is
 * full), vg-analysis consumes and ticks every 5 ms, vg-publish writes event lines and calls
 * back, vg-archive writes the reject log, and a reader thread scrapes the counters (status and
 * metrics text) the whole time, and a reload thread switches the venue model back and forth
 * (vg_engine_reload) while readings flow. Several start/stop cycles; each must account for
 * every message: readings processed = readings pushed, refusals by reason as sent, rings
 * empty. The two models differ so that a reading resolved with one and applied with the
 * other is refused out_of_range: in both, the index after t1's holds a CO2 sensor (range
 * 300-10000) that t1's values (15-34) are outside of. */
#include "vigil/common.h"
#include "vigil/engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "stress_engine: %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static atomic_long events_seen;
static atomic_int reading_done, reload_done;
static const char *model_files[2];

static void on_event(void *ctx, const vg_alert_event *ev)
{
    (void)ctx;
    (void)ev;
    atomic_fetch_add(&events_seen, 1);
}

static void *reader(void *arg)
{
    vg_engine *e = arg;
    char *buf = malloc(1 << 16);
    long scrapes = 0;
    while (!atomic_load(&reading_done)) {
        vg_engine_metrics_text(e, buf, 1 << 16);
        vg_engine_status(e, buf, 1024);
        scrapes++;
    }
    free(buf);
    return (void *)scrapes;
}

static void *reloader(void *arg)
{
    vg_engine *e = arg;
    char err[512];
    long accepted = 0;
    for (int i = 0; !atomic_load(&reload_done); i++) {
        int r = vg_engine_reload(e, model_files[i % 2], err, sizeof(err));
        CHECK(r == 0 || r == -EBUSY, "reload: %s", err);
        accepted += r == 0;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return (void *)accepted;
}

/* src with the first `old` replaced by `repl`, in a temporary file (the caller unlinks it). */
static void write_variant(const char *src, char *path, const char *old, const char *repl)
{
    char text[16384];
    FILE *f = fopen(src, "r");
    CHECK(f, "%s", src);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, old);
    CHECK(at, "'%s' not in %s", old, src);
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    f = fdopen(fd, "w");
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(repl, f);
    fputs(at + strlen(old), f);
    fclose(f);
}

int main(void)
{
    char model_path[4096], msg[256];
    const char *root = getenv("VG_SOURCE_ROOT");
    vg_model *m;
    vg_model_error err;
    const int cycles = 3, per_cycle = getenv("VG_STRESS_N") ? atoi(getenv("VG_STRESS_N")) : 60000;

    char first[] = "/tmp/vg-stress-model-XXXXXX", second[] = "/tmp/vg-stress-model-XXXXXX";
    snprintf(model_path, sizeof(model_path), "%s/tests/data/payloads/venue.cfg", root ? root : ".");
    /* first: sensors t1, c1 (now 300-10000), ...; second: t0 (CO2), t1, c1, ... */
    write_variant(model_path, first, "zone = \"z2\"; min = 0.0;", "zone = \"z2\"; min = 300.0;");
    write_variant(first, second, "sensors = (\n",
                  "sensors = (\n  { id = \"t0\"; kind = \"co2\"; unit = \"ppm\"; zone = \"z1\"; "
                  "min = 300.0; max = 10000.0; period_s = 10.0; },\n");
    CHECK(vg_model_load(first, &m, &err) == 0, "%s:%d: %s", err.file, err.line, err.message);
    model_files[0] = second;
    model_files[1] = first;
    vg_log_set_level(VG_LOG_WARN);

    for (int c = 0; c < cycles; c++) {
        vg_engine_cfg cfg;
        vg_engine *e;
        vg_engine_stats st;
        pthread_t th, th_reload;
        void *scrapes, *reloads;
        long long s0 = (long long)(vg_wall_ns() / VG_NS_PER_S);
        uint64_t good = 0, helps = 0, bad = 0;

        atomic_store(&events_seen, 0);
        atomic_store(&reading_done, 0);
        atomic_store(&reload_done, 0);
        vg_engine_cfg_default(&cfg);
        cfg.model = m;
        cfg.use_broker = 0;
        cfg.reading_ring = 256; /* small: the producer must block and resume often */
        cfg.event_ring = 16;
        cfg.reject_ring = 64;
        cfg.archive_ring = 64;
        cfg.tick_ns = 5 * VG_NS_PER_MS;
        cfg.startup_grace_ns = 0;
        cfg.events_path = "/dev/null";
        cfg.rejects_path = "/dev/null";
        /* Short windows: ingest_rejects (a fifth of the messages are bad) raises and clears
         * while vg-rejects keeps writing the refused topic it names. */
        cfg.rejects_window_ns = 20 * VG_NS_PER_MS;
        cfg.on_event = on_event;
        CHECK(vg_engine_new(&cfg, &e) == 0, "new");
        CHECK(vg_engine_start(e) == 0, "start");
        pthread_create(&th, NULL, reader, e);
        pthread_create(&th_reload, NULL, reloader, e);
        for (int i = 0; i < per_cycle; i++) {
            const char *topic;
            int n;
            int64_t now = vg_wall_ns();
            long long s = (long long)(now / VG_NS_PER_S);
            switch (i % 10) {
            case 0:
                topic = "vigil/testvenue/count/cam1";
                n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%06d,\"counts\":{\"z1\":%d,\"z2\":%d}}",
                             s, i % 1000000, i % 500, (i / 3) % 300);
                good += 2;
                break;
            case 1:
                topic = "vigil/testvenue/sensor/nosuch";
                n = snprintf(msg, sizeof(msg), "{}");
                bad++;
                break;
            case 2:
                topic = "vigil/testvenue/help/h1";
                n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%06d,\"type\":\"security\"}", s,
                             i % 1000000);
                helps++;
                break;
            case 3:
                topic = "vigil/testvenue/sensor/t1";
                n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%06d,\"value\":", s, i % 1000000);
                bad++;
                break;
            default:
                topic = "vigil/testvenue/sensor/t1";
                n = snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%06d,\"value\":%d}", s, i % 1000000,
                             15 + i % 20);
                good++;
                break;
            }
            CHECK(vg_engine_submit(e, topic, msg, (size_t)n, now) == 0, "submit %d", i);
        }
        atomic_store(&reload_done, 1);
        pthread_join(th_reload, &reloads);
        vg_engine_stop(e);
        atomic_store(&reading_done, 1);
        pthread_join(th, &scrapes);
        vg_engine_stats_get(e, &st);
        uint64_t readings = 0;
        for (int k = 0; k < VG_INGEST_SRC_COUNT_; k++)
            readings += st.ingest.readings[k];
        CHECK(st.ingest.messages == (uint64_t)per_cycle, "messages %llu", (unsigned long long)st.ingest.messages);
        CHECK(readings == good + helps, "readings %llu", (unsigned long long)readings);
        CHECK(st.processed == readings, "processed %llu of %llu", (unsigned long long)st.processed,
              (unsigned long long)readings);
        uint64_t arej = 0;
        for (int k = 0; k < VG_INGEST_REJECT_SLOTS; k++)
            arej += st.rejects_analysis[k];
        CHECK(st.accepted + arej == readings, "accepted %llu + refused %llu",
              (unsigned long long)st.accepted, (unsigned long long)arej);
        CHECK(st.ingest.rejects[VG_REJECT_UNKNOWN_SENSOR] + st.ingest.rejects[VG_REJECT_MALFORMED] == bad,
              "ingest refusals");
        CHECK(st.events == (uint64_t)atomic_load(&events_seen), "events %llu, callbacks %ld",
              (unsigned long long)st.events, atomic_load(&events_seen));
        CHECK(st.rejects_analysis[VG_REJECT_OUT_OF_RANGE] == 0,
              "%llu readings applied with the wrong model",
              (unsigned long long)st.rejects_analysis[VG_REJECT_OUT_OF_RANGE]);
        /* The last accepted reload may still wait for a message when the cycle ends. */
        CHECK(st.reloads >= 1 && (long)st.reloads <= (long)reloads &&
                  (long)st.reloads + 1 >= (long)reloads,
              "reloads: %llu switched of %ld accepted", (unsigned long long)st.reloads,
              (long)reloads);
        for (int k = 0; k < 4; k++)
            CHECK(st.depth[k] == 0, "ring %d not drained: %zu", k, st.depth[k]);
        printf("cycle %d: %d messages, %llu readings, %llu accepted, %llu refused, %llu events, "
               "%llu ring waits, %ld scrapes, %llu ticks, %llu reloads (%llds)\n",
               c, per_cycle, (unsigned long long)readings, (unsigned long long)st.accepted,
               (unsigned long long)st.rejects_total, (unsigned long long)st.events,
               (unsigned long long)st.ingest.ring_waits, (long)scrapes,
               (unsigned long long)st.ticks, (unsigned long long)st.reloads,
               (long long)(vg_wall_ns() / VG_NS_PER_S) - s0);
        vg_engine_free(&e);
    }
    vg_model_free(&m);
    unlink(first);
    unlink(second);
    puts("stress_engine: ok");
    return 0;
}
