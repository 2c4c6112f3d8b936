/* vigil-count end to end, against the real mosquitto that with-broker.sh started
 * (VG_TEST_MQTT_PORT).
 *
 * Scenario: a subscriber listens on vigil/itest/#. vigil-count runs on a 70-frame clip cut
 * from vtest.avi (as fast as it can decode) and must publish, on
 * vigil/itest/count/<camera>, 12 count messages at 2 Hz of video time in the native schema
 * ({"v":1,"ts":...,"counts":{"left":N,"right":N},"speed_var":{...}}), framed by a health
 * message "ok" first and "stopped" ("end of file") last, on vigil/itest/health/<camera>.
 * Then the camera goes bad: a black clip and a frozen clip are reported as "black" and
 * "frozen" and never produce a count (a blind camera must not look like an empty zone); an
 * unreachable RTSP stream is reported "stopped" and retried until SIGTERM. Configuration
 * errors name the file, the line and the key. Each test uses its own camera id, so the
 * retained health messages of one never reach another. */
#include "vigil/common.h"
#include "vigil/vision.h"

#include "../child.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSGS 512
#define W 768
#define H 576

struct msg {
    char topic[128];
    char payload[512];
};

static struct {
    pthread_mutex_t lock; /* protects everything below */
    int subscribed;
    int n;
    struct msg m[MAX_MSGS];
} rx = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct mosquitto *sub;
static char dir[256];
static int port;

static void on_message(struct mosquitto *m, void *o, const struct mosquitto_message *msg)
{
    pthread_mutex_lock(&rx.lock);
    if (rx.n < MAX_MSGS) {
        snprintf(rx.m[rx.n].topic, sizeof(rx.m[rx.n].topic), "%s", msg->topic);
        snprintf(rx.m[rx.n].payload, sizeof(rx.m[rx.n].payload), "%.*s", msg->payloadlen,
                 (const char *)msg->payload);
        rx.n++;
    }
    pthread_mutex_unlock(&rx.lock);
}

/* Keeps the first retained message for retained_health(). */
static void on_retained(struct mosquitto *m, void *o, const struct mosquitto_message *msg)
{
    char *got = o;
    if (msg->retain && !got[0])
        snprintf(got, 512, "%.*s", msg->payloadlen, (const char *)msg->payload);
}

