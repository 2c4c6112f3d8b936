/* vigil watch: the control-room console. Subscribes to the alert feeds (ZeroMQ SUB), keeps
 * the list of active alerts from a snapshot of the control socket plus the messages after
 * it, and draws it in the terminal sorted by grade and age, coloured by grade, with zone
 * densities and their Fruin level of service. Keys acknowledge and shelve the selected alert.
 * --lines prints one plain line per message instead, for piping.
 *
 * DESIGN
 * - Consistency: every message carries seq (all feeds) and fseq (per feed); heartbeats carry
 *   both and the engine's instance id. Watching one feed checks fseq, watching all checks
 *   seq. A gap, a new instance (engine restart) or a first heartbeat after silence triggers
 *   a new snapshot; messages older than the snapshot's sequence are ignored.
 * - A failed snapshot (nothing answers at --control) is retried at most every
 *   SNAPSHOT_RETRY_S; until one succeeds, messages are shown as they come.
 * - The control socket is REQ with ZMQ_REQ_RELAXED and ZMQ_REQ_CORRELATE and a receive
 *   timeout, so a request lost in an engine restart does not wedge the console.
 * - Single thread: zmq_poll on the SUB socket and stdin. */
#include "cmd.h"
#include "vigil/alert.h"
#include "vigil/common.h"
#include "vigil/model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_ALERTS 4096
#define MAX_ZONES 4096
#define REQ_TIMEOUT_MS 2000
/* After a snapshot fails, the next try waits this long: each try can block for
 * REQ_TIMEOUT_MS, which must not happen on every message. */
#define SNAPSHOT_RETRY_S 5
/* An engine whose event time is within this of the wall clock is live (its lateness is 2 s). */
#define AGE_LIVE_S 60.0

struct walert {
    char id[24];
    char feed[16];
    char kind[32];
    char zone[64];
    char grade[16];       /* the alarm grade (what it reached) */
    char shown_grade[16]; /* "clear" once returned to normal */
    char state[16];
    char owner[48];
    char hidden[48];
    char message[176];
    double raised_ts, value, threshold;
    int grade_rank;
};

struct wzone {
    char id[64];
    double density;
    char los;
    char grade[16];
};

struct watch {
    const char *feeds_ep, *control_ep, *feed, *operator_id;
    const char *server_key, *control_server_key;
    const char *client_public, *client_secret; /* NULL: a fresh key pair per run */
    int lines, interactive;
    void *ctx, *sub, *req;
    char instance[32];
    uint64_t seq, fseq; /* last seen (or snapshot's) */
    double event_ts;    /* the engine's event time from its heartbeats (NAN: not known) */
    bool synced;
    bool snapshot_failing;     /* the last snapshot failed (said once on stderr) */
    int64_t snapshot_retry_ns; /* no new try before this (monotonic) */
    struct walert alerts[MAX_ALERTS];
    int n_alerts;
    struct wzone zones[MAX_ZONES];
    int n_zones;
    /* The selected alert by id, so a re-sort or a removal never moves an ack to another
     * alert; selected is its index in the sorted list as last drawn. */
    char selected_id[24];
    int selected;
    char status[200];
    int64_t last_msg_ns;
    uint64_t snapshots;
};

static volatile sig_atomic_t quit_flag;
static struct termios saved_tio;
static bool tio_saved;

static void on_signal(int sig)
{
    (void)sig;
    quit_flag = 1;
}

static void restore_terminal(void)
{
    if (tio_saved) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
        fputs("\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        tio_saved = false;
    }
}

static void raw_terminal(void)
{
    struct termios t;

    if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
        return;
    tio_saved = true;
    t = saved_tio;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
    fputs("\033[?1049h\033[?25l", stdout);
    atexit(restore_terminal);
}

static int grade_rank(const char *g)
{
    static const char *const names[] = {"clear", "advisory", "warning", "critical", "emergency"};
    for (int i = 0; i < 5; i++)
        if (strcmp(g, names[i]) == 0)
            return i;
    return 0;
}

static const char *grade_colour(const char *grade, const char *state)
{
    if (strcmp(state, "unack") != 0 && strcmp(state, "acked") != 0)
        return "\033[2m"; /* returned to normal: dim */
    switch (grade_rank(grade)) {
    case 4:
        return "\033[1;97;41m";
    case 3:
        return "\033[1;31m";
    case 2:
        return "\033[33m";
    case 1:
        return "\033[36m";
    }
    return "";
}

