/* End-to-end acceptance (issue #8), every piece a real process on 127.0.0.1 under
 * tests/with-broker.sh: `vigil run --clock event` with its ZeroMQ feeds, control socket and
 * HDF5 archive, fed by `vigil sim` over mosquitto, graded by `vigil score`.
 * - the incident day: every incident caught on its feed within its bound (score exits 0),
 *   a SUB on `medical.` sees the help alerts, `vigil score` on the archive files gives the
 *   events file's report, and `vigil replay --verify` on the archive reproduces the live
 *   alert stream;
 * - the quiet day: nothing above advisory.
 * The simulator runs at --speed 200 with --batch (the incident day in about 30 s): at
 * --speed max the engine outruns its archive writer, which then drops records (reported as
 * an archive_backlog alert), and a replay of a lossy archive cannot match. */
#include "vigil/common.h"

#include "child.h"
#include "itest_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <glob.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
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

#define SIM_SPEED "200"

static int port;
static char tmp[512], model[4096], scen_dir[4096];

/* Every process this test started, so a failed assertion does not leave one running. */
static pid_t spawned[8];
static int n_spawned;

static void setup(void)
{
    const char *ps = getenv("VG_TEST_MQTT_PORT"), *root = getenv("VG_SOURCE_ROOT");
    const char *base = getenv("VG_TEST_TMPDIR") ? getenv("VG_TEST_TMPDIR") : "/tmp";
    cr_assert_not_null(ps, "run under tests/with-broker.sh");
    cr_assert_not_null(getenv("VG_VIGIL"));
    port = atoi(ps);
    snprintf(model, sizeof(model), "%s/models/olympic-park.cfg", root ? root : ".");
    snprintf(scen_dir, sizeof(scen_dir), "%s/models/scenarios", root ? root : ".");
    snprintf(tmp, sizeof(tmp), "%s/e2e-XXXXXX", base);
    cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
    for (int i = 0; i < n_spawned; i++)
        if (spawned[i] > 0 && kill(spawned[i], SIGKILL) == 0)
            waitpid(spawned[i], NULL, 0);
    n_spawned = 0;
}

TestSuite(e2e, .init = setup, .fini = teardown, .timeout = 280);

/* Starts `vigil ARGS...` (NULL-terminated) with stdout to tmp/<out> and stderr to tmp/<log>
 * ("/dev/null" when NULL). */
static pid_t spawn(const char *out, const char *log, const char *const *args)
{
    char outp[700], logp[700];
    const char *argv[48];
    int k = 0;

    snprintf(outp, sizeof(outp), "%s/%s", tmp, out ? out : "stdout.txt");
    snprintf(logp, sizeof(logp), "%s/%s", tmp, log ? log : "stderr.txt");
    argv[k++] = getenv("VG_VIGIL");
    for (int i = 0; args[i] && k < 47; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    const pid_t pid = child_spawn(argv, &(child_io){.out = outp, .err = logp, .append_err = true});
    if (n_spawned < 8)
        spawned[n_spawned++] = pid;
    return pid;
}

static int run_vigil(const char *out, const char *log, const char *const *args, int timeout_ms)
{
    return child_wait(spawn(out, log, args), timeout_ms);
}

/* 1 when tmp/<a> and tmp/<b> hold the same bytes, 0 when they differ, -1 when unreadable. */
static int same_file(const char *a, const char *b)
{
    char pa[700], pb[700];
    snprintf(pa, sizeof(pa), "%s/%s", tmp, a);
    snprintf(pb, sizeof(pb), "%s/%s", tmp, b);
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    int same = fa && fb ? 1 : -1;
    while (same == 1) {
        int ca = getc(fa), cb = getc(fb);
        if (ca != cb)
            same = 0;
        else if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* Lines of tmp/<name> containing every needle (up to two; NULL for none). */
static int count_lines(const char *name, const char *a, const char *b)
{
    char path[700];
    static char line[1 << 16];
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if ((!a || strstr(line, a)) && (!b || strstr(line, b)))
            n++;
    fclose(f);
    return n;
}

/* The message count of the simulator's closing log line "sim: N messages, ...". */
static long long sim_published(const char *log)
{
    char path[700], line[1024];
    long long n = -1;
    snprintf(path, sizeof(path), "%s/%s", tmp, log);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "sim: ");
        long long v;
        if (p && sscanf(p, "sim: %lld messages,", &v) == 1 && strstr(p, "bytes"))
            n = v;
    }
    fclose(f);
    return n;
}

/* ---- a SUB on the medical feed, in its own thread ---- */

struct medsub {
    void *ctx, *sock;
    pthread_t th;
    atomic_int stop, help_medical, messages;
};

static void *medsub_main(void *arg)
{
    struct medsub *s = arg;
    char topic[256], body[1 << 14];
    while (!atomic_load(&s->stop)) {
        int n = zmq_recv(s->sock, topic, sizeof(topic) - 1, 0);
        if (n < 0)
            continue; /* receive timeout: check stop */
        topic[n < (int)sizeof(topic) ? n : (int)sizeof(topic) - 1] = '\0';
        int more = 0;
        size_t ml = sizeof(more);
        zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &ml);
        if (!more)
            continue;
        int m = zmq_recv(s->sock, body, sizeof(body) - 1, 0);
        if (m < 0)
            continue;
        body[m < (int)sizeof(body) ? m : (int)sizeof(body) - 1] = '\0';
        atomic_fetch_add(&s->messages, 1);
        if (strncmp(topic, "medical.", 8) == 0 &&
            strstr(body, "\"kind\":\"help_medical\"") && strstr(body, "\"reason\":\"raise\""))
            atomic_fetch_add(&s->help_medical, 1);
    }
    return NULL;
}

