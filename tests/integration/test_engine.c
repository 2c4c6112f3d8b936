/* Scenarios for the `vigil run` program against a real mosquitto (tests/with-broker.sh):
 * - a scrape of --metrics finds counters that match what was published: readings by
 *   source, refusals by reason, processed readings; SIGUSR1 logs a status line; SIGTERM
 *   stops it cleanly (exit 0).
 * - the engine is killed (SIGKILL) and restarted with the same client id: what the broker
 *   queued for its persistent QoS 1 session meanwhile is processed, all of it.
 * - a help-point press comes out as a medical alert event line (--events FILE).
 * - reload of the venue model while running (control socket "reload", SIGHUP): a sensor the
 *   new model adds is accepted, alerts keep their ids, a removed sensor is unknown and its
 *   alert is published "removed"; bad, foreign-venue and missing files are refused and the
 *   engine goes on with the old model.
 * - bad usage and a bad model exit with status 2. */
#include "vigil/archive.h"
#include "vigil/common.h"

#include "../archive_fixture.h"
#include "child.h"
#include "itest_util.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static int port;
static char tmp[512], model_path[4096];

static void setup(void)
{
    const char *ps = getenv("VG_TEST_MQTT_PORT"), *root = getenv("VG_SOURCE_ROOT");
    cr_assert_not_null(ps, "run under tests/with-broker.sh");
    cr_assert_not_null(getenv("VG_VIGIL"));
    port = atoi(ps);
    snprintf(model_path, sizeof(model_path), "%s/tests/data/payloads/venue.cfg", root ? root : ".");
    snprintf(tmp, sizeof(tmp), "%s/engine-XXXXXX", getenv("VG_TEST_TMPDIR") ? getenv("VG_TEST_TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(tmp));
    mosquitto_lib_init();
}

/* Every vigil this test started, so a failed assertion does not leave one running. */
static pid_t spawned[8];
static int n_spawned;

static void teardown(void)
{
    for (int i = 0; i < n_spawned; i++)
        if (spawned[i] > 0 && kill(spawned[i], SIGKILL) == 0)
            waitpid(spawned[i], NULL, 0);
    mosquitto_lib_cleanup();
}

TestSuite(engine, .init = setup, .fini = teardown, .timeout = 240);

/* Starts `vigil run` with the common flags and `extra` (NULL-terminated). stderr goes to
 * tmp/<log>. */
static pid_t vigil_start(const char *log, const char *client_id, int metrics_port,
                         const char *const *extra)
{
    char broker[64], metrics[64], logpath[600];
    const char *argv[64];
    int k = 0;

    snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", port);
    snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", metrics_port);
    snprintf(logpath, sizeof(logpath), "%s/%s", tmp, log);
    argv[k++] = getenv("VG_VIGIL");
    argv[k++] = "run";
    argv[k++] = "--model";
    argv[k++] = model_path;
    argv[k++] = "--broker";
    argv[k++] = broker;
    argv[k++] = "--client-id";
    argv[k++] = client_id;
    argv[k++] = "--metrics";
    argv[k++] = metrics;
    argv[k++] = "--tick-ms";
    argv[k++] = "200";
    /* Any free ports: tests run side by side, the defaults would collide. */
    argv[k++] = "--feeds";
    argv[k++] = "tcp://127.0.0.1:*";
    argv[k++] = "--control";
    argv[k++] = "tcp://127.0.0.1:*";
    for (int i = 0; extra && extra[i]; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    const pid_t pid = child_spawn(argv, &(child_io){.err = logpath, .append_err = true});
    if (n_spawned < 8)
        spawned[n_spawned++] = pid;
    return pid;
}

/* ---- QoS 1 publisher ---- */

static atomic_int acked, connacked;
static void on_pub(struct mosquitto *m, void *obj, int mid)
{
    atomic_fetch_add(&acked, 1);
}

static void on_pub_connect(struct mosquitto *m, void *obj, int rc)
{
    if (rc == 0)
        atomic_store(&connacked, 1);
}

static struct mosquitto *pub_open(void)
{
    struct mosquitto *m = mosquitto_new(NULL, true, NULL);
    mosquitto_publish_callback_set(m, on_pub);
    mosquitto_connect_callback_set(m, on_pub_connect);
    atomic_store(&connacked, 0);
    cr_assert_eq(mosquitto_connect(m, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
    cr_assert_eq(mosquitto_loop_start(m), MOSQ_ERR_SUCCESS);
    atomic_store(&acked, 0);
    /* Publish only after CONNACK: libmosquitto re-sends (DUP) every QoS 1 message still
     * unacknowledged when the CONNACK arrives, and the broker forwards both copies. */
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (!atomic_load(&connacked)) {
        cr_assert_lt(vg_mono_ns(), end, "publisher got no CONNACK");
        nap_ms(2);
    }
    return m;
}

static void pub(struct mosquitto *m, const char *topic, const char *payload)
{
    cr_assert_eq(mosquitto_publish(m, NULL, topic, (int)strlen(payload), payload, 1, false),
                 MOSQ_ERR_SUCCESS);
}

static void pub_close(struct mosquitto *m, int sent)
{
    int64_t end = vg_mono_ns() + 30 * VG_NS_PER_S;
    while (atomic_load(&acked) < sent && vg_mono_ns() < end)
        nap_ms(2);
    cr_assert_eq(atomic_load(&acked), sent);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
}

static void sensor_msg(char *buf, size_t cap, int i, double v)
{
    snprintf(buf, cap, "{\"v\":1,\"ts\":%lld.%06d,\"value\":%g}",
             (long long)(vg_wall_ns() / VG_NS_PER_S), i, v);
}

static int file_has(const char *name, const char *needle)
{
    char path[700], line[8192];
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

Test(engine, metrics_scrape_matches_what_was_sent)
{
    int mport = free_port();
    char msg[256];
    pid_t pid = vigil_start("metrics.log", "vg-it-engine-metrics", mport, NULL);

    cr_assert_eq(wait_metric(mport, "vigil_mqtt_connected", 1, 15000), 1, "engine connected");
    nap_ms(200); /* SUBACK after CONNACK */
    struct mosquitto *m = pub_open();
    int sent = 0;
    for (int i = 0; i < 500; i++, sent++) {
        sensor_msg(msg, sizeof(msg), i, 20 + i % 3);
        pub(m, "vigil/testvenue/sensor/t1", msg);
    }
    for (int i = 0; i < 20; i++, sent++) {
        snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"in\":1,\"out\":0}",
                 (long long)(vg_wall_ns() / VG_NS_PER_S) - 1 - i);
        pub(m, "vigil/testvenue/line/l1", msg);
    }
    for (int i = 0; i < 7; i++, sent++)
        pub(m, "vigil/testvenue/sensor/t1", "{\"v\":1,\"ts\":");
    for (int i = 0; i < 4; i++, sent++)
        pub(m, "vigil/testvenue/sensor/ghost", "{}");
    for (int i = 0; i < 3; i++, sent++)
        pub(m, "frigate/fz1/person", "-1");
    pub_close(m, sent);

    cr_assert_eq(wait_metric(mport, "vigil_messages_total", sent, 30000), sent);
    cr_assert_eq(wait_metric(mport, "vigil_readings_processed_total", 520, 30000), 520);
    const char *t = scrape(mport);
    cr_assert_not_null(t);
    cr_assert_eq(metric(t, "vigil_readings_total{source=\"sensor\"}"), 500);
    cr_assert_eq(metric(t, "vigil_readings_total{source=\"line\"}"), 20);
    cr_assert_eq(metric(t, "vigil_readings_total{source=\"frigate\"}"), 0);
    cr_assert_eq(metric(t, "vigil_rejects_total{stage=\"ingest\",reason=\"malformed\"}"), 7);
    cr_assert_eq(metric(t, "vigil_rejects_total{stage=\"ingest\",reason=\"unknown_sensor\"}"), 4);
    cr_assert_eq(metric(t, "vigil_rejects_total{stage=\"ingest\",reason=\"negative_count\"}"), 3);
    cr_assert_eq(metric(t, "vigil_rejects_total{stage=\"ingest\",reason=\"duplicate\"}"), 0);
    cr_assert_eq(metric(t, "vigil_ring_capacity{ring=\"readings\"}"), 65536);
    cr_assert_geq(wait_metric(mport, "vigil_ticks_total", 1, 10000), 1, "ticks after the grace");

    /* SIGUSR1: a status line with the same numbers; SIGTERM: clean exit. */
    kill(pid, SIGUSR1);
    int64_t end = vg_mono_ns() + 5 * VG_NS_PER_S;
    while (!file_has("metrics.log", "messages 534, readings 520") && vg_mono_ns() < end)
        nap_ms(20);
    cr_assert_eq(file_has("metrics.log", "messages 534, readings 520"), 1);
    kill(pid, SIGTERM);
    cr_assert_eq(child_wait(pid, 10000), 0, "SIGTERM: drained and exited 0");
    cr_assert_geq(file_has("metrics.log", "stopping, draining"), 1);
}

Test(engine, restart_processes_what_the_broker_queued_meanwhile)
{
    int mport = free_port();
    char msg[256];
    const int queued = 2000;
    pid_t pid = vigil_start("restart.log", "vg-it-engine-restart", mport, NULL);

    if (wait_metric(mport, "vigil_mqtt_connected", 1, 15000) != 1) {
        char path[700], line[512];
        snprintf(path, sizeof(path), "%s/restart.log", tmp);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f))
            cr_log_error("vigil: %s", line);
        if (f)
            fclose(f);
        cr_assert_fail("vigil run did not connect (log above)");
    }
    nap_ms(300); /* the subscription is in place: the session exists at the broker */
    kill(pid, SIGKILL);
    cr_assert_eq(child_wait(pid, 5000), 128 + SIGKILL);

    struct mosquitto *m = pub_open();
    for (int i = 0; i < queued; i++) {
        sensor_msg(msg, sizeof(msg), i, 30);
        pub(m, "vigil/testvenue/sensor/t1", msg);
    }
    pub_close(m, queued);

    mport = free_port();
    pid = vigil_start("restart.log", "vg-it-engine-restart", mport, NULL);
    cr_assert_eq(wait_metric(mport, "vigil_messages_total", queued, 30000), queued);
    cr_assert_eq(wait_metric(mport, "vigil_readings_processed_total", queued, 30000), queued);
    const char *t = scrape(mport);
    cr_assert_eq(metric(t, "vigil_readings_total{source=\"sensor\"}"), queued);
    /* The startup grace lets the queued readings in before the first watermark. */
    cr_assert_eq(metric(t, "vigil_readings_accepted_total"), queued);
    kill(pid, SIGTERM);
    cr_assert_eq(child_wait(pid, 10000), 0);
}

Test(engine, help_press_becomes_a_medical_event_line)
{
    int mport = free_port();
    char events[700], msg[256];
    snprintf(events, sizeof(events), "%s/events.jsonl", tmp);
    const char *extra[] = {"--events", events, NULL};
    pid_t pid = vigil_start("help.log", "vg-it-engine-help", mport, extra);

    cr_assert_eq(wait_metric(mport, "vigil_mqtt_connected", 1, 15000), 1);
    nap_ms(200);
    struct mosquitto *m = pub_open();
    snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld,\"type\":\"medical\"}",
             (long long)(vg_wall_ns() / VG_NS_PER_S));
    pub(m, "vigil/testvenue/help/h1", msg);
    pub_close(m, 1);
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (!file_has("events.jsonl", "\"kind\":\"help_medical\"") && vg_mono_ns() < end)
        nap_ms(50);
    kill(pid, SIGTERM);
    cr_assert_eq(child_wait(pid, 10000), 0);
    cr_assert_eq(file_has("events.jsonl", "\"kind\":\"help_medical\""), 1);
    cr_assert_eq(file_has("events.jsonl", "\"feed\":\"medical\""), 1);
    cr_assert_eq(file_has("events.jsonl", "\"zone\":\"z1\""), 1);
}

/* Runs `vigil run ARGS` (stdout dropped); returns its exit status and, with err, its
 * stderr (free it). */
static int run_status_err(const char *const *args, char **err)
{
    const char *argv[32];
    char err_path[600];
    int k = 0;
    argv[k++] = getenv("VG_VIGIL");
    argv[k++] = "run";
    for (int i = 0; args[i]; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    snprintf(err_path, sizeof(err_path), "%s/run-stderr.txt", tmp);
    const int status = child_run(argv, &(child_io){.err = err_path}, 10000);
    if (err)
        *err = read_file(err_path);
    return status;
}

static int run_status(const char *const *args)
{
    return run_status_err(args, NULL);
}

/* Every refusal of a bad command line or model: exit 2 with a message that names it. */
Test(engine, bad_usage_and_bad_model_exit_2)
{
    char passfile[600];
    snprintf(passfile, sizeof(passfile), "%s/password.txt", tmp);
    FILE *pf = fopen(passfile, "w");
    cr_assert_not_null(pf);
    fputs("secret\n", pf);
    fclose(pf);
    char emptyfile[600];
    snprintf(emptyfile, sizeof(emptyfile), "%s/empty.txt", tmp);
    pf = fopen(emptyfile, "w");
    cr_assert_not_null(pf);
    fclose(pf);
#define M "--model", model_path
    static const char *no_model[] = {NULL};
    const struct {
        const char *args[8];
        const char *want;
    } cases[] = {
        {{M, "--broker", "http://x:1"}, "invalid broker"},
        {{M, "--feeds", "tcp://nohostport"}, "invalid feeds endpoint"},
        {{M, "--control", "udp://127.0.0.1:7"}, "invalid control endpoint"},
        {{M, "--feeds", "tcp://127.0.0.1:7001", "--control", "tcp://127.0.0.1:7001"},
         "--feeds and --control must differ"},
        {{M, "--feeds", "tcp://127.0.0.1:0"}, "invalid feeds endpoint"}, /* port 0 is '*' */
        {{M, "--archive", "/nonexistent/dir"}, "no such directory (create it first)"},
        {{M, "--archive", model_path}, "not a directory"},
        {{M, "--archive-rotate", "1.5h"}, "invalid archive rotation"},
        {{M, "--archive-rotate", "0d"}, "invalid archive rotation"},
        {{M, "--archive-rotate", "1d"}, "--archive-rotate needs --archive"},
        {{M, "--broker", "mqtts://127.0.0.1:8883"}, "mqtts:// needs --cafile or --capath"},
        {{M, "--cert", "/tmp/c.pem"}, "--cert and --key go together"},
        {{"--model", "/nonexistent.cfg"}, "/nonexistent.cfg"},
        {{M, "--qos", "2"}, "invalid QoS"},
        {{M, "--client-id", ""}, "invalid client id"},
        {{M, "--keepalive", "4"}, "invalid keepalive"},
        {{M, "--clock", "sundial"}, "invalid clock"},
        {{M, "--status-interval", "-1"}, "invalid status interval"},
        {{M, "--max-payload", "10"}, "invalid max payload"},
        {{M, "--max-age", "x"}, "invalid max age"},
        {{M, "--max-future", "90000"}, "invalid max future"},
        {{M, "--tick-ms", "5"}, "invalid tick period"},
        {{M, "--grace-ms", "-1"}, "invalid grace period"},
        {{M, "--ring", "1000"}, "invalid ring capacity"},
        {{M, "--log-level", "loud"}, "invalid log level"},
        {{M, "stray"}, "invalid argument 'stray'"},
        {{M, "--metrics", "nohost"}, "invalid metrics address"},
        /* the metrics server binds IPv4 only: refused here, not at start with exit 1 */
        {{M, "--metrics", "[::1]:9464"}, "invalid metrics address"},
        {{M, "--metrics", "example.org:9464"}, "invalid metrics address"},
        {{M, "--password-file", "/nonexistent.pw"}, "--password-file /nonexistent.pw"},
        {{M, "--password-file", passfile}, "a password needs --username"},
        {{M, "--feeds-key", "/nonexistent.key"}, "--feeds-key /nonexistent.key"},
        {{M, "--control-key", "/nonexistent.key"}, "--control-key /nonexistent.key"},
        /* an empty file is named as such, not with errno's "Success" */
        {{M, "--password-file", emptyfile}, "empty.txt: empty file"},
        {{M, "--feeds-key", emptyfile}, "empty.txt: empty file"},
        {{M, "--control-key", emptyfile}, "empty.txt: empty file"},
    };
#undef M
    char *err;
    cr_assert_eq(run_status_err(no_model, &err), 2);
    cr_assert_not_null(strstr(err, "--model FILE is required"), "%s", err);
    free(err);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const int st = run_status_err(cases[i].args, &err);
        cr_expect_eq(st, 2, "%s %s: exit %d: %s", cases[i].args[2], cases[i].args[3], st, err);
        cr_expect_not_null(strstr(err, cases[i].want), "%s %s: want \"%s\", got: %s",
                           cases[i].args[2], cases[i].args[3], cases[i].want, err);
        free(err);
    }
    const char *help[] = {"--help", NULL};
    cr_assert_eq(run_status(help), 0);
}

/* The smallest keepalive, 5 s: the backpressure wait (10 s by default) is cut to half of it,
 * so the engine starts, connects and stops cleanly instead of refusing its own settings. */
Test(engine, a_short_keepalive_shortens_the_backpressure_wait_and_runs)
{
    int mport = free_port();
    const char *extra[] = {"--keepalive", "5", NULL};
    pid_t pid = vigil_start("keepalive.log", "vg-it-engine-keepalive", mport, extra);
    cr_assert_eq(wait_metric(mport, "vigil_mqtt_connected", 1, 15000), 1, "engine connected");
    kill(pid, SIGTERM);
    cr_assert_eq(child_wait(pid, 10000), 0);
}

/* A TCP port on 127.0.0.1 held by a listening socket (close it to free the port). */
static int hold_port(int *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *ret_port = ntohs(sa.sin_port);
    return fd;
}

/* A feeds port or metrics address that another program holds is a run-time failure, not bad
 * usage: exit 1 with a message that says which. */
Test(engine, busy_feeds_port_or_metrics_address_exits_1)
{
    char feeds[64], metrics[64], *err;
    int held;
    const int fd = hold_port(&held);
    snprintf(feeds, sizeof(feeds), "tcp://127.0.0.1:%d", held);
    snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", held);
    const char *busy_feeds[] = {"--model", model_path, "--feeds", feeds,
                                "--control", "tcp://127.0.0.1:*", NULL};
    const char *busy_metrics[] = {"--model", model_path, "--feeds", "tcp://127.0.0.1:*",
                                  "--control", "tcp://127.0.0.1:*", "--metrics", metrics, NULL};
    cr_assert_eq(run_status_err(busy_feeds, &err), 1, "%s", err);
    cr_assert_not_null(strstr(err, "cannot set up the engine"), "%s", err);
    cr_assert_not_null(strstr(err, "in use"), "%s", err);
    free(err);
    cr_assert_eq(run_status_err(busy_metrics, &err), 1, "%s", err);
    cr_assert_not_null(strstr(err, "is the --metrics address free?"), "%s", err);
    free(err);
    close(fd);
}

/* ---- reload ---- */

/* tmp/name: tests/data/payloads/venue.cfg with the first `old` replaced by `repl`, and
 * the first old2 by repl2 (old2 may be NULL). */
static void write_variant2(const char *name, const char *old, const char *repl,
                           const char *old2, const char *repl2)
{
    char src[4096], path[700], text[16384];
    const char *root = getenv("VG_SOURCE_ROOT");
    snprintf(src, sizeof(src), "%s/tests/data/payloads/venue.cfg", root ? root : ".");
    FILE *f = fopen(src, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    if (old2) {
        char *at2 = strstr(text, old2), rest[16384];
        cr_assert_not_null(at2);
        snprintf(rest, sizeof(rest), "%s", at2 + strlen(old2));
        snprintf(at2, sizeof(text) - (size_t)(at2 - text), "%s%s", repl2, rest);
    }
    char *at = strstr(text, old);
    cr_assert_not_null(at);
    snprintf(path, sizeof(path), "%s/%s.tmp", tmp, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(repl, f);
    fputs(at + strlen(old), f);
    fclose(f);
    char final[700];
    snprintf(final, sizeof(final), "%s/%s", tmp, name);
    cr_assert_eq(rename(path, final), 0); /* the engine never reads a half-written file */
}

static void write_variant(const char *name, const char *old, const char *repl)
{
    write_variant2(name, old, repl, NULL, NULL);
}

/* The endpoint logged after `key` ("feeds ", "control ") in the run log, or "". */
static void logged_endpoint(const char *log, const char *key, char *ret, size_t cap)
{
    char path[700], line[2048];
    snprintf(path, sizeof(path), "%s/%s", tmp, log);
    ret[0] = '\0';
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (!ret[0] && vg_mono_ns() < end) {
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f)) {
            char *p = strstr(line, "run: venue ");
            p = p ? strstr(p, key) : NULL;
            if (p) {
                p += strlen(key);
                size_t n = strcspn(p, ", \n");
                snprintf(ret, cap, "%.*s", (int)n, p);
            }
        }
        if (f)
            fclose(f);
        if (!ret[0])
            nap_ms(20);
    }
    cr_assert(ret[0], "no %s endpoint in %s", key, log);
}

static cJSON *ctl(void *req, const char *fmt, ...)
{
    char q[1024], buf[1 << 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    cr_assert_eq(zmq_send(req, q, strlen(q), 0), (int)strlen(q));
    int n = zmq_recv(req, buf, sizeof(buf) - 1, 0);
    cr_assert_geq(n, 0, "no reply to %s", q);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    cr_assert_not_null(o, "%s", buf);
    return o;
}

static int is_ok(const cJSON *o)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* status: engine.model.<key> */
static double model_status(void *req, const char *key)
{
    cJSON *r = ctl(req, "{\"cmd\":\"status\"}");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r, "engine"), "model");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(r);
    return d;
}

static void wait_reloads(void *req, int want)
{
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (model_status(req, "reloads") < want && vg_mono_ns() < end)
        nap_ms(20);
    cr_assert_eq(model_status(req, "reloads"), want, "model switches");
}

/* The id of the alert of `kind` on `subject` in a snapshot, "" when there is none. */
static void alert_id(void *req, const char *kind, const char *subject, char *ret, size_t cap)
{
    cJSON *r = ctl(req, "{\"cmd\":\"snapshot\"}");
    const cJSON *a;
    ret[0] = '\0';
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "alerts"))
        if (!strcmp(jstr(a, "kind"), kind) && !strcmp(jstr(a, "subject"), subject))
            snprintf(ret, cap, "%s", jstr(a, "id"));
    cJSON_Delete(r);
}