static void on_subscribe(struct mosquitto *m, void *o, int mid, int n, const int *qos)
{
    pthread_mutex_lock(&rx.lock);
    rx.subscribed = 1;
    pthread_mutex_unlock(&rx.lock);
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls cond() every 10 ms until it holds or deadline_ms passes. */
static int wait_for(int (*cond)(void *), void *arg, int deadline_ms)
{
    int64_t end = vg_mono_ns() + (int64_t)deadline_ms * VG_NS_PER_MS;
    while (vg_mono_ns() < end) {
        if (cond(arg))
            return 1;
        pause_ms(10);
    }
    return cond(arg);
}

static int is_subscribed(void *a)
{
    pthread_mutex_lock(&rx.lock);
    int s = rx.subscribed;
    pthread_mutex_unlock(&rx.lock);
    return s;
}

static void setup(void)
{
    const char *p = getenv("VG_TEST_MQTT_PORT");
    cr_assert(p, "run under tests/with-broker.sh");
    port = atoi(p);
    snprintf(dir, sizeof(dir), "%s/vg-count.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert(mkdtemp(dir));
    rx.n = 0;
    rx.subscribed = 0;
    mosquitto_lib_init();
    sub = mosquitto_new(NULL, true, NULL);
    cr_assert(sub);
    mosquitto_message_callback_set(sub, on_message);
    mosquitto_subscribe_callback_set(sub, on_subscribe);
    cr_assert_eq(mosquitto_connect(sub, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
    cr_assert_eq(mosquitto_subscribe(sub, NULL, "vigil/itest/#", 1), MOSQ_ERR_SUCCESS);
    cr_assert_eq(mosquitto_loop_start(sub), MOSQ_ERR_SUCCESS);
    cr_assert(wait_for(is_subscribed, NULL, 5000), "no SUBACK from the broker");
}

static void teardown(void)
{
    char cmd[300];
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false);
    mosquitto_destroy(sub);
    mosquitto_lib_cleanup();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(count, .init = setup, .fini = teardown, .timeout = 120);

/* ---------------------------------------------------------------- helpers */

static const char *count_exe(void)
{
    static char path[4096];
    const char *b = getenv("VG_BUILD_ROOT");
    cr_assert(b, "VG_BUILD_ROOT is not set");
    snprintf(path, sizeof(path), "%s/src/vision/vigil-count", b);
    return path;
}

/* Writes `frames` frames to PATH: from vtest.avi, or all one grey level (0..255), or the
 * first vtest frame repeated (frozen = 1). */
static void write_clip(const char *path, int frames, int grey, int frozen)
{
    const char *vtest = getenv("VG_TEST_VTEST");
    char uri[4096];
    vg_vision_source_cfg sc = {.uri = uri, .backend = VG_VISION_BACKEND_FFMPEG};
    vg_vision_source *src = NULL;
    vg_vision_writer *w = NULL;
    vg_vision_frame f;
    uint8_t *px = NULL;

    cr_assert(vtest, "VG_TEST_VTEST is not set: run through tests/vision/fetch-vtest.sh");
    snprintf(uri, sizeof(uri), "file:%s", vtest);
    cr_assert_eq(vg_vision_writer_open(path, W, H, 10, &w), 0);
    if (grey >= 0) {
        px = malloc((size_t)W * H * 3);
        cr_assert(px);
        memset(px, grey, (size_t)W * H * 3);
        f = (vg_vision_frame){.data = px, .width = W, .height = H, .stride = W * 3};
    } else {
        cr_assert_eq(vg_vision_source_open(&sc, &src), 0);
    }
    for (int i = 0; i < frames; i++) {
        if (src && (i == 0 || !frozen))
            cr_assert_eq(vg_vision_source_read(src, &f), 0);
        cr_assert_eq(vg_vision_writer_write(w, &f), 0);
    }
    vg_vision_writer_free(&w);
    vg_vision_source_free(&src);
    free(px);
}

/* A complete configuration; `extra` is appended (later keys may not repeat earlier ones,
 * so the variable keys all come through it). */
static void write_cfg(const char *path, const char *camera, const char *source, const char *extra)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f,
            "# test configuration\n"
            "venue = \"itest\";\n"
            "camera = \"%s\";\n"
            "source = \"%s\";\n"
            "broker = { host = \"127.0.0.1\"; port = %d; };\n"
            "calibration = { row_a = 235; height_a_px = 65; row_b = 575; height_b_px = 145; };\n"
            "zones = (\n"
            "  { id = \"left\"; area_m2 = 300.0;\n"
            "    polygon = ( [0, 0], [560, 0], [560, 576], [0, 576] ); },\n"
            "  { id = \"right\"; area_m2 = 150.0;\n"
            "    polygon = ( [560, 0], [768, 0], [768, 576], [560, 576] ); }\n"
            ");\n"
            "%s\n",
            camera, source, port, extra);
    fclose(f);
}

/* Writes text as the whole file at path. */
static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

/* Rewrites the configuration at path with its first `from` replaced by `to`. */
static void replace_in(const char *path, const char *from, const char *to)
{
    char text[4096];
    FILE *f = fopen(path, "r");

    cr_assert(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    fclose(f);
    const char *at = strstr(text, from);
    cr_assert_not_null(at, "%s not in %s", from, path);
    f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    fclose(f);
}

static pid_t spawn_count_args(const char *cfg, const char *err_path, const char *extra)
{
    const char *argv[] = {count_exe(), "--config", cfg, extra, NULL};
    return child_spawn(argv, &(child_io){.err = err_path});
}

static pid_t spawn_count(const char *cfg, const char *err_path)
{
    return spawn_count_args(cfg, err_path, NULL);
}

struct want {
    const char *topic;
    const char *needle;
};

static int has_msg(void *a)
{
    const struct want *w = a;
    int found = 0;
    pthread_mutex_lock(&rx.lock);
    for (int i = 0; i < rx.n && !found; i++)
        found = strcmp(rx.m[i].topic, w->topic) == 0 && strstr(rx.m[i].payload, w->needle);
    pthread_mutex_unlock(&rx.lock);
    return found;
}

static int count_on(const char *topic)
{
    int n = 0;
    pthread_mutex_lock(&rx.lock);
    for (int i = 0; i < rx.n; i++)
        n += strcmp(rx.m[i].topic, topic) == 0;
    pthread_mutex_unlock(&rx.lock);
    return n;
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* Checks one health payload and returns its status (static buffer). */
static const char *health_status(const char *payload)
{
    static char status[32];
    cJSON *o = cJSON_Parse(payload);
    cr_assert(o, "health payload is not JSON: %s", payload);
    cr_assert_eq(cJSON_GetObjectItem(o, "v")->valuedouble, 1);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(o, "ts")), "%s", payload);
    cr_assert_gt(cJSON_GetObjectItem(o, "ts")->valuedouble, 1.5e9);
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(o, "detail")), "%s", payload);
    const cJSON *s = cJSON_GetObjectItem(o, "status");
    cr_assert(cJSON_IsString(s), "%s", payload);
    snprintf(status, sizeof(status), "%s", s->valuestring);
    cJSON_Delete(o);
    return status;
}