static void copy_str(char *dst, size_t cap, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static double get_num(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static uint64_t get_u64(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static int find_alert(struct watch *w, const char *id)
{
    for (int i = 0; i < w->n_alerts; i++)
        if (strcmp(w->alerts[i].id, id) == 0)
            return i;
    return -1;
}

/* Applies one alert object (from a message or a snapshot). */
static void apply_alert(struct watch *w, const cJSON *o)
{
    struct walert a;
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(o, "owner");
    const cJSON *hidden = cJSON_GetObjectItemCaseSensitive(o, "hidden");
    int i;

    memset(&a, 0, sizeof(a));
    copy_str(a.id, sizeof(a.id), o, "id");
    copy_str(a.feed, sizeof(a.feed), o, "feed");
    copy_str(a.kind, sizeof(a.kind), o, "kind");
    copy_str(a.zone, sizeof(a.zone), o, "zone");
    if (!a.zone[0])
        copy_str(a.zone, sizeof(a.zone), o, "sector");
    copy_str(a.grade, sizeof(a.grade), o, "alarm_grade");
    copy_str(a.shown_grade, sizeof(a.shown_grade), o, "grade");
    copy_str(a.state, sizeof(a.state), o, "state");
    copy_str(a.message, sizeof(a.message), o, "message");
    if (cJSON_IsObject(owner))
        copy_str(a.owner, sizeof(a.owner), owner, "operator");
    if (cJSON_IsArray(hidden)) {
        const cJSON *h;
        cJSON_ArrayForEach(h, hidden)
        {
            size_t len = strlen(a.hidden);
            if (cJSON_IsString(h))
                snprintf(a.hidden + len, sizeof(a.hidden) - len, "%s%s", len ? "," : "",
                         h->valuestring);
        }
    }
    a.raised_ts = get_num(o, "raised_ts");
    a.value = get_num(o, "value");
    a.threshold = get_num(o, "threshold");
    a.grade_rank = grade_rank(a.grade);
    if (!a.id[0])
        return;
    i = find_alert(w, a.id);
    if (strcmp(a.state, "cleared") == 0) {
        if (i >= 0)
            w->alerts[i] = w->alerts[--w->n_alerts];
        return;
    }
    if (i < 0) {
        if (w->n_alerts >= MAX_ALERTS)
            return;
        i = w->n_alerts++;
    }
    w->alerts[i] = a;
}

static void apply_zones(struct watch *w, const cJSON *zones)
{
    const cJSON *z;

    if (!cJSON_IsArray(zones))
        return;
    w->n_zones = 0;
    cJSON_ArrayForEach(z, zones)
    {
        if (w->n_zones >= MAX_ZONES)
            break;
        struct wzone *d = &w->zones[w->n_zones++];
        char los[4];
        copy_str(d->id, sizeof(d->id), z, "zone");
        copy_str(los, sizeof(los), z, "los");
        copy_str(d->grade, sizeof(d->grade), z, "grade");
        d->los = los[0] ? los[0] : '-';
        d->density = get_num(z, "density");
    }
}

/* Sends a request and returns the parsed reply, or NULL (w->status says why). */
static cJSON *request(struct watch *w, cJSON *req)
{
    char *text = cJSON_PrintUnformatted(req);
    zmq_msg_t msg;
    cJSON *rep = NULL;

    if (!text)
        return NULL;
    if (zmq_send(w->req, text, strlen(text), 0) < 0) {
        snprintf(w->status, sizeof(w->status), "control: send failed: %s",
                 zmq_strerror(zmq_errno()));
        free(text);
        return NULL;
    }
    free(text);
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, w->req, 0) < 0) {
        snprintf(w->status, sizeof(w->status), "control: no reply from %s", w->control_ep);
    } else {
        rep = cJSON_ParseWithLength(zmq_msg_data(&msg), zmq_msg_size(&msg));
        if (!rep)
            snprintf(w->status, sizeof(w->status), "control: reply is not JSON");
    }
    zmq_msg_close(&msg);
    return rep;
}

static void print_line(struct watch *w, const char *prefix, const cJSON *o)
{
    const cJSON *owner = cJSON_GetObjectItemCaseSensitive(o, "owner");
    char id[24], feed[16], grade[16], state[16], zone[64], kind[32], reason[20], msg[176],
        op[48] = "";
    double ts = get_num(o, "ts"), value = get_num(o, "value");

    (void)w;
    copy_str(id, sizeof(id), o, "id");
    copy_str(feed, sizeof(feed), o, "feed");
    copy_str(grade, sizeof(grade), o, "grade");
    copy_str(state, sizeof(state), o, "state");
    copy_str(zone, sizeof(zone), o, "zone");
    if (!zone[0])
        copy_str(zone, sizeof(zone), o, "sector");
    copy_str(kind, sizeof(kind), o, "kind");
    copy_str(reason, sizeof(reason), o, "reason");
    copy_str(msg, sizeof(msg), o, "message");
    if (cJSON_IsObject(owner))
        copy_str(op, sizeof(op), owner, "operator");
    printf("%s seq=%llu ts=%.3f id=%s feed=%s grade=%s state=%s reason=%s zone=%s kind=%s "
           "value=%g owner=%s | %s\n",
           prefix, (unsigned long long)get_u64(o, "seq"), ts, id, feed, grade, state,
           reason[0] ? reason : "-", zone, kind, value, op[0] ? op : "-", msg);
    fflush(stdout);
}

/* A failed snapshot: no new try for SNAPSHOT_RETRY_S, and in --lines mode (where nobody
 * sees w->status) one warning on stderr per run of failures. */
static int snapshot_failed(struct watch *w, int err)
{
    w->snapshot_retry_ns = vg_mono_ns() + SNAPSHOT_RETRY_S * VG_NS_PER_S;
    if (w->lines && !w->snapshot_failing)
        fprintf(stderr,
                "vigil watch: %s; showing messages without a snapshot, retrying every %d s\n",
                w->status, SNAPSHOT_RETRY_S);
    w->snapshot_failing = true;
    return err;
}

static int take_snapshot(struct watch *w)
{
    cJSON *req, *rep;
    const cJSON *alerts, *a;

    if (w->snapshot_failing && vg_mono_ns() < w->snapshot_retry_ns)
        return -EAGAIN;
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", "snapshot");
    if (w->feed)
        cJSON_AddStringToObject(req, "feed", w->feed);
    rep = request(w, req);
    cJSON_Delete(req);
    if (!rep)
        return snapshot_failed(w, -EIO);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok"))) {
        snprintf(w->status, sizeof(w->status), "snapshot refused");
        cJSON_Delete(rep);
        return snapshot_failed(w, -EPROTO);
    }
    w->snapshot_failing = false;
    w->n_alerts = 0;
    alerts = cJSON_GetObjectItemCaseSensitive(rep, "alerts");
    cJSON_ArrayForEach(a, alerts)
    {
        apply_alert(w, a);
        if (w->lines)
            print_line(w, "snapshot", a);
    }
    apply_zones(w, cJSON_GetObjectItemCaseSensitive(rep, "zones"));
    copy_str(w->instance, sizeof(w->instance), rep, "instance");
    w->seq = get_u64(rep, "seq");
    if (w->feed) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(rep, "fseq");
        w->fseq = get_u64(f, w->feed);
    }
    w->synced = true;
    w->snapshots++;
    snprintf(w->status, sizeof(w->status), "snapshot #%llu at seq %llu: %d alerts",
             (unsigned long long)w->snapshots, (unsigned long long)w->seq, w->n_alerts);
    if (w->lines) {
        printf("snapshot-end seq=%llu alerts=%d\n", (unsigned long long)w->seq, w->n_alerts);
        fflush(stdout);
    }
    cJSON_Delete(rep);
    return 0;
}