static void medsub_start(struct medsub *s, int feeds_port)
{
    char ep[64];
    int zero = 0, rcvtimeo = 100;
    memset(s, 0, sizeof(*s));
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", feeds_port);
    s->ctx = zmq_ctx_new();
    s->sock = zmq_socket(s->ctx, ZMQ_SUB);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s->sock, ZMQ_RCVTIMEO, &rcvtimeo, sizeof(rcvtimeo));
    zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "medical.", 8);
    cr_assert_eq(zmq_connect(s->sock, ep), 0);
    cr_assert_eq(pthread_create(&s->th, NULL, medsub_main, s), 0);
}

static void medsub_stop(struct medsub *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    zmq_close(s->sock);
    zmq_ctx_term(s->ctx);
}

/* One event day through the whole chain; leaves tmp/<tag>-alerts.jsonl, tmp/<tag>-truth.json
 * and the archive tmp/<tag>-archive. Returns the medical SUB's help_medical count. */
static int run_day(const char *tag, const char *scenario)
{
    char broker[64], feeds[64], control[64], metrics[64], archive[700], events[700],
        truth[700], scen[4300], runlog[64], simlog[64];
    int fport = free_port(), cport = free_port(), mport = free_port();
    struct medsub sub;

    snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", port);
    snprintf(feeds, sizeof(feeds), "tcp://127.0.0.1:%d", fport);
    snprintf(control, sizeof(control), "tcp://127.0.0.1:%d", cport);
    snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", mport);
    snprintf(archive, sizeof(archive), "%s/%s-archive", tmp, tag);
    snprintf(events, sizeof(events), "%s/%s-alerts.jsonl", tmp, tag);
    snprintf(truth, sizeof(truth), "%s/%s-truth.json", tmp, tag);
    snprintf(scen, sizeof(scen), "%s/%s", scen_dir, scenario);
    snprintf(runlog, sizeof(runlog), "%s-run.log", tag);
    snprintf(simlog, sizeof(simlog), "%s-sim.log", tag);
    cr_assert_eq(mkdir(archive, 0755), 0);

    char client[64];
    snprintf(client, sizeof(client), "vg-e2e-%s-%d", tag, (int)getpid());
    const char *run_args[] = {"run", "--model", model, "--broker", broker, "--client-id", client,
                              "--clean-session", "--clock", "event", "--archive", archive,
                              "--events", events, "--feeds", feeds, "--control", control,
                              "--metrics", metrics, "--status-interval", "0", NULL};
    pid_t engine = spawn(NULL, runlog, run_args);
    cr_assert_eq(wait_metric(mport, "vigil_mqtt_connected", 1, 20000), 1, "engine connected");
    medsub_start(&sub, fport);
    nap_ms(500); /* SUBACK after CONNACK; the SUB's subscription reaching the PUB */

    const char *sim_args[] = {"sim", "--model", model, "--scenario", scen, "--speed", SIM_SPEED,
                              "--native", "--batch", "--truth", truth, "--broker", broker, NULL};
    int64_t t0 = vg_mono_ns();
    cr_assert_eq(run_vigil(NULL, simlog, sim_args, 200000), 0, "vigil sim finished");
    cr_log_info("%s: vigil sim took %.1f s", tag, (double)(vg_mono_ns() - t0) / 1e9);
    long long sent = sim_published(simlog);
    cr_assert_gt(sent, 0, "sim logged what it published");

    /* Drained: every published message received and the readings ring empty. */
    cr_assert_eq(wait_metric(mport, "vigil_messages_total", sent, 60000), sent);
    int64_t end = vg_mono_ns() + 30 * VG_NS_PER_S;
    const char *t;
    while ((!(t = scrape(mport)) || metric(t, "vigil_ring_depth{ring=\"readings\"}") != 0) &&
           vg_mono_ns() < end)
        nap_ms(100);
    t = scrape(mport);
    cr_assert_not_null(t);
    cr_assert_eq(metric(t, "vigil_ring_depth{ring=\"readings\"}"), 0);
    cr_assert_eq(metric(t, "vigil_rejects_total{stage=\"ingest\",reason=\"too_far_future\"}") > 0,
                 0, "event clock: simulated time is not refused");

    kill(engine, SIGTERM);
    cr_assert_eq(child_wait(engine, 60000), 0, "SIGTERM: drained and exited 0");
    medsub_stop(&sub);
    return atomic_load(&sub.help_medical);
}