/* ---------------------------------------------------------------- tests */

Test(count, counts_arrive_in_the_native_schema_at_the_set_rate)
{
    char clip[300], src[310], cfg[300], err[300];
    const char *ctopic = "vigil/itest/count/cam-clip", *htopic = "vigil/itest/health/cam-clip";
    struct want end = {htopic, "\"stopped\""};
    double prev_ts = 0;
    int n_counts = 0, n_sv = 0;

    snprintf(clip, sizeof(clip), "%s/clip.avi", dir);
    snprintf(src, sizeof(src), "file:%s", clip);
    snprintf(cfg, sizeof(cfg), "%s/count.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_clip(clip, 70, -1, 0);
    write_cfg(cfg, "cam-clip", src, "backend = \"ffmpeg\";\npublish_hz = 2.0;\nflow = true;\n");
    pid_t pid = spawn_count(cfg, err);
    cr_assert_eq(child_wait(pid, 60000), 0, "vigil-count failed:\n%s", slurp(err));
    cr_assert(wait_for(has_msg, &end, 5000), "no \"stopped\" health message");

    pthread_mutex_lock(&rx.lock);
    /* health: "ok" before the first count, "stopped" (end of file) last */
    int first_health = -1, last_health = -1, first_count = -1;
    for (int i = 0; i < rx.n; i++) {
        if (strcmp(rx.m[i].topic, htopic) == 0) {
            if (first_health < 0)
                first_health = i;
            last_health = i;
        } else if (strcmp(rx.m[i].topic, ctopic) == 0 && first_count < 0) {
            first_count = i;
        }
    }
    cr_assert_geq(first_health, 0);
    cr_assert_str_eq(health_status(rx.m[first_health].payload), "ok");
    cr_assert_lt(first_health, first_count);
    cr_assert_str_eq(health_status(rx.m[last_health].payload), "stopped");
    cr_assert(strstr(rx.m[last_health].payload, "end of file"), "%s", rx.m[last_health].payload);

    for (int i = 0; i < rx.n; i++) {
        if (strcmp(rx.m[i].topic, ctopic) != 0)
            continue;
        cJSON *o = cJSON_Parse(rx.m[i].payload);
        cr_assert(o, "not JSON: %s", rx.m[i].payload);
        cr_assert_eq(cJSON_GetObjectItem(o, "v")->valuedouble, 1, "%s", rx.m[i].payload);
        const cJSON *ts = cJSON_GetObjectItem(o, "ts");
        cr_assert(cJSON_IsNumber(ts) && ts->valuedouble > 1.5e9, "%s", rx.m[i].payload);
        /* video time at 2 Hz: exactly 0.5 s apart, whatever the decoding speed */
        if (n_counts > 0)
            cr_assert_float_eq(ts->valuedouble - prev_ts, 0.5, 0.002, "%s", rx.m[i].payload);
        prev_ts = ts->valuedouble;
        const cJSON *counts = cJSON_GetObjectItem(o, "counts");
        cr_assert(cJSON_IsObject(counts), "%s", rx.m[i].payload);
        cr_assert_eq(cJSON_GetArraySize(counts), 2, "%s", rx.m[i].payload);
        const cJSON *l = cJSON_GetObjectItem(counts, "left");
        const cJSON *r = cJSON_GetObjectItem(counts, "right");
        cr_assert(cJSON_IsNumber(l) && cJSON_IsNumber(r), "%s", rx.m[i].payload);
        cr_assert(l->valuedouble >= 0 && l->valuedouble == floor(l->valuedouble));
        cr_assert(r->valuedouble >= 0 && r->valuedouble == floor(r->valuedouble));
        /* the clip never shows more than 9 people in all */
        cr_assert_leq(l->valuedouble + r->valuedouble, 12, "%s", rx.m[i].payload);
        const cJSON *sv = cJSON_GetObjectItem(o, "speed_var");
        if (sv) {
            const cJSON *z;
            cr_assert(cJSON_IsObject(sv), "%s", rx.m[i].payload);
            cJSON_ArrayForEach(z, sv)
            {
                cr_assert(strcmp(z->string, "left") == 0 || strcmp(z->string, "right") == 0);
                cr_assert(cJSON_IsNumber(z) && z->valuedouble >= 0, "%s", rx.m[i].payload);
            }
            n_sv++;
        }
        cJSON_Delete(o);
        n_counts++;
    }
    pthread_mutex_unlock(&rx.lock);
    /* 70 frames at 10 fps (t = 0.0 .. 6.9 s); the first second trains the background, so
     * the first estimate comes with the frame at t = 1.0 s; then one message every 0.5 s of
     * video: t = 1.0, 1.5, ..., 6.5 s */
    cr_assert_eq(n_counts, 12, "got %d count messages", n_counts);
    cr_assert_gt(n_sv, 0, "flow is on and people walk: speed_var expected");
}

static void bad_camera(const char *camera, int grey, int frozen, const char *status)
{
    char clip[300], src[310], cfg[300], err[300], ctopic[128], htopic[128];
    snprintf(ctopic, sizeof(ctopic), "vigil/itest/count/%s", camera);
    snprintf(htopic, sizeof(htopic), "vigil/itest/health/%s", camera);
    struct want bad = {htopic, status}, end = {htopic, "end of file"};

    snprintf(clip, sizeof(clip), "%s/bad.avi", dir);
    snprintf(src, sizeof(src), "file:%s", clip);
    snprintf(cfg, sizeof(cfg), "%s/bad.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_clip(clip, 30, grey, frozen);
    write_cfg(cfg, camera, src, "backend = \"ffmpeg\";\nfrozen_after_s = 0.5;\n");
    pid_t pid = spawn_count(cfg, err);
    cr_assert_eq(child_wait(pid, 60000), 0, "vigil-count failed:\n%s", slurp(err));
    cr_assert(wait_for(has_msg, &end, 5000), "no end-of-file health message");
    cr_assert(has_msg(&bad), "no %s health message", status);
    cr_assert_eq(count_on(ctopic), 0, "a %s camera must not publish counts", status);
}

Test(count, black_clip_is_reported_black_and_never_counted)
{
    bad_camera("cam-black", 0, 0, "\"black\"");
}

Test(count, frozen_clip_is_reported_frozen_and_never_counted)
{
    bad_camera("cam-frozen", -1, 1, "\"frozen\"");
}

Test(count, unreachable_stream_is_reported_stopped_until_shut_down)
{
    char cfg[300], err[300];
    const char *htopic = "vigil/itest/health/cam-rtsp";
    struct want down = {htopic, "cannot open"}, bye = {htopic, "vigil-count stopped"};

    snprintf(cfg, sizeof(cfg), "%s/rtsp.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_cfg(cfg, "cam-rtsp", "rtsp://127.0.0.1:1/none",
              "backend = \"ffmpeg\";\nopen_timeout_ms = 1000;\n");
    pid_t pid = spawn_count(cfg, err);
    cr_assert(wait_for(has_msg, &down, 15000), "no stopped health message:\n%s", slurp(err));
    cr_assert(has_msg(&(struct want){htopic, "\"stopped\""}));
    cr_assert_eq(count_on("vigil/itest/count/cam-rtsp"), 0);
    kill(pid, SIGTERM);
    cr_assert_eq(child_wait(pid, 10000), 0, "%s", slurp(err));
    cr_assert(wait_for(has_msg, &bye, 5000), "no shutdown health message");
}

Test(count, config_errors_name_file_line_and_key)
{
    char cfg[300], err[300], want[400];

    snprintf(cfg, sizeof(cfg), "%s/bad.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_text(cfg,
               "venue = \"itest\";\n"
               "camera = \"c\";\n"
               "source = \"file:/x.avi\";\n"
               "backend = \"ffmpeg\";\n"
               "calibration = { row_a = 235; height_a_px = 65; row_b = 575; height_b_px = 145; };\n"
               "zones = (\n"
               "  { id = \"z\";\n"
               "    area_m2 = -4.0;\n" /* line 8 */
               "    polygon = ( [0, 0], [10, 0], [10, 10] ); }\n"
               ");\n");
    cr_assert_eq(child_wait(spawn_count(cfg, err), 10000), 2);
    snprintf(want, sizeof(want), "%s:8: zones.[0].area_m2", cfg);
    cr_assert(strstr(slurp(err), want), "stderr: %s", slurp(err));

    /* a backend that cannot read the source */
    write_cfg(cfg, "c", "v4l2:/dev/video0", "backend = \"ffmpeg\";\n");
    cr_assert_eq(child_wait(spawn_count(cfg, err), 10000), 2);
    snprintf(want, sizeof(want), "%s:13: backend", cfg);
    cr_assert(strstr(slurp(err), want), "stderr: %s", slurp(err));

    /* a syntax error */
    write_text(cfg, "venue = \"itest\"\ncamera = ;\n");
    cr_assert_eq(child_wait(spawn_count(cfg, err), 10000), 2);
    snprintf(want, sizeof(want), "%s:2: syntax", cfg);
    cr_assert(strstr(slurp(err), want), "stderr: %s", slurp(err));

    /* no such file */
    snprintf(cfg, sizeof(cfg), "%s/none.cfg", dir);
    cr_assert_eq(child_wait(spawn_count(cfg, err), 10000), 2);
    cr_assert(strstr(slurp(err), "none.cfg"), "stderr: %s", slurp(err));
}

/* Every configuration check, with --check (no broker, no video): exit 2 and FILE:LINE: KEY
 * with the reason; and the command line's own errors. */
Test(count, each_config_check_and_usage_error_exits_2_naming_it)
{
    static const struct {
        const char *from, *to, *want; /* want: after "FILE:", lines of write_cfg()'s text */
    } cases[] = {
        {"\"itest\"", "\"it/est\"", "2: venue"},
        {"camera = \"c\"", "camera = \"\"", "3: camera"},
        {"camera = \"c\"", "camera = \"caf\xc3\xa9\"", "3: camera: \"caf\xc3\xa9\" is not an id"},
        {"file:/x.avi", "ftp://x", "4: source"},
        {"\"ffmpeg\"", "\"gstreamer\"", "13: backend"},
        {"row_b = 575", "row_b = 240", "6: calibration.row_b: must be at least 10 rows"},
        {"calibration = { row_a = 235; height_a_px = 65; row_b = 575; height_b_px = 145; };",
         "", "calibration: missing"},
        /* unknown keys: a typo must not silently keep a default */
        {"calibration = {", "calib = {", "6: calib: unknown key"},
        {"backend = \"ffmpeg\";", "backend = \"ffmpeg\"; publish_hzz = 50;",
         "13: publish_hzz: unknown key"},
        {"port = ", "prot = 1; port = ", "5: broker.prot: unknown key"},
        {"id = \"right\";", "id = \"right\"; colour = 1;", "10: zones.[1].colour: unknown key"},
        {"[768, 0], [768, 576]", "[\"a\", \"b\"], [768, 576]",
         "11: zones.[1].polygon: corner 1 must be two numbers"},
        {"\"right\"", "\"left\"", "10: zones.[1].id: \"left\" is already zone 0"},
        {"[560, 0], [768, 0], [768, 576], [560, 576]", "[560, 0], [768, 0]",
         "11: zones.[1].polygon: must be a list of 3"},
        {"[768, 0], [768, 576]", "[9000, 0], [768, 576]", "11: zones.[1].polygon: corner 1"},
        {"[768, 0], [768, 576]", "[768, 0, 1], [768, 576]", "must be [x, y]"},
    };
    char cfg[300], err[300], want[600];
    snprintf(cfg, sizeof(cfg), "%s/check.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_cfg(cfg, "c", "file:/x.avi", "backend = \"ffmpeg\";");
    cr_assert_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000), 0,
                 "the base is valid: %s", slurp(err));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_cfg(cfg, "c", "file:/x.avi", "backend = \"ffmpeg\";");
        replace_in(cfg, cases[i].from, cases[i].to);
        cr_expect_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000), 2, "%s: %s",
                     cases[i].to, slurp(err));
        snprintf(want, sizeof(want), "%s:%s", cfg, cases[i].want);
        cr_expect(strstr(slurp(err), cases[i].want) && strstr(slurp(err), cfg),
                  "%s: want \"%s\", got: %s", cases[i].to, want, slurp(err));
    }
    /* the command line */
    const char *const argvs[][4] = {
        {"--config", cfg, "--log-level", "loud"},
        {"--frobnicate", NULL, NULL, NULL},
        {"--check", NULL, NULL, NULL},
    };
    const char *const wants[] = {"unknown log level loud", "usage: vigil-count",
                                 "usage: vigil-count"};
    for (size_t i = 0; i < 3; i++) {
        const char *argv[6] = {count_exe()};
        for (int k = 0; k < 4; k++)
            argv[k + 1] = argvs[i][k];
        cr_expect_eq(child_run(argv, &(child_io){.err = err}, 10000), 2, "%s", wants[i]);
        cr_expect(strstr(slurp(err), wants[i]), "want \"%s\", got: %s", wants[i], slurp(err));
    }
}