/* The sequence this console checks: per feed when watching one feed, else global. */
static uint64_t msg_seq(const struct watch *w, const cJSON *o)
{
    return get_u64(o, w->feed ? "fseq" : "seq");
}

static uint64_t have_seq(const struct watch *w)
{
    return w->feed ? w->fseq : w->seq;
}

static void set_seq(struct watch *w, uint64_t s)
{
    if (w->feed)
        w->fseq = s;
    else
        w->seq = s;
}

static void handle_message(struct watch *w, const char *topic, const cJSON *o)
{
    char type[16], inst[32];

    copy_str(type, sizeof(type), o, "type");
    copy_str(inst, sizeof(inst), o, "instance");
    w->last_msg_ns = vg_mono_ns();
    if (strcmp(type, "metrics") == 0) {
        apply_zones(w, cJSON_GetObjectItemCaseSensitive(o, "zones"));
        return;
    }
    if (strcmp(type, "heartbeat") == 0) {
        w->event_ts = get_num(o, "event_ts");
        /* A new engine instance, or messages we never saw: resynchronise. */
        if (!w->synced || strcmp(inst, w->instance) != 0 || msg_seq(w, o) > have_seq(w))
            take_snapshot(w);
        return;
    }
    uint64_t s = msg_seq(w, o);
    if (!w->synced)
        take_snapshot(w);
    if (!w->synced) {
        /* No snapshot (the control socket does not answer): the message is still news. */
        apply_alert(w, o);
        if (w->lines)
            print_line(w, topic, o);
        return;
    }
    if (s <= have_seq(w))
        return; /* already in the snapshot */
    if (s != have_seq(w) + 1) {
        snprintf(w->status, sizeof(w->status), "gap: expected %llu, got %llu; resyncing",
                 (unsigned long long)have_seq(w) + 1, (unsigned long long)s);
        take_snapshot(w);
        if (s <= have_seq(w))
            return;
    }
    set_seq(w, s);
    if (w->feed == NULL)
        w->seq = get_u64(o, "seq");
    apply_alert(w, o);
    if (w->lines)
        print_line(w, topic, o);
}