static void wait_alert(void *req, const char *kind, const char *subject, char *ret, size_t cap)
{
    int64_t end = vg_mono_ns() + 15 * VG_NS_PER_S;
    do
        alert_id(req, kind, subject, ret, cap);
    while (!ret[0] && vg_mono_ns() < end && (nap_ms(50), 1));
    cr_assert(ret[0], "no %s alert on %s", kind, subject);
}

/* Starts `vigil run` with an archive in tmp/<arch_name> (created), waits for its broker
 * connection, and connects req (a REQ socket) to its control endpoint. */
static pid_t start_archiving(const char *log, const char *client_id, int mport,
                             const char *arch_name, void *req)
{
    char arch[600], control_ep[128];
    int zero = 0, tmo = 10000;

    snprintf(arch, sizeof(arch), "%s/%s", tmp, arch_name);
    cr_assert_eq(mkdir(arch, 0755), 0);
    const char *const with_archive[] = {"--archive", arch, NULL};
    const pid_t pid = vigil_start(log, client_id, mport, with_archive);
    cr_assert_eq(wait_metric(mport, "vigil_mqtt_connected", 1, 15000), 1);
    nap_ms(200);
    logged_endpoint(log, "control ", control_ep, sizeof(control_ep));
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
    cr_assert_eq(zmq_connect(req, control_ep), 0);
    return pid;
}

