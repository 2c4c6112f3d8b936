/* vigil-count: counts people per zone in one camera's video and publishes the counts (and
 * the camera's health) to MQTT in Vigil's native schema.
 *
 *   vigil-count --config FILE [--log-level LEVEL]
 *
 * DESIGN
 * Two threads. The main thread owns the video source and the counter (vision.h); the
 * mosquitto loop thread (mosquitto_loop_start) owns the socket, reconnects with backoff
 * (1 s doubling to 30 s) and runs the callbacks, which only touch the atomics in struct pub.
 * Counts go to vigil/<venue>/count/<camera> at publish_hz of event (frame) time, QoS 1, from a
 * stable client id with a persistent session. Health goes to vigil/<venue>/health/<camera>,
 * QoS 1, retained, whenever it changes; the broker publishes a retained "stopped" for us as
 * our will if the connection dies. While the camera is not healthy no counts are published:
 * a camera that shows nothing must never look like an empty zone. Files end with a
 * "stopped" health message ("end of file") and exit 0; a live stream that stops is reported
 * and reopened with backoff. */
#include "count.h"
#include "vigil/common.h"
#include "vigil/vision.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC_MAX 256

struct pub {
    struct mosquitto *mosq; /* owned by main; its callbacks run on the loop thread */
    pthread_mutex_t lock;   /* protects connected, acked and health; cond signals both */
    pthread_cond_t cond;
    int connected;
    char *health;    /* the last health message, sent again on every (re)connection */
    unsigned acked;  /* QoS 1 messages the broker confirmed */
    unsigned sent;   /* main thread only */
    uint64_t failed; /* main thread only: publishes the library refused */
    char count_topic[TOPIC_MAX];
    char health_topic[TOPIC_MAX];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    struct pub *p = obj;
    if (rc != 0) {
        vg_warn("broker refused the connection: %s", mosquitto_connack_string(rc));
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->connected = 1;
    pthread_cond_broadcast(&p->cond);
    /* After a dropped connection the broker has published the will ("stopped") and keeps it
     * as the retained health: say again what is true now. */
    if (p->health)
        mosquitto_publish(m, NULL, p->health_topic, (int)strlen(p->health), p->health, 1, true);
    pthread_mutex_unlock(&p->lock);
    vg_info("connected to the broker");
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    struct pub *p = obj;
    pthread_mutex_lock(&p->lock);
    p->connected = 0;
    pthread_mutex_unlock(&p->lock);
    if (rc != 0)
        vg_warn("lost the broker (%s); reconnecting", mosquitto_strerror(rc));
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    struct pub *p = obj;
    pthread_mutex_lock(&p->lock);
    p->acked++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Waits until connected or until timeout_ms; returns 1 when connected. */
static int wait_connected(struct pub *p, int timeout_ms)
{
    struct timespec dl;
    int ok;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->lock);
    while (!p->connected && !stop_requested)
        if (pthread_cond_timedwait(&p->cond, &p->lock, &dl) == ETIMEDOUT)
            break;
    ok = p->connected;
    pthread_mutex_unlock(&p->lock);
    return ok;
}

static void publish(struct pub *p, const char *topic, const char *payload, int retain)
{
    int rc = mosquitto_publish(p->mosq, NULL, topic, (int)strlen(payload), payload, 1, retain);
    if (rc == MOSQ_ERR_SUCCESS) {
        p->sent++;
        return;
    }
    if (p->failed++ == 0 || p->failed % 1000 == 0)
        vg_warn("publish on %s failed (%s); %llu so far", topic, mosquitto_strerror(rc),
                (unsigned long long)p->failed);
}

/* The health message: {"v":1,"ts":...,"status":"...","detail":"..."}, with "will":true for
 * the MQTT will (the engine then takes the time it arrives); returns malloc'd text. */
static char *health_json(int64_t t_ns, enum vg_vision_health h, const char *detail, int will)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (!o)
        return NULL;
    snprintf(ts, sizeof(ts), "%.3f", (double)t_ns / 1e9);
    if (cJSON_AddNumberToObject(o, "v", 1) && cJSON_AddRawToObject(o, "ts", ts) &&
        cJSON_AddStringToObject(o, "status", vg_vision_health_name(h)) &&
        cJSON_AddStringToObject(o, "detail", detail ? detail : "") &&
        (!will || cJSON_AddTrueToObject(o, "will")))
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void publish_health(struct pub *p, int64_t t_ns, enum vg_vision_health h, const char *detail)
{
    char *s = health_json(t_ns, h, detail, 0);
    if (!s) {
        vg_error("out of memory building a health message");
        return;
    }
    publish(p, p->health_topic, s, 1);
    pthread_mutex_lock(&p->lock);
    free(p->health);
    p->health = strdup(s);
    pthread_mutex_unlock(&p->lock);
    if (h == VG_VISION_HEALTH_OK)
        vg_info("camera health: ok");
    else
        vg_warn("camera health: %s (%s)", vg_vision_health_name(h), detail);
    free(s);
}

/* {"v":1,"ts":...,"counts":{...}[,"speed_var":{...}]} */
static int publish_counts(struct pub *p, const vg_count_cfg *cfg, vg_vision_counter *ctr,
                          int64_t t_ns)
{
    char ts[32], num[32];
    cJSON *o = cJSON_CreateObject(), *counts, *sv = NULL;
    char *s = NULL;
    int r = -ENOMEM, n_sv = 0;

    if (!o)
        return -ENOMEM;
    snprintf(ts, sizeof(ts), "%.3f", (double)t_ns / 1e9);
    if (!cJSON_AddNumberToObject(o, "v", 1) || !cJSON_AddRawToObject(o, "ts", ts) ||
        !(counts = cJSON_AddObjectToObject(o, "counts")))
        goto out;
    if (cfg->counter.flow && !(sv = cJSON_CreateObject()))
        goto out;
    for (int i = 0; i < cfg->counter.n_zones; i++) {
        int count;
        double var;
        r = vg_vision_counter_zone(ctr, i, &count, &var);
        if (r < 0)
            goto out; /* -EAGAIN: still learning the background */
        r = -ENOMEM;
        if (!cJSON_AddNumberToObject(counts, cfg->counter.zones[i].id, count))
            goto out;
        if (sv && isfinite(var)) {
            snprintf(num, sizeof(num), "%.4f", var);
            if (!cJSON_AddRawToObject(sv, cfg->counter.zones[i].id, num))
                goto out;
            n_sv++;
        }
    }
    if (sv && n_sv > 0) {
        cJSON_AddItemToObject(o, "speed_var", sv);
        sv = NULL;
    }
    s = cJSON_PrintUnformatted(o);
    if (!s)
        goto out;
    publish(p, p->count_topic, s, 0);
    r = 0;
out:
    free(s);
    cJSON_Delete(sv);
    cJSON_Delete(o);
    return r;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vigil-count --config FILE [--check] [--log-level error|warn|info|debug]\n"
               "  --check  validate the configuration file and exit\n"
               "Counts people per zone in one camera's video and publishes the counts on\n"
               "vigil/<venue>/count/<camera> and the camera's health on\n"
               "vigil/<venue>/health/<camera> (see docs/vision.md).\n");
}