Test(e2e, incident_day_caught_on_the_right_feeds_and_replayed)
{
    int help = run_day("incidents", "incidents.cfg");

    /* Every incident caught on its feed within its bound; no false alert at warning+. */
    const char *score_args[] = {"score", NULL, NULL, NULL};
    char events[700], truth[700];
    snprintf(events, sizeof(events), "%s/incidents-alerts.jsonl", tmp);
    snprintf(truth, sizeof(truth), "%s/incidents-truth.json", tmp);
    score_args[1] = events;
    score_args[2] = truth;
    int st = run_vigil("incidents-score.txt", "incidents-score.log", score_args, 30000);
    cr_assert_eq(st, 0, "vigil score passes (see %s/incidents-score.txt)", tmp);
    cr_assert_eq(count_lines("incidents-score.txt", "PASS ", NULL), 9);
    cr_assert_eq(count_lines("incidents-score.txt", "FAIL", NULL), 0);
    /* Help press and collapse: two medical raises on the event file and on the wire. */
    cr_assert_eq(count_lines("incidents-alerts.jsonl", "\"kind\":\"help_medical\"",
                             "\"action\":\"raise\""),
                 2);
    cr_assert_eq(help, 2, "the SUB on medical. saw both help_medical raises");

    char pattern[700];
    glob_t g;
    snprintf(pattern, sizeof(pattern), "%s/incidents-archive/*.h5", tmp);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "the run left an archive");

    /* Scoring the archive's alert transitions gives the events file's verdicts, byte for
     * byte (same incidents, alert count, false alerts and rate). */
    const char *sargs[40] = {"score"};
    int n = 1;
    for (size_t i = 0; i < g.gl_pathc && n < 38; i++)
        sargs[n++] = g.gl_pathv[i];
    sargs[n++] = truth;
    sargs[n] = NULL;
    st = run_vigil("incidents-score-archive.txt", "incidents-score-archive.log", sargs, 30000);
    cr_assert_eq(st, 0, "vigil score on the archive passes (see %s/incidents-score-archive.txt)",
                 tmp);
    cr_assert_eq(count_lines("incidents-score-archive.txt", "PASS ", NULL), 9);
    cr_assert_eq(same_file("incidents-score.txt", "incidents-score-archive.txt"), 1,
                 "archive and events file score alike (diff %s/incidents-score*.txt)", tmp);

    /* The archive replays to the same alert stream. */
    const char *rargs[40] = {"replay", "--verify"};
    int k = 2;
    for (size_t i = 0; i < g.gl_pathc && k < 39; i++)
        rargs[k++] = g.gl_pathv[i];
    rargs[k] = NULL;
    st = run_vigil("replay.jsonl", "replay.log", rargs, 120000);
    globfree(&g);
    cr_assert_eq(st, 0, "vigil replay --verify: archive and live alerts agree (%s/replay.log)",
                 tmp);
    cr_assert_eq(count_lines("replay.log", "identical to the live run", NULL), 1);
    cr_assert_eq(count_lines("replay.jsonl", NULL, NULL),
                 count_lines("incidents-alerts.jsonl", NULL, NULL),
                 "as many replayed alert events as live ones");
    cr_assert_geq(count_lines("incidents-run.log", "lost 0)", NULL), 1,
                  "the archive kept every record");
}