static void pub_now(struct mosquitto *m, const char *topic, const char *tail)
{
    char msg[160];
    int64_t now = vg_wall_ns();
    snprintf(msg, sizeof(msg), "{\"v\":1,\"ts\":%lld.%06lld,%s}", (long long)(now / VG_NS_PER_S),
             (long long)(now % VG_NS_PER_S / 1000), tail);
    pub(m, topic, msg);
}

#define S1 "  { id = \"s1\"; kind = \"smoke\"; zone = \"z1\"; min = 0.0; max = 1.0; period_s = 600.0; },\n"
#define T9 "  { id = \"t9\"; kind = \"smoke\"; zone = \"z3\"; min = 0.0; max = 1.0; period_s = 600.0; },\n"
#define UNKNOWN_SENSOR "vigil_rejects_total{stage=\"ingest\",reason=\"unknown_sensor\"}"
#define SENSOR_READINGS "vigil_readings_total{source=\"sensor\"}"

/* A sensor reading outside its physical range is refused once, as an ingest reject, and
 * raises sensor_range: a sensor stuck outside its range is a fault the engineers must see.
 * An in-range reading clears it. */
Test(engine, out_of_range_sensor_reading_raises_sensor_range_once_counted)
{
    int mport = free_port();
    char id[32];
    void *zctx = zmq_ctx_new();
    void *req = zmq_socket(zctx, ZMQ_REQ);
    pid_t pid = start_archiving("range.log", "vg-it-engine-range", mport, "range-arch", req);
    struct mosquitto *m = pub_open();
    pub_now(m, "vigil/testvenue/sensor/t1", "\"value\":1000"); /* t1 reads -40..80 degC */
    wait_alert(req, "sensor_range", "t1", id, sizeof(id));
    const char *t = scrape(mport);
    cr_assert_eq(metric(t, "vigil_rejects_total{stage=\"ingest\",reason=\"out_of_range\"}"), 1);
    cr_assert_eq(metric(t, "vigil_rejects_total{stage=\"analysis\",reason=\"out_of_range\"}"), 0,
                 "not counted twice");
    cr_assert_eq(metric(t, "vigil_readings_processed_total"), 0, "a refusal is not a reading");
    nap_ms(300);
    pub_now(m, "vigil/testvenue/sensor/t1", "\"value\":21");
    pub_close(m, 2);
    /* it returns to normal and waits for an acknowledgement */
    char state[32] = "";
    int64_t end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (strcmp(state, "rtn_unack") != 0 && vg_mono_ns() < end) {
        cJSON *r = ctl(req, "{\"cmd\":\"snapshot\"}");
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "alerts"))
            if (!strcmp(jstr(a, "id"), id))
                snprintf(state, sizeof(state), "%s", jstr(a, "state"));
        cJSON_Delete(r);
        nap_ms(50);
    }
    cr_assert_str_eq(state, "rtn_unack", "a valid reading returns sensor_range to normal");
    zmq_close(req);
    zmq_ctx_term(zctx);
    kill(pid, SIGTERM);
    cr_assert_eq(child_wait(pid, 10000), 0);
    /* The archive holds the refused reading as offered to the core: a replay raises the
     * same sensor_range, and every later alert keeps its id. */
    glob_t g;
    char pattern[700], log[700];
    snprintf(pattern, sizeof(pattern), "%s/range-arch/*.h5", tmp);
    snprintf(log, sizeof(log), "%s/range-replay.log", tmp);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0);
    const char *argv[8] = {getenv("VG_VIGIL"), "replay", "--verify", "--quiet", g.gl_pathv[0],
                           NULL};
    const int st = child_run(argv, &(child_io){.err = log}, 60000);
    globfree(&g);
    cr_assert_eq(st, 0, "vigil replay --verify: see %s", log);
}