/* A file source that cannot be opened is a failure of this run: exit 1, after a "stopped"
 * health message naming it. */
Test(count, missing_video_file_exits_1)
{
    char cfg[300], err[300];
    snprintf(cfg, sizeof(cfg), "%s/missing.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_cfg(cfg, "c", "file:/nonexistent/clip.avi", "backend = \"ffmpeg\";\n");
    cr_assert_eq(child_wait(spawn_count(cfg, err), 15000), 1, "%s", slurp(err));
    cr_assert(strstr(slurp(err), "/nonexistent/clip.avi"), "%s", slurp(err));
}

/* A retained health message as a console connecting now would get it (NULL: none in 3 s). */
static char *retained_health(const char *topic)
{
    static char got[512];
    struct mosquitto *m = mosquitto_new(NULL, true, got);
    got[0] = '\0';
    cr_assert(m);
    mosquitto_message_callback_set(m, on_retained);
    cr_assert_eq(mosquitto_connect(m, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
    cr_assert_eq(mosquitto_subscribe(m, NULL, topic, 1), MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 300 && !got[0]; i++)
        mosquitto_loop(m, 10, 1);
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    return got[0] ? got : NULL;
}

/* vigil-count killed outright (SIGKILL: no goodbye) while it counts a live camera: the broker
 * publishes its will, a retained "stopped" (at once when the connection drops, at the latest
 * after 1.5 keepalives); a console that connects afterwards still learns the camera is down. */
Test(count, a_killed_counter_leaves_a_retained_stopped_health)
{
    char clip[300], src[310], cfg[300], err[300];
    const char *htopic = "vigil/itest/health/cam-kill";
    struct want ok = {htopic, "\"ok\""}, gone = {htopic, "lost its broker connection"};

    snprintf(clip, sizeof(clip), "%s/clip.avi", dir);
    snprintf(src, sizeof(src), "file:%s", clip);
    snprintf(cfg, sizeof(cfg), "%s/kill.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_clip(clip, 300, -1, 0); /* 30 s played at its frame rate */
    write_cfg(cfg, "cam-kill", src, "backend = \"ffmpeg\";\nrealtime = true;\n");
    pid_t pid = spawn_count(cfg, err);
    cr_assert(wait_for(has_msg, &ok, 15000), "no ok health: %s", slurp(err));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert(wait_for(has_msg, &gone, 15000), "no will within 15 s");
    const char *kept = retained_health(htopic);
    cr_assert_not_null(kept, "no retained health message");
    cr_assert_str_eq(health_status(kept), "stopped", "%s", kept);
    /* flagged as the will, so the engine takes it at its arrival, not at the ts it was
     * written with when vigil-count connected (tests/unit/test_ingest.c) */
    cr_assert(strstr(kept, "\"will\":true"), "%s", kept);
}

Test(count, shipped_example_configs_are_valid)
{
    const char *names[] = {"vtest.cfg", "gate3-rtsp.cfg", "concourse-v4l2.cfg"};
    const char *root = getenv("VG_SOURCE_ROOT");
    char cfg[4096], err[300];

    cr_assert(root, "VG_SOURCE_ROOT is not set");
    snprintf(err, sizeof(err), "%s/stderr", dir);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(cfg, sizeof(cfg), "%s/models/cameras/%s", root, names[i]);
        cr_assert_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000), 0, "%s: %s", names[i],
                     slurp(err));
    }
}