static int cmp_alert(const void *pa, const void *pb)
{
    const struct walert *a = pa, *b = pb;
    int ra = strcmp(a->shown_grade, "clear") == 0 ? 0 : a->grade_rank;
    int rb = strcmp(b->shown_grade, "clear") == 0 ? 0 : b->grade_rank;

    if (ra != rb)
        return rb - ra;
    if (a->raised_ts != b->raised_ts)
        return a->raised_ts < b->raised_ts ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int cmp_zone(const void *pa, const void *pb)
{
    const struct wzone *a = pa, *b = pb;
    double da = isnan(a->density) ? -1 : a->density, db = isnan(b->density) ? -1 : b->density;
    return da < db ? 1 : da > db ? -1 : 0;
}

/* Sorts the list for display and returns the selected alert's index in it, or -1 when it
 * is no longer listed (or none is selected). */
static int sort_alerts(struct watch *w)
{
    qsort(w->alerts, (size_t)w->n_alerts, sizeof(w->alerts[0]), cmp_alert);
    return w->selected_id[0] ? find_alert(w, w->selected_id) : -1;
}

/* Selects the alert at index i of the sorted list, clamped to the list. */
static void select_index(struct watch *w, int i)
{
    if (i >= w->n_alerts)
        i = w->n_alerts - 1;
    if (i < 0)
        i = 0;
    w->selected = i;
    snprintf(w->selected_id, sizeof(w->selected_id), "%s", w->n_alerts > 0 ? w->alerts[i].id : "");
}

static void render(struct watch *w)
{
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    double now = (double)vg_wall_ns() / 1e9;
    int rows, zrows;

    /* AGE is event time: the wall clock on a live engine, the engine's own clock on a replay
     * or simulation of another day (where wall minus event time would be hours or months). */
    if (!isnan(w->event_ts) && fabs(now - w->event_ts) > AGE_LIVE_S)
        now = w->event_ts;

    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
    if (ws.ws_row < 10)
        ws.ws_row = 24;
    /* A selected alert that is gone hands the selection to the one now in its place. */
    int sel = sort_alerts(w);
    select_index(w, sel >= 0 ? sel : w->selected);
    printf("\033[H\033[2J");
    printf("\033[1mVIGIL WATCH\033[0m  feed=%s  %s  seq=%llu  alerts=%d  %s\r\n",
           w->feed ? w->feed : "all", w->feeds_ep, (unsigned long long)w->seq, w->n_alerts,
           w->last_msg_ns && vg_mono_ns() - w->last_msg_ns < 5 * VG_NS_PER_S ? "live"
                                                                             : "NO HEARTBEAT");
    printf("\033[7m %-9s %-9s %-10s %-14s %-18s %8s %6s %-10s %s\033[0m\r\n", "ID", "GRADE",
           "STATE", "ZONE", "KIND", "VALUE", "AGE", "OWNER", "MESSAGE");
    zrows = w->n_zones ? 6 : 0;
    rows = ws.ws_row - 6 - zrows;
    for (int i = 0; i < w->n_alerts && i < rows; i++) {
        const struct walert *a = &w->alerts[i];
        double age = isnan(a->raised_ts) ? 0 : now - a->raised_ts;
        char st[24];
        snprintf(st, sizeof(st), "%s%s", a->state, a->hidden[0] ? "*" : "");
        printf("%s%s%-10.10s %-9s %-10s %-14.14s %-18.18s %8.2f %5.0fs %-10.10s %.*s\033[0m\r\n",
               i == w->selected ? "\033[7m" : "", grade_colour(a->grade, a->state), a->id, a->grade,
               st, a->zone, a->kind, a->value, age < 0 ? 0 : age, a->owner[0] ? a->owner : "-",
               ws.ws_col > 100 ? ws.ws_col - 100 : 0, a->message);
    }
    if (zrows) {
        qsort(w->zones, (size_t)w->n_zones, sizeof(w->zones[0]), cmp_zone);
        printf("\r\n\033[1mZONES\033[0m (density p/m2, level of service)\r\n");
        for (int i = 0; i < w->n_zones && i < 4 * 4; i++) {
            const struct wzone *z = &w->zones[i];
            printf("%s%-14.14s %5.2f %c\033[0m%s", grade_colour(z->grade, "unack"), z->id,
                   isnan(z->density) ? 0.0 : z->density, z->los, i % 4 == 3 ? "\r\n" : "   ");
        }
        printf("\r\n");
    }
    printf("\033[%d;1H\033[2m[a]ck  [s]helve 30 min  [u]nshelve  [r]eset latched  "
           "up/down or j/k select  [q]uit   operator=%s\033[0m\r\n",
           ws.ws_row - 1, w->operator_id);
    printf("%s", w->status);
    fflush(stdout);
}

static void operator_cmd(struct watch *w, const char *cmd)
{
    cJSON *req, *rep;

    /* The alert the operator selected, by id: never one that took its place in the list. */
    const int i = w->selected_id[0] ? find_alert(w, w->selected_id) : -1;
    if (i < 0) {
        if (w->selected_id[0])
            snprintf(w->status, sizeof(w->status), "alert %s is no longer listed", w->selected_id);
        else
            snprintf(w->status, sizeof(w->status), "no alert selected");
        return;
    }
    const struct walert *a = &w->alerts[i];
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", cmd);
    cJSON_AddStringToObject(req, "id", a->id);
    cJSON_AddStringToObject(req, "operator", w->operator_id);
    cJSON_AddStringToObject(req, "comment", "from vigil watch");
    if (strcmp(cmd, "shelve") == 0)
        cJSON_AddNumberToObject(req, "duration_s", 1800);
    rep = request(w, req);
    cJSON_Delete(req);
    if (!rep)
        return;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok"))) {
        snprintf(w->status, sizeof(w->status), "%s %s: ok", cmd, a->id);
    } else {
        char err[160];
        copy_str(err, sizeof(err), rep, "error");
        snprintf(w->status, sizeof(w->status), "%s %s: %s", cmd, a->id, err);
    }
    cJSON_Delete(rep);
}