Test(engine, reload_keeps_alerts_adds_and_removes_sensors_and_refuses_bad_models)
{
    int mport = free_port(), sent = 0;
    char feeds[128], id_help[32], id_smoke[32], id[32];
    void *zctx = zmq_ctx_new();
    void *req = zmq_socket(zctx, ZMQ_REQ), *sub = zmq_socket(zctx, ZMQ_SUB);
    int zero = 0;

    /* The engine's model file: the test venue plus smoke sensor s1, without its Frigate
     * mapping (so without the frigate/+/person subscription). */
    write_variant2("venue.cfg", "sensors = (\n", "sensors = (\n" S1, "frigate = \"fz1\"; ", "");
    write_variant("other.cfg", "id = \"testvenue\"", "id = \"elsewhere\"");
    write_variant("bad.cfg", "help_points = (", "help_points = ( oops");
    snprintf(model_path, sizeof(model_path), "%s/venue.cfg", tmp);
    pid_t pid = start_archiving("reload.log", "vg-it-engine-reload", mport, "arch", req);
    logged_endpoint("reload.log", "feeds ", feeds, sizeof(feeds));
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "security.", 9);
    cr_assert_eq(zmq_connect(sub, feeds), 0);
    cr_assert_eq(model_status(req, "sensors"), 4);

    struct mosquitto *m = pub_open();
    pub_now(m, "vigil/testvenue/help/h1", "\"type\":\"medical\"");
    pub_now(m, "vigil/testvenue/sensor/s1", "\"value\":1");
    pub(m, "frigate/fz1/person", "3");
    pub_now(m, "vigil/testvenue/sensor/t9", "\"value\":1");
    sent += 4;
    wait_alert(req, "help_medical", "h1", id_help, sizeof(id_help));
    wait_alert(req, "smoke", "s1", id_smoke, sizeof(id_smoke));
    cr_assert_eq(wait_metric(mport, UNKNOWN_SENSOR, 1, 5000), 1, "t9 is not in the model");
    cr_assert_eq(metric(scrape(mport), "vigil_messages_total"), 3, "frigate: not subscribed");

    /* 1. The file gains t9 (first: every sensor index moves); reload it, no path, on behalf
     * of an operator (an operator that is not a string is refused first). */
    write_variant("venue.cfg", "sensors = (\n", "sensors = (\n" T9 S1);
    cJSON *r = ctl(req, "{\"cmd\":\"reload\",\"operator\":7}");
    cr_assert_not(is_ok(r));
    cr_assert_str_eq(jstr(r, "error"), "'operator' must be a non-empty string");
    cJSON_Delete(r);
    r = ctl(req, "{\"cmd\":\"reload\",\"operator\":\"eng4\",\"comment\":\"t9 added\"}");
    cr_assert(is_ok(r), "%s", jstr(r, "error"));
    cJSON_Delete(r);
    wait_reloads(req, 1);
    cr_assert_eq(model_status(req, "sensors"), 5);
    long long before = wait_metric(mport, SENSOR_READINGS, 2, 5000);
    pub_now(m, "vigil/testvenue/sensor/t9", "\"value\":1");
    sent++;
    cr_assert_eq(wait_metric(mport, SENSOR_READINGS, before + 1, 10000), before + 1,
                 "t9's reading taken");
    wait_alert(req, "smoke", "t9", id, sizeof(id));
    cr_assert_eq(metric(scrape(mport), UNKNOWN_SENSOR), 1);
    /* the new model maps a Frigate camera again: its topic is subscribed now */
    pub(m, "frigate/fz1/person", "3");
    sent++;
    cr_assert_eq(wait_metric(mport, "vigil_readings_total{source=\"frigate\"}", 1, 10000), 1);
    alert_id(req, "help_medical", "h1", id, sizeof(id));
    cr_assert_str_eq(id, id_help, "the help alert keeps its id");
    alert_id(req, "smoke", "s1", id, sizeof(id));
    cr_assert_str_eq(id, id_smoke, "s1's alert keeps its id although s1's index moved");

    /* 2. Refused: the reply says why, the engine goes on with the model it has. */
    r = ctl(req, "{\"cmd\":\"reload\",\"path\":\"%s/bad.cfg\"}", tmp);
    cr_assert_not(is_ok(r));
    cr_assert_not_null(strstr(jstr(r, "error"), "bad.cfg:"), "%s", jstr(r, "error"));
    cr_assert_not_null(strstr(jstr(r, "error"), "syntax"), "%s", jstr(r, "error"));
    cJSON_Delete(r);
    r = ctl(req, "{\"cmd\":\"reload\",\"path\":\"%s/other.cfg\"}", tmp);
    cr_assert_not(is_ok(r));
    cr_assert_not_null(strstr(jstr(r, "error"), "venue \"elsewhere\""), "%s", jstr(r, "error"));
    cJSON_Delete(r);
    r = ctl(req, "{\"cmd\":\"reload\",\"path\":\"%s/missing.cfg\"}", tmp);
    cr_assert_not(is_ok(r));
    cr_assert_not_null(strstr(jstr(r, "error"), "missing.cfg"), "%s", jstr(r, "error"));
    cJSON_Delete(r);
    cr_assert_eq(model_status(req, "reloads"), 1);
    cr_assert_eq(model_status(req, "sensors"), 5);

    /* 3. SIGHUP (systemd ExecReload) with s1 gone from the file. */
    write_variant("venue.cfg", "sensors = (\n", "sensors = (\n" T9);
    kill(pid, SIGHUP);
    wait_reloads(req, 2);
    cr_assert_eq(model_status(req, "sensors"), 4);
    pub_now(m, "vigil/testvenue/sensor/s1", "\"value\":1");
    sent++;
    cr_assert_eq(wait_metric(mport, UNKNOWN_SENSOR, 2, 10000), 2, "s1 is unknown now");
    alert_id(req, "smoke", "s1", id, sizeof(id));
    cr_assert_str_eq(id, "", "s1's alert is gone");
    alert_id(req, "help_medical", "h1", id, sizeof(id));
    cr_assert_str_eq(id, id_help);
    /* ... and was published "removed" on its feed */
    int removed = 0;
    int64_t end = vg_mono_ns() + 5 * VG_NS_PER_S;
    while (!removed && vg_mono_ns() < end) {
        char topic[128], body[8192];
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 200) != 1)
            continue;
        int tl = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
        int bl = zmq_recv(sub, body, sizeof(body) - 1, 0);
        if (tl < 0 || bl < 0)
            continue;
        body[bl] = '\0';
        cJSON *o = cJSON_Parse(body);
        removed = o && !strcmp(jstr(o, "reason"), "removed") && !strcmp(jstr(o, "id"), id_smoke) &&
                  !strcmp(jstr(o, "state"), "cleared");
        cJSON_Delete(o);
    }
    cr_assert(removed, "a \"removed\" message for alert %s", id_smoke);
    pub_close(m, sent);

    /* 4. SIGHUP with a broken file: logged, and the engine goes on with what it has. */
    write_variant("venue.cfg", "help_points = (", "help_points = ( oops");
    kill(pid, SIGHUP);
    end = vg_mono_ns() + 10 * VG_NS_PER_S;
    while (!file_has("reload.log", "reload refused") && vg_mono_ns() < end)
        nap_ms(20);
    cr_assert_eq(file_has("reload.log", "run: SIGHUP: reload refused, the running model stays: "), 1);
    cr_assert_eq(file_has("reload.log", "venue.cfg:"), 1, "file:line in the log");
    cr_assert_eq(model_status(req, "reloads"), 2);
    cr_assert_eq(model_status(req, "sensors"), 4);

    zmq_close(req);
    zmq_close(sub);
    zmq_ctx_term(zctx);
    kill(pid, SIGTERM);
    cr_assert_eq(child_wait(pid, 10000), 0);
    cr_assert_eq(file_has("reload.log", "engine: model in force"), 2);
    cr_assert_eq(file_has("reload.log", "run: SIGHUP: reloading"), 1);

    /* The audit trail names who reloaded: the operator's request, then SIGHUP. */
    char h5[4][512], arch[600];
    vg_archive_reader *ar;
    vg_archive_info info;
    snprintf(arch, sizeof(arch), "%s/arch", tmp);
    cr_assert_eq(list_archives(arch, h5, 4), 1);
    cr_assert_eq(vg_archive_reader_open(h5[0], &ar), 0);
    cr_assert_eq(vg_archive_reader_info(ar, &info), 0);
    size_t na = (size_t)info.count[VG_ARCHIVE_REC_ACTION];
    vg_archive_action *acts = calloc(na + 1, sizeof(*acts));
    cr_assert_eq(vg_archive_reader_read(ar, VG_ARCHIVE_REC_ACTION, 0, na, acts), 0);
    vg_archive_reader_free(&ar);
    const vg_archive_action *rl[2] = {NULL, NULL};
    int n_rl = 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(acts[i].action, "reload") == 0 && n_rl < 2)
            rl[n_rl++] = &acts[i];
    cr_assert_eq(n_rl, 2, "two reloads audited");
    cr_assert_str_eq(rl[0]->operator_id, "eng4");
    cr_assert_str_eq(rl[0]->comment, "t9 added");
    cr_assert_gt(rl[0]->wall_ns, 0, "the request's wall time");
    cr_assert_str_eq(rl[1]->operator_id, "system");
    cr_assert_str_eq(rl[1]->comment, "SIGHUP");
    free(acts);
}