/* Polygons that contain no foot are refused by --check (a zone reading 0 forever would be
 * reported as empty), and so is a polygon written as a group, whose corner order is hidden. */
Test(count, check_refuses_polygons_without_area)
{
    static const char *const polys[] = {
        "[5, 5], [5, 5], [5, 5]",
        "[0, 0], [100, 100], [200, 200]",
    };
    char cfg[300], err[300], want[400];
    const char *from = "[560, 0], [768, 0], [768, 576], [560, 576]";

    snprintf(cfg, sizeof(cfg), "%s/area.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    snprintf(want, sizeof(want), "%s:11: zones.[1].polygon", cfg);
    for (size_t i = 0; i < 3; i++) {
        write_cfg(cfg, "c", "file:/x.avi", "backend = \"ffmpeg\";");
        if (i < 2)
            replace_in(cfg, from, polys[i]);
        else /* a group { a = [x, y]; ... } in place of the list ( ... ) */
            replace_in(cfg, "( [560, 0], [768, 0], [768, 576], [560, 576] )",
                       "{ a = [560, 0]; b = [768, 0]; c = [768, 576]; }");
        cr_expect_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000), 2, "%zu: %s", i,
                     slurp(err));
        cr_expect(strstr(slurp(err), want), "%zu: want \"%s\", got: %s", i, want, slurp(err));
        cr_expect(strstr(slurp(err), i < 2 ? "no area" : "must be a list"), "%zu: %s", i,
                  slurp(err));
    }
}