static void sleep_until_mono(int64_t t_ns)
{
    struct timespec ts = {(time_t)(t_ns / VG_NS_PER_S), (long)(t_ns % VG_NS_PER_S)};
    while (!stop_requested && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* For the error message when the counter refuses kc: the first zone off the frame. The
 * file's checks passed, so that is the likely cause once the frame size is known. */
static const char *zone_off_frame(const vg_vision_counter_cfg *kc)
{
    for (int i = 0; i < kc->n_zones; i++)
        if (vg_vision_zone_in_frame(&kc->zones[i], kc->width, kc->height) == 0)
            return kc->zones[i].id;
    return NULL;
}

static int open_source(const vg_count_cfg *cfg, vg_vision_source **ret)
{
    vg_vision_source_cfg sc = {
        .uri = cfg->source,
        .backend = cfg->backend,
        .open_timeout_ms = cfg->open_timeout_ms,
        .read_timeout_ms = (int)lround(cfg->stopped_after_s * 1000),
        .file_start_ns = 0,
        /* realtime: play the file like a camera, dropping frames if counting falls behind */
        .live = strncmp(cfg->source, "file:", 5) == 0 && cfg->realtime,
        .fps = cfg->fps, /* files: stamp and pace at the configured rate, not the file's */
    };
    return vg_vision_source_open(&sc, ret);
}

/* Counts until the file ends, the process is told to stop, or a fatal error. */
static int run(const vg_count_cfg *cfg, struct pub *p)
{
    int is_file = strncmp(cfg->source, "file:", 5) == 0;
    vg_vision_source *src = NULL;
    vg_vision_counter *ctr = NULL;
    vg_vision_counter_cfg kc = cfg->counter;
    enum vg_vision_health shown = (enum vg_vision_health) - 1;
    char shown_detail[160] = "", detail[160];
    int64_t next_pub = 0, period = (int64_t)llround(1e9 / cfg->publish_hz);
    double backoff_s = 1;
    int r = 0;

    while (!stop_requested) {
        vg_vision_frame fr;
        if (!src) {
            r = open_source(cfg, &src);
            if (r < 0) {
                snprintf(detail, sizeof(detail), "cannot open %.100s: %s", cfg->source,
                         vg_strerror(r));
                if (shown != VG_VISION_HEALTH_STOPPED || strcmp(detail, shown_detail) != 0) {
                    publish_health(p, vg_wall_ns(), VG_VISION_HEALTH_STOPPED, detail);
                    shown = VG_VISION_HEALTH_STOPPED;
                    snprintf(shown_detail, sizeof(shown_detail), "%s", detail);
                }
                if (is_file)
                    return r;
                sleep_until_mono(vg_mono_ns() + (int64_t)(backoff_s * 1e9));
                backoff_s = fmin(backoff_s * 2, cfg->reconnect_max_s);
                continue;
            }
            vg_info("opened %s", cfg->source);
        }
        r = vg_vision_source_read(src, &fr);
        if (r == -ENODATA) {
            publish_health(p, vg_wall_ns(), VG_VISION_HEALTH_STOPPED, "end of file");
            r = 0;
            break;
        }
        if (r == -ETIMEDOUT || r == -EIO) {
            if (r == -ETIMEDOUT)
                snprintf(detail, sizeof(detail), "no frame for %.1f s", cfg->stopped_after_s);
            else
                snprintf(detail, sizeof(detail), "stream lost: %s", vg_strerror(r));
            if (shown != VG_VISION_HEALTH_STOPPED) {
                publish_health(p, vg_wall_ns(), VG_VISION_HEALTH_STOPPED, detail);
                shown = VG_VISION_HEALTH_STOPPED;
                snprintf(shown_detail, sizeof(shown_detail), "%s", detail);
            }
            if (is_file)
                break; /* a broken file does not heal */
            if (r == -EIO) {
                /* reopen with backoff: a camera that accepts and then drops the stream must
                 * not be hammered; the backoff resets once frames flow */
                vg_vision_source_free(&src);
                sleep_until_mono(vg_mono_ns() + (int64_t)(backoff_s * 1e9));
                backoff_s = fmin(backoff_s * 2, cfg->reconnect_max_s);
            }
            continue;
        }
        if (r < 0)
            break;
        backoff_s = 1;
        if (!ctr || fr.width != kc.width || fr.height != kc.height) {
            vg_vision_counter_free(&ctr);
            kc.width = fr.width;
            kc.height = fr.height;
            kc.fps = cfg->fps > 0 ? cfg->fps : vg_vision_source_fps(src);
            if (!(kc.fps > 0))
                kc.fps = 10;
            r = vg_vision_counter_new(&kc, &ctr);
            if (r < 0) {
                const char *zone = r == -EINVAL ? zone_off_frame(&kc) : NULL;
                vg_error("cannot count %dx%d frames with this configuration: %s%s%s%s",
                         fr.width, fr.height, vg_strerror(r), zone ? "; zone " : "",
                         zone ? zone : "", zone ? " has no pixel in the frame" : "");
                break;
            }
            vg_info("counting %d zone(s) in %dx%d frames at %.1f fps", kc.n_zones, fr.width,
                    fr.height, kc.fps);
            next_pub = 0;
        }
        r = vg_vision_counter_process(ctr, &fr);
        if (r < 0) {
            vg_warn("frame skipped: %s", vg_strerror(r));
            continue;
        }
        enum vg_vision_health h = vg_vision_counter_health(ctr, detail, sizeof(detail));
        int count0;
        double var0;
        /* The first second only trains the model: no verdict, no counts yet. */
        if (h == VG_VISION_HEALTH_OK && vg_vision_counter_zone(ctr, 0, &count0, &var0) == -EAGAIN)
            continue;
        if (h != shown) {
            publish_health(p, fr.t_ns, h, detail);
            shown = h;
            snprintf(shown_detail, sizeof(shown_detail), "%s", detail);
        }
        if (h != VG_VISION_HEALTH_OK)
            continue;
        if (fr.t_ns >= next_pub) {
            if (publish_counts(p, cfg, ctr, fr.t_ns) == 0)
                next_pub =
                    next_pub && fr.t_ns - next_pub < period ? next_pub + period : fr.t_ns + period;
        }
    }
    if (stop_requested) {
        publish_health(p, vg_wall_ns(), VG_VISION_HEALTH_STOPPED, "vigil-count stopped");
        r = 0; /* asked to stop: whatever failed last is no longer an error */
    } else if (r < 0 && shown != VG_VISION_HEALTH_STOPPED) {
        /* giving up: the clean disconnect that follows suppresses the will, so say it */
        snprintf(detail, sizeof(detail), "vigil-count gave up: %s", vg_strerror(r));
        publish_health(p, vg_wall_ns(), VG_VISION_HEALTH_STOPPED, detail);
    }
    if (src && vg_vision_source_dropped(src))
        vg_info("%llu stale frames dropped", (unsigned long long)vg_vision_source_dropped(src));
    vg_vision_counter_free(&ctr);
    vg_vision_source_free(&src);
    return r;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int check_only = 0;
    vg_count_cfg *cfg;
    char err[512];
    struct pub p = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct sigaction sa = {.sa_handler = on_signal};
    int r, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            enum vg_log_level lv;
            if (vg_log_parse_level(argv[++i], &lv) < 0) {
                fprintf(stderr, "vigil-count: unknown log level %s\n", argv[i]);
                return 2;
            }
            vg_log_set_level(lv);
        } else if (strcmp(argv[i], "--check") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    cfg = malloc(sizeof(*cfg));
    if (!cfg) {
        fprintf(stderr, "vigil-count: out of memory\n");
        return 1;
    }
    r = vg_count_cfg_load(path, cfg, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "vigil-count: %s\n", err);
        free(cfg);
        return 2;
    }
    if (check_only) {
        printf("%s: ok: camera %s of venue %s, %s via %s, %d zone(s), broker %s:%d\n", path,
               cfg->camera, cfg->venue, cfg->source,
               cfg->backend == VG_VISION_BACKEND_V4L2 ? "v4l2" : "ffmpeg", cfg->counter.n_zones,
               cfg->broker_host, cfg->broker_port);
        free(cfg);
        return 0;
    }
    snprintf(p.count_topic, sizeof(p.count_topic), "vigil/%s/count/%s", cfg->venue, cfg->camera);
    snprintf(p.health_topic, sizeof(p.health_topic), "vigil/%s/health/%s", cfg->venue, cfg->camera);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    mosquitto_lib_init();
    p.mosq = mosquitto_new(cfg->client_id, false, &p); /* persistent session */
    if (!p.mosq) {
        vg_error("cannot create the MQTT client: %s", vg_strerror(-errno));
        goto out_lib;
    }
    mosquitto_connect_callback_set(p.mosq, on_connect);
    mosquitto_disconnect_callback_set(p.mosq, on_disconnect);
    mosquitto_publish_callback_set(p.mosq, on_publish);
    /* The broker gets the same backoff as the video source (docs/vision.md). */
    mosquitto_reconnect_delay_set(p.mosq, 1, (unsigned)cfg->reconnect_max_s, true);
    if (cfg->username[0])
        mosquitto_username_pw_set(p.mosq, cfg->username, cfg->password[0] ? cfg->password : NULL);
    {
        char *will = health_json(vg_wall_ns(), VG_VISION_HEALTH_STOPPED,
                                 "vigil-count lost its broker connection", 1);
        if (will) {
            mosquitto_will_set(p.mosq, p.health_topic, (int)strlen(will), will, 1, true);
            free(will);
        }
    }
    r = mosquitto_connect_async(p.mosq, cfg->broker_host, cfg->broker_port, cfg->keepalive_s);
    if (r != MOSQ_ERR_SUCCESS)
        vg_warn("broker %s:%d: %s; retrying in the background", cfg->broker_host, cfg->broker_port,
                mosquitto_strerror(r));
    if (mosquitto_loop_start(p.mosq) != MOSQ_ERR_SUCCESS) {
        vg_error("cannot start the MQTT thread");
        goto out_mosq;
    }
    if (!wait_connected(&p, 5000))
        vg_warn("no broker at %s:%d yet; counting anyway", cfg->broker_host, cfg->broker_port);

    r = run(cfg, &p);
    if (r < 0)
        vg_error("%s: %s", cfg->source, vg_strerror(r));
    rc = r < 0 ? 1 : 0;

    /* Let the broker confirm what we sent (QoS 1) before hanging up. */
    {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 5;
        pthread_mutex_lock(&p.lock);
        while (p.acked < p.sent && p.connected)
            if (pthread_cond_timedwait(&p.cond, &p.lock, &dl) == ETIMEDOUT)
                break;
        if (p.acked < p.sent)
            vg_warn("%u message(s) not confirmed by the broker", p.sent - p.acked);
        pthread_mutex_unlock(&p.lock);
    }
    mosquitto_disconnect(p.mosq);
    mosquitto_loop_stop(p.mosq, false);
out_mosq:
    mosquitto_destroy(p.mosq);
out_lib:
    mosquitto_lib_cleanup();
    free(p.health);
    free(cfg);
    return rc;
}