static void handle_keys(struct watch *w)
{
    char buf[32];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

    for (ssize_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\033' && i + 2 < n && buf[i + 1] == '[') {
            c = buf[i + 2] == 'A' ? 'k' : buf[i + 2] == 'B' ? 'j' : 0;
            i += 2;
        }
        switch (c) {
        case 'q':
            quit_flag = 1;
            break;
        case 'k':
        case 'j': {
            /* from the selected alert's place in the current order, clamped to the list */
            int sel = sort_alerts(w);
            if (sel < 0)
                sel = w->selected;
            else
                sel += c == 'j' ? 1 : -1;
            select_index(w, sel);
            break;
        }
        case 'a':
            operator_cmd(w, "ack");
            break;
        case 's':
            operator_cmd(w, "shelve");
            break;
        case 'u':
            operator_cmd(w, "unshelve");
            break;
        case 'r':
            operator_cmd(w, "reset");
            break;
        default:
            break;
        }
    }
}

static int set_client_curve(void *sock, const char *server_key, const char *cpub, const char *csec)
{
    char pub[41], sec[41];

    if (!server_key)
        return 0;
    if (strlen(server_key) != 40 || zmq_curve_keypair(pub, sec) < 0)
        return -EINVAL;
    if (cpub && csec) {
        if (strlen(cpub) != 40 || strlen(csec) != 40)
            return -EINVAL;
        memcpy(pub, cpub, 41);
        memcpy(sec, csec, 41);
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 40) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40) < 0)
        return -EINVAL;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil watch [--feed security|medical|technical|supervisor] [--endpoint "
        "tcp://HOST:PORT]\n"
        "                   [--control tcp://HOST:PORT] [--operator ID] [--lines]\n"
        "                   [--server-key Z85] [--control-server-key Z85] [--client-key Z85]\n\n"
        "The control-room console: active alerts sorted by grade and age, coloured by grade,\n"
        "zone densities with their level of service; keys a (ack), s (shelve 30 min),\n"
        "u (unshelve), r (reset a latched alert), up/down, q. It takes a snapshot from the\n"
        "control socket on start and on any gap in sequence numbers, and follows an engine\n"
        "restart by itself. While the control socket does not answer it still shows every\n"
        "message (--lines: with one warning on stderr) and retries the snapshot every %d s.\n\n"
        "  --feed NAME        only this feed (default: all feeds)\n"
        "  --endpoint EP      the engine's feeds (default %s)\n"
        "  --control EP       the engine's control socket (default %s)\n"
        "  --operator ID      recorded with ack and shelve (default $USER)\n"
        "  --lines            one plain line per message on stdout, no keys\n"
        "  --server-key K     the engine's CURVE public key (feeds; also control unless\n"
        "                     --control-server-key is given)\n"
        "  --control-server-key K  the control socket's CURVE public key, when it differs\n"
        "                     from the feeds' (vigil run --control-key)\n"
        "  --client-key K     this console's CURVE public key, when the engine keeps an\n"
        "                     allow-list; its secret key comes from the environment\n"
        "                     variable VIGIL_CLIENT_SECRET_KEY (never on the command line)\n",
        SNAPSHOT_RETRY_S, VG_ALERT_DEFAULT_FEEDS, VG_ALERT_DEFAULT_CONTROL);
}