/* A zone that passes the file's checks but lies off the video's frames: counting cannot
 * start (exit 1) and the error names the zone, instead of publishing 0 people forever. */
Test(count, zone_off_the_frame_exits_1_naming_it)
{
    char clip[300], src[310], cfg[300], err[300];

    snprintf(clip, sizeof(clip), "%s/clip.avi", dir);
    snprintf(src, sizeof(src), "file:%s", clip);
    snprintf(cfg, sizeof(cfg), "%s/off.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_clip(clip, 5, 128, 0);
    write_cfg(cfg, "cam-off", src, "backend = \"ffmpeg\";");
    replace_in(cfg, "[560, 0], [768, 0], [768, 576], [560, 576]",
               "[1000, 1000], [1900, 1000], [1900, 1070]");
    cr_assert_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000), 0, "%s", slurp(err));
    cr_assert_eq(child_wait(spawn_count(cfg, err), 15000), 1, "%s", slurp(err));
    cr_assert(strstr(slurp(err), "zone right has no pixel in the frame"), "%s", slurp(err));
}

/* `fps` corrects the file's stated rate for the frames' times, which drive publication: the
 * 10 fps clip's 70 frames configured at 20 fps last 3.45 s of video time, so after the
 * first second of training it publishes at t = 1.0, 1.5, ..., 3.0 s: 5 counts, 0.5 s apart. */