Test(e2e, quiet_day_raises_nothing_above_advisory)
{
    run_day("quiet", "quiet.cfg");

    char events[700], truth[700];
    snprintf(events, sizeof(events), "%s/quiet-alerts.jsonl", tmp);
    snprintf(truth, sizeof(truth), "%s/quiet-truth.json", tmp);
    const char *score_args[] = {"score", events, truth, NULL};
    cr_assert_eq(run_vigil("quiet-score.txt", "quiet-score.log", score_args, 30000), 0);
    cr_assert_geq(count_lines("quiet-alerts.jsonl", NULL, NULL), 0, "the engine wrote its events");
    cr_assert_eq(count_lines("quiet-alerts.jsonl", "\"grade\":\"warning\"", NULL), 0);
    cr_assert_eq(count_lines("quiet-alerts.jsonl", "\"grade\":\"critical\"", NULL), 0);
    cr_assert_eq(count_lines("quiet-alerts.jsonl", "\"grade\":\"emergency\"", NULL), 0);
}

/* A file score cannot read is named with the reason, without a line number: it said
 * "FILE:0: No such file or directory". */
Test(e2e, score_names_a_file_it_cannot_read_without_a_line)
{
    char alerts[700], truth[700], missing[700];
    snprintf(alerts, sizeof(alerts), "%s/none-alerts.jsonl", tmp);
    snprintf(truth, sizeof(truth), "%s/none-truth.json", tmp);
    snprintf(missing, sizeof(missing), "%s/nonexist.json", tmp);
    FILE *f = fopen(alerts, "w");
    cr_assert_not_null(f);
    fclose(f);
    f = fopen(truth, "w");
    cr_assert_not_null(f);
    fputs("{\"v\":1,\"scenario\":\"x\",\"start\":1000,\"end\":4600,\"duration_s\":3600,"
          "\"incidents\":[]}\n", f);
    fclose(f);

    const char *no_truth[] = {"score", alerts, missing, NULL};
    cr_assert_eq(run_vigil("none-score.txt", "none-truth.log", no_truth, 10000), 1);
    cr_assert_eq(count_lines("none-truth.log",
                             "nonexist.json: cannot read: No such file or directory", NULL), 1);
    cr_assert_eq(count_lines("none-truth.log", ":0:", NULL), 0);

    const char *no_alerts[] = {"score", missing, truth, NULL};
    cr_assert_eq(run_vigil("none-score.txt", "none-alerts.log", no_alerts, 10000), 1);
    cr_assert_eq(count_lines("none-alerts.log",
                             "nonexist.json: cannot read: No such file or directory", NULL), 1);
    cr_assert_eq(count_lines("none-alerts.log", ":0:", NULL), 0);

    /* an error inside a file keeps its line */
    const char *bad_truth[] = {"score", alerts, alerts, NULL};
    cr_assert_eq(run_vigil("none-score.txt", "bad-truth.log", bad_truth, 10000), 1);
    cr_assert_eq(count_lines("bad-truth.log", "none-alerts.jsonl:1: ", NULL), 1);
}