int vg_cmd_watch(int argc, char **argv)
{
    static const struct option opts[] = {
        {"feed", required_argument, NULL, 'f'},
        {"endpoint", required_argument, NULL, 'e'},
        {"control", required_argument, NULL, 'c'},
        {"operator", required_argument, NULL, 'o'},
        {"lines", no_argument, NULL, 'l'},
        {"server-key", required_argument, NULL, 'k'},
        {"control-server-key", required_argument, NULL, 'K'},
        {"client-key", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct watch *w = calloc(1, sizeof(*w));
    int c, rc = 1, timeout = REQ_TIMEOUT_MS, one = 1, zero = 0;
    enum vg_feed fv;

    if (!w)
        return 1;
    w->event_ts = NAN;
    w->feeds_ep = VG_ALERT_DEFAULT_FEEDS;
    w->control_ep = VG_ALERT_DEFAULT_CONTROL;
    w->operator_id = getenv("USER") ? getenv("USER") : "operator";
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:e:c:o:lk:K:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            w->feed = optarg;
            break;
        case 'e':
            w->feeds_ep = optarg;
            break;
        case 'c':
            w->control_ep = optarg;
            break;
        case 'o':
            w->operator_id = optarg;
            break;
        case 'l':
            w->lines = 1;
            break;
        case 'k':
            w->server_key = optarg;
            break;
        case 'K':
            w->control_server_key = optarg;
            break;
        case 'p':
            w->client_public = optarg;
            break;
        case 'h':
            usage(stdout);
            free(w);
            return 0;
        default:
            usage(stderr);
            free(w);
            return 2;
        }
    }
    if (optind < argc || (w->feed && vg_feed_parse(w->feed, &fv) < 0)) {
        if (optind < argc)
            fprintf(stderr, "vigil watch: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "vigil watch: unknown feed '%s'\n", w->feed);
        usage(stderr);
        free(w);
        return 2;
    }
    w->interactive = !w->lines && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (!w->lines && !w->interactive)
        w->lines = 1;
    w->ctx = zmq_ctx_new();
    w->sub = zmq_socket(w->ctx, ZMQ_SUB);
    w->req = zmq_socket(w->ctx, ZMQ_REQ);
    if (!w->sub || !w->req)
        goto out;
    if (!w->client_secret)
        w->client_secret = getenv("VIGIL_CLIENT_SECRET_KEY");
    if (!!w->client_public != !!w->client_secret ||
        set_client_curve(w->sub, w->server_key, w->client_public, w->client_secret) < 0 ||
        set_client_curve(w->req, w->control_server_key ? w->control_server_key : w->server_key,
                         w->client_public, w->client_secret) < 0) {
        fprintf(stderr, "vigil watch: bad CURVE key (40 Z85 characters)\n");
        rc = 2;
        goto out;
    }
    zmq_setsockopt(w->req, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(w->req, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(w->req, ZMQ_REQ_RELAXED, &one, sizeof(one));
    zmq_setsockopt(w->req, ZMQ_REQ_CORRELATE, &one, sizeof(one));
    zmq_setsockopt(w->req, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(w->sub, ZMQ_LINGER, &zero, sizeof(zero));
    if (w->feed) {
        char prefix[32], hb[48];
        snprintf(prefix, sizeof(prefix), "%s.", w->feed);
        snprintf(hb, sizeof(hb), "heartbeat.%s", w->feed);
        zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
        zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, hb, strlen(hb));
        zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, "metrics.", 8);
    } else {
        zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, "", 0);
    }
    {
        const char *bad = zmq_connect(w->sub, w->feeds_ep) < 0     ? w->feeds_ep
                          : zmq_connect(w->req, w->control_ep) < 0 ? w->control_ep
                                                                   : NULL;
        if (bad) {
            fprintf(stderr, "vigil watch: cannot connect to %s: %s\n", bad,
                    zmq_strerror(zmq_errno()));
            rc = 2;
            goto out;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    if (w->interactive)
        raw_terminal();
    /* Subscribe first, then snapshot: anything after the snapshot's seq arrives on SUB. */
    take_snapshot(w);
    int64_t next_draw = 0;
    while (!quit_flag) {
        zmq_pollitem_t items[2] = {{.socket = w->sub, .events = ZMQ_POLLIN},
                                   {.fd = STDIN_FILENO, .events = ZMQ_POLLIN}};
        if (w->interactive && vg_mono_ns() >= next_draw) {
            render(w);
            next_draw = vg_mono_ns() + 500 * VG_NS_PER_MS;
        }
        int n = zmq_poll(items, w->interactive ? 2 : 1, 250);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        if (n <= 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN) {
            char topic[256];
            zmq_msg_t body;
            int more = 0;
            size_t ml = sizeof(more);
            int tl = zmq_recv(w->sub, topic, sizeof(topic) - 1, 0);
            if (tl < 0)
                continue;
            topic[tl < (int)sizeof(topic) - 1 ? tl : (int)sizeof(topic) - 1] = 0;
            zmq_getsockopt(w->sub, ZMQ_RCVMORE, &more, &ml);
            if (!more)
                continue;
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, w->sub, 0) >= 0) {
                cJSON *o = cJSON_ParseWithLength(zmq_msg_data(&body), zmq_msg_size(&body));
                if (o)
                    handle_message(w, topic, o);
                cJSON_Delete(o);
            }
            zmq_msg_close(&body);
            next_draw = 0;
        }
        if (w->interactive && (items[1].revents & ZMQ_POLLIN)) {
            handle_keys(w);
            next_draw = 0;
        }
    }
    rc = 0;
out:
    restore_terminal();
    if (w->sub)
        zmq_close(w->sub);
    if (w->req)
        zmq_close(w->req);
    if (w->ctx)
        zmq_ctx_term(w->ctx);
    free(w);
    return rc;
}