Test(count, configured_fps_sets_the_video_time)
{
    char clip[300], src[310], cfg[300], err[300];
    const char *ctopic = "vigil/itest/count/cam-fps", *htopic = "vigil/itest/health/cam-fps";
    struct want end = {htopic, "\"stopped\""};
    double prev_ts = 0;
    int n_counts = 0;

    snprintf(clip, sizeof(clip), "%s/clip.avi", dir);
    snprintf(src, sizeof(src), "file:%s", clip);
    snprintf(cfg, sizeof(cfg), "%s/fps.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_clip(clip, 70, -1, 0);
    write_cfg(cfg, "cam-fps", src, "backend = \"ffmpeg\";\npublish_hz = 2.0;\nfps = 20.0;\n");
    cr_assert_eq(child_wait(spawn_count(cfg, err), 60000), 0, "vigil-count failed:\n%s",
                 slurp(err));
    cr_assert(wait_for(has_msg, &end, 5000), "no \"stopped\" health message");
    pthread_mutex_lock(&rx.lock);
    for (int i = 0; i < rx.n; i++) {
        if (strcmp(rx.m[i].topic, ctopic) != 0)
            continue;
        cJSON *o = cJSON_Parse(rx.m[i].payload);
        cr_assert(o, "not JSON: %s", rx.m[i].payload);
        double ts = cJSON_GetObjectItem(o, "ts")->valuedouble;
        if (n_counts > 0)
            cr_assert_float_eq(ts - prev_ts, 0.5, 0.002, "%s", rx.m[i].payload);
        prev_ts = ts;
        cJSON_Delete(o);
        n_counts++;
    }
    pthread_mutex_unlock(&rx.lock);
    cr_assert_eq(n_counts, 5, "got %d count messages", n_counts);
}

/* A missing top-level key has no line to point at: FILE: KEY, never FILE:0: KEY. */
Test(count, missing_top_level_key_is_reported_without_a_line)
{
    char cfg[300], err[300], want[400];

    snprintf(cfg, sizeof(cfg), "%s/bad.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    write_text(cfg, "camera = \"c\";\n");
    cr_assert_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000), 2, "%s", slurp(err));
    snprintf(want, sizeof(want), "%s: venue: missing", cfg);
    cr_assert(strstr(slurp(err), want), "want \"%s\", got: %s", want, slurp(err));
    cr_assert_null(strstr(slurp(err), ":0:"), "%s", slurp(err));
}

/* Integer keys refuse fractions rather than truncate them. */
Test(count, integer_keys_refuse_fractions)
{
    static const struct {
        const char *from, *to, *want;
    } cases[] = {
        {"backend = \"ffmpeg\";", "backend = \"ffmpeg\"; threads = 1.5;", "13: threads: 1.5"},
        {"backend = \"ffmpeg\";", "backend = \"ffmpeg\"; open_timeout_ms = 1000.5;",
         "13: open_timeout_ms: 1000.5"},
        {"port = ", "keepalive_s = 30.5; port = ", "5: broker.keepalive_s: 30.5"},
        {"backend = \"ffmpeg\";", "backend = \"ffmpeg\"; threads = 2.0;", NULL}, /* whole: ok */
    };
    char cfg[300], err[300], port_is[32];

    snprintf(cfg, sizeof(cfg), "%s/int.cfg", dir);
    snprintf(err, sizeof(err), "%s/stderr", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_cfg(cfg, "c", "file:/x.avi", "backend = \"ffmpeg\";");
        replace_in(cfg, cases[i].from, cases[i].to);
        cr_expect_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000),
                     cases[i].want ? 2 : 0, "%s: %s", cases[i].to, slurp(err));
        if (cases[i].want)
            cr_expect(strstr(slurp(err), cases[i].want) && strstr(slurp(err), "whole number"),
                      "%s: want \"%s\", got: %s", cases[i].to, cases[i].want, slurp(err));
    }
    /* port: write_cfg writes the broker's; replace its value */
    write_cfg(cfg, "c", "file:/x.avi", "backend = \"ffmpeg\";");
    snprintf(port_is, sizeof(port_is), "port = %d;", port);
    replace_in(cfg, port_is, "port = 1883.5;");
    cr_expect_eq(child_wait(spawn_count_args(cfg, err, "--check"), 10000), 2, "%s", slurp(err));
    cr_expect(strstr(slurp(err), "5: broker.port: 1883.5 is not a whole number"), "%s",
              slurp(err));
}
