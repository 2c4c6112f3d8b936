/* The publisher: the "vg-alert" thread, owner of the ZeroMQ PUB socket (alert feeds) and the
 * REP socket (operator control), around a vg_alert_core.
 *
 * DESIGN
 * - Both sockets are created and bound in vg_alert_new() (so a busy port is an error at
 *   once), then used only by the vg-alert thread: pthread_create/pthread_join are the full
 *   barriers libzmq asks for when a socket changes threads.
 * - The loop waits on the input ring (futex) for at most POLL_NS, then polls the control
 *   socket without waiting, so an alert goes out as soon as it is pushed and a control
 *   request waits at most POLL_NS. Heartbeats and zone metrics go out every heartbeat_ms of
 *   wall time: they say the engine is alive, not what event time it is.
 * - Sequence numbers: seq counts every feed message of this instance, fseq counts per feed,
 *   so a subscriber of one feed can see its own gaps. Heartbeats carry both without
 *   consuming one, so even the loss of the last message is noticed. The instance id changes
 *   with each start: a subscriber that sees a new one takes a snapshot.
 * - No silent loss: PUB drops a message for a subscriber whose queue is past the high-water
 *   mark (sndhwm, large by default); that subscriber sees the gap in seq and asks for a
 *   snapshot. Send failures are counted in stats and status.
 * - CURVE allow-lists: a ZAP handler (RFC 27) in the same context, served by this thread
 *   between ring batches; each socket has its ZAP domain ("feeds", "control") naming its list.
 * - Feed messages are formatted into a fixed buffer (no allocation per alert); control
 *   replies use cJSON (operator rate, not alert rate). */
#include "alert_priv.h"
#include "vigil/common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* How often an idle vg-alert thread looks at the control socket. Alerts do not wait for it
 * (the input ring wakes the thread at once); a control request waits at most this long.
 * Each timed sleep costs tens of µs (the ring's membarrier): idle on the sample venue this
 * thread used 2.6 % of a core at 2 ms and 0.45 % at 20 ms, which no operator can notice. */
#define POLL_NS (20 * VG_NS_PER_MS)
#define MSG_MAX (32 * 1024)
#define REQUEST_MAX (64 * 1024)
#define BATCH 64

struct vg_alert {
    vg_alert_cfg cfg;
    char *feeds_ep, *control_ep, *feeds_key, *control_key; /* copies of cfg strings */
    char feeds_bound[256], control_bound[256];
    char instance[24];
    void *zctx, *pub, *rep;
    void *zap; /* ZAP handler (REP on inproc://zeromq.zap.01), with allow-lists only */
    uint8_t (*allow[2])[32]; /* decoded client keys: [0] feeds, [1] control */
    size_t n_allow[2];
    vg_alert_core *core;
    vg_ring *in;
    pthread_t thread;
    int running;
    atomic_int stop;
    _Atomic(const vg_model *) model; /* written by the vg-alert thread after a swap */
    int64_t started_wall_ns;

    /* vg-alert thread only: */
    uint64_t seq, fseq[VG_FEED_COUNT];
    vg_alert_zone_metric *zm; /* latest per zone index; zone == VG_MODEL_NONE: none yet */
    uint32_t nzm;
    int64_t metrics_t_ns;
    uint64_t per_s[60]; /* feed messages per wall second, last minute */
    int64_t per_s_sec;
    char topic[320];
    char msg[MSG_MAX];

    /* Counters: written by the vg-alert thread, read by any (relaxed: plain statistics). */
    _Atomic uint64_t n_inputs, n_published, n_send_errors, n_requests, n_bad_requests,
        n_audit_dropped, n_seq;
};

static uint64_t load(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void bump(_Atomic uint64_t *v)
{
    atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

static int zerr(void)
{
    int e = zmq_errno();
    return e > 0 ? -e : -EIO;
}

void vg_alert_cfg_default(vg_alert_cfg *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->feeds_endpoint = VG_ALERT_DEFAULT_FEEDS;
    cfg->control_endpoint = VG_ALERT_DEFAULT_CONTROL;
    cfg->heartbeat_ms = 1000;
    cfg->sndhwm = 100000;
    vg_alert_policy_default(&cfg->policy);
}

size_t vg_alert_pack_metrics(const vg_zone_metrics *zones, size_t n, int64_t t_ns,
                             vg_alert_input *out, size_t max_out)
{
    size_t used = 0;

    if (!zones || !out)
        return 0;
    for (size_t i = 0; i < n && used < max_out; used++) {
        vg_alert_input *rec = &out[used];
        memset(rec, 0, sizeof(*rec));
        rec->type = VG_ALERT_IN_METRICS;
        rec->t_ns = t_ns;
        for (; i < n && rec->count < VG_ALERT_METRICS_PER_INPUT; i++) {
            vg_alert_zone_metric *z = &rec->u.metrics[rec->count++];
            z->zone = zones[i].zone;
            z->density_per_m2 =
                (zones[i].flags & VG_METRICS_DENSITY) ? (float)zones[i].density_per_m2 : NAN;
            z->los = zones[i].los;
            z->grade = zones[i].grade;
            z->flags = (zones[i].flags & VG_METRICS_UNRELIABLE) ? 1 : 0;
        }
    }
    return used;
}

/* ---- publishing ---- */

static void count_second(vg_alert *a)
{
    int64_t sec = vg_mono_ns() / VG_NS_PER_S;

    if (sec != a->per_s_sec) {
        for (int64_t s = a->per_s_sec + 1; s <= sec && s <= a->per_s_sec + 60; s++)
            a->per_s[s % 60] = 0;
        a->per_s_sec = sec;
    }
    a->per_s[sec % 60]++;
}

static int send2(vg_alert *a, const char *topic, size_t tlen, const char *body, size_t blen)
{
    if (zmq_send(a->pub, topic, tlen, ZMQ_SNDMORE) < 0 || zmq_send(a->pub, body, blen, 0) < 0) {
        bump(&a->n_send_errors);
        return zerr();
    }
    return 0;
}

static void on_note(void *ctx, const vg_alert_note *n)
{
    vg_alert *a = ctx;
    const vg_model *m = vg_alert_core_model(a->core);
    vg__buf b;
    int tl = vg__alert_topic(m, n->alert, n->feed, a->topic, sizeof(a->topic));

    if (tl < 0) {
        bump(&a->n_send_errors);
        return;
    }
    a->seq++;
    a->fseq[n->feed]++;
    vg__buf_init(&b, a->msg, sizeof(a->msg), 0);
    vg__alert_json(&b, m, n->alert, n->reason, n->feed, a->seq, a->fseq[n->feed]);
    if (b.err) {
        /* Too big for one message (an absurdly long model string): still say it happened. */
        vg__buf_init(&b, a->msg, sizeof(a->msg), 0);
        vg__buf_printf(&b,
                       "{\"v\":1,\"seq\":%llu,\"fseq\":%llu,\"id\":\"%llu\",\"truncated\":true}",
                       (unsigned long long)a->seq, (unsigned long long)a->fseq[n->feed],
                       (unsigned long long)n->alert->id);
    }
    atomic_store_explicit(&a->n_seq, a->seq, memory_order_relaxed);
    if (send2(a, a->topic, (size_t)tl, b.p, b.len) == 0) {
        bump(&a->n_published);
        count_second(a);
    }
}

static void on_audit(void *ctx, const vg_alert_audit *rec)
{
    vg_alert *a = ctx;

    if (a->cfg.audit && vg_ring_push(a->cfg.audit, rec) < 0)
        bump(&a->n_audit_dropped);
}

static void publish_heartbeats(vg_alert *a)
{
    vg_alert_core_stats st;
    vg__buf b;
    char topic[64];

    vg_alert_core_get_stats(a->core, &st);
    for (int f = 0; f < VG_FEED_COUNT; f++) {
        /* Not under "<feed>.": a subscriber of the feed's prefix gets alert messages only,
         * each with the fields DESIGN.md lists; liveness is its own prefix. */
        int tl = snprintf(topic, sizeof(topic), "heartbeat.%s", vg_feed_name((enum vg_feed)f));
        vg__buf_init(&b, a->msg, sizeof(a->msg), 0);
        vg__buf_printf(&b,
                       "{\"v\":1,\"type\":\"heartbeat\",\"feed\":\"%s\",\"seq\":%llu,"
                       "\"fseq\":%llu,\"instance\":\"%s\",\"wall_ts\":%.3f,\"active\":%u",
                       vg_feed_name((enum vg_feed)f), (unsigned long long)a->seq,
                       (unsigned long long)a->fseq[f], a->instance, (double)vg_wall_ns() / 1e9,
                       st.active);
        /* The engine's event time: far behind wall_ts on a replay or simulation. */
        if (st.now_ns != INT64_MIN)
            vg__buf_printf(&b, ",\"event_ts\":%.3f}", (double)st.now_ns / 1e9);
        else
            vg__buf_puts(&b, ",\"event_ts\":null}");
        send2(a, topic, (size_t)tl, b.p, b.len);
    }
}

static void metrics_json(vg_alert *a, vg__buf *b)
{
    const vg_model *m = vg_alert_core_model(a->core);
    int first = 1;

    vg__buf_puts(b, "[");
    for (uint32_t i = 0; i < a->nzm; i++) {
        const vg_alert_zone_metric *z = &a->zm[i];
        const vg_zone *mz = vg_model_zone(m, i);
        if (z->zone == VG_MODEL_NONE || !mz)
            continue;
        vg__buf_puts(b, first ? "{\"zone\":" : ",{\"zone\":");
        first = 0;
        vg__buf_json_str(b, mz->id);
        vg__buf_puts(b, ",\"density\":");
        vg__buf_json_num(b, z->density_per_m2);
        vg__buf_printf(b, ",\"los\":\"%c\",\"grade\":\"%s\",\"unreliable\":%s}",
                       z->los >= 'A' && z->los <= 'F' ? z->los : '-',
                       vg_grade_name((enum vg_grade)z->grade), z->flags & 1 ? "true" : "false");
    }
    vg__buf_puts(b, "]");
}

static void publish_metrics(vg_alert *a)
{
    vg__buf b;
    static const char topic[] = "metrics.zones";

    if (a->metrics_t_ns == 0)
        return;
    vg__buf_init(&b, NULL, 0, 64u << 20);
    vg__buf_printf(&b,
                   "{\"v\":1,\"type\":\"metrics\",\"seq\":%llu,\"instance\":\"%s\",\"ts\":%.3f,"
                   "\"zones\":",
                   (unsigned long long)a->seq, a->instance, (double)a->metrics_t_ns / 1e9);
    metrics_json(a, &b);
    vg__buf_puts(&b, "}");
    if (!b.err)
        send2(a, topic, sizeof(topic) - 1, b.p, b.len);
    vg__buf_release(&b);
}

/* ---- inputs ---- */

static int resize_metrics(vg_alert *a, const vg_model *m)
{
    uint32_t n = vg_model_zone_count(m);
    vg_alert_zone_metric *zm = calloc(n ? n : 1, sizeof(*zm));

    if (!zm)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        zm[i].zone = VG_MODEL_NONE;
    free(a->zm);
    a->zm = zm;
    a->nzm = n;
    return 0;
}

static void apply_input(vg_alert *a, const vg_alert_input *in)
{
    bump(&a->n_inputs);
    switch (in->type) {
    case VG_ALERT_IN_EVENT:
        vg_alert_core_event(a->core, &in->u.event);
        break;
    case VG_ALERT_IN_TICK:
        vg_alert_core_tick(a->core, in->t_ns);
        break;
    case VG_ALERT_IN_METRICS:
        for (uint32_t i = 0; i < in->count && i < VG_ALERT_METRICS_PER_INPUT; i++) {
            const vg_alert_zone_metric *z = &in->u.metrics[i];
            if (z->zone < a->nzm)
                a->zm[z->zone] = *z;
        }
        a->metrics_t_ns = in->t_ns;
        break;
    case VG_ALERT_IN_MODEL: {
        const vg_alert_reload *rl = &in->u.reload;
        vg_alert_actor who = {
            .operator_id = rl->operator_id[0] ? rl->operator_id : "system",
            .comment = rl->comment,
            .wall_ns = rl->wall_ns,
        };
        if (rl->model && vg_alert_core_set_model(a->core, rl->model, &who) == 0) {
            resize_metrics(a, rl->model);
            atomic_store_explicit(&a->model, rl->model, memory_order_release);
        }
        break;
    }
    default:
        break;
    }
}

static size_t drain_some(vg_alert *a, size_t max)
{
    void *slots;
    size_t n = vg_ring_peek(a->in, max, &slots);

    for (size_t i = 0; i < n; i++)
        apply_input(a, (const vg_alert_input *)slots + i);
    if (n)
        vg_ring_release(a->in, n);
    return n;
}

/* ---- control ---- */

static cJSON *reply_error(const char *fmt, ...)
{
    char text[256];
    va_list ap;
    cJSON *r = cJSON_CreateObject();

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cJSON_AddFalseToObject(r, "ok");
    cJSON_AddStringToObject(r, "error", text);
    return r;
}

static const char *op_error(int e)
{
    switch (e) {
    case -ENOENT:
        return "no such alert";
    case -EALREADY:
        return "nothing to do: the alert is already in that state";
    case -EBUSY:
        return "the alert's condition is still active";
    case -EPERM:
        return "this kind of alert does not latch";
    case -EINVAL:
        return "missing or invalid field (operator is required)";
    default:
        return vg_strerror(e);
    }
}

static int get_id(const cJSON *req, uint64_t *ret)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
    char *end;

    if (cJSON_IsString(id) && id->valuestring[0]) {
        /* Digits only: strtoull also takes blanks and a sign, and wraps "-1" round. */
        if (id->valuestring[strspn(id->valuestring, "0123456789")])
            return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(id->valuestring, &end, 10);
        if (errno || *end)
            return -EINVAL;
        *ret = v;
        return 0;
    }
    /* A JSON number names an id exactly only up to 2^53; larger ids (technical alerts, flood
     * summaries) must come as strings, as the feeds write them. */
    if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble <= 9007199254740992.0 &&
        id->valuedouble == floor(id->valuedouble)) {
        *ret = (uint64_t)id->valuedouble;
        return 0;
    }
    return -EINVAL;
}

static const char *get_str(const cJSON *req, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether s is valid UTF-8 (RFC 3629: shortest forms, no surrogates, up to U+10FFFF). cJSON
 * passes any bytes through, and the feeds, which are JSON, must not. */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p, n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += n + 1;
    }
    return true;
}

/* The request's operator and comment, when given, must be UTF-8 (NULL) or this is the error. */
static const char *who_not_utf8(const vg_alert_actor *who)
{
    if (who->operator_id && !utf8_valid(who->operator_id))
        return "'operator' must be UTF-8";
    if (who->comment && !utf8_valid(who->comment))
        return "'comment' must be UTF-8";
    return NULL;
}

static void add_alert_raw(cJSON *obj, const char *key, const vg_model *m, const vg_alert_info *ai)
{
    vg__buf b;

    vg__buf_init(&b, NULL, 0, 0);
    vg__alert_json(&b, m, ai, -1, ai->feed, 0, 0);
    if (!b.err)
        cJSON_AddRawToObject(obj, key, b.p);
    vg__buf_release(&b);
}

static cJSON *do_operator_cmd(vg_alert *a, const char *cmd, const cJSON *req)
{
    uint64_t id;
    vg_alert_actor who = {
        .operator_id = get_str(req, "operator"),
        .comment = get_str(req, "comment"),
        .wall_ns = vg_wall_ns(),
    };
    int r;

    if (get_id(req, &id) < 0)
        return reply_error("'id' is required (the alert id as a string)");
    if (!who.operator_id || !who.operator_id[0])
        return reply_error("'operator' is required");
    const char *bad = who_not_utf8(&who);
    if (bad)
        return reply_error("%s", bad);
    if (strcmp(cmd, "ack") == 0) {
        r = vg_alert_core_ack(a->core, id, &who);
    } else if (strcmp(cmd, "shelve") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(req, "duration_s");
        double secs = cJSON_IsNumber(d) ? d->valuedouble : 0;
        /* Under 1 s could round to 0 ns, which the core takes for "the default" (30 min). */
        if (d && (!cJSON_IsNumber(d) || !(secs >= 1) || secs > 1e9))
            return reply_error("'duration_s' must be at least 1 (seconds)");
        r = vg_alert_core_shelve(a->core, id, (int64_t)(secs * 1e9), &who);
    } else if (strcmp(cmd, "unshelve") == 0) {
        r = vg_alert_core_unshelve(a->core, id, &who);
    } else if (strcmp(cmd, "out_of_service") == 0) {
        r = vg_alert_core_set_service(a->core, id, 0, &who);
    } else if (strcmp(cmd, "in_service") == 0) {
        r = vg_alert_core_set_service(a->core, id, 1, &who);
    } else {
        r = vg_alert_core_reset(a->core, id, &who);
    }
    if (r < 0)
        return reply_error("%s: %s", cmd, op_error(r));
    cJSON *rep = cJSON_CreateObject();
    cJSON_AddTrueToObject(rep, "ok");
    cJSON_AddNumberToObject(rep, "seq", (double)a->seq);
    const vg_alert_info *ai = vg_alert_core_find(a->core, id);
    if (ai)
        add_alert_raw(rep, "alert", vg_alert_core_model(a->core), ai);
    else
        cJSON_AddStringToObject(rep, "state", "cleared");
    return rep;
}

struct snap_ctx {
    vg__buf *b;
    const vg_model *m;
    int feed; /* -1: all */
    int first;
};

static void snap_one(void *ctx, const vg_alert_info *ai)
{
    struct snap_ctx *s = ctx;

    if (s->feed >= 0 && ai->feed != s->feed)
        return;
    if (!s->first)
        vg__buf_puts(s->b, ",");
    s->first = 0;
    vg__alert_json(s->b, s->m, ai, -1, ai->feed, 0, 0);
}

/* Built as text: a snapshot may hold thousands of alerts, already formatted by the code
 * that formats feed messages. */
static int do_snapshot(vg_alert *a, const cJSON *req, vg__buf *b)
{
    const char *feed = get_str(req, "feed");
    enum vg_feed f;
    struct snap_ctx s = {.b = b, .m = vg_alert_core_model(a->core), .feed = -1, .first = 1};

    if (feed) {
        if (vg_feed_parse(feed, &f) < 0)
            return -EINVAL;
        s.feed = (int)f;
    }
    vg__buf_printf(b, "{\"ok\":true,\"seq\":%llu,\"instance\":\"%s\",\"fseq\":{",
                   (unsigned long long)a->seq, a->instance);
    for (int i = 0; i < VG_FEED_COUNT; i++)
        vg__buf_printf(b, "%s\"%s\":%llu", i ? "," : "", vg_feed_name((enum vg_feed)i),
                       (unsigned long long)a->fseq[i]);
    vg__buf_puts(b, "},\"alerts\":[");
    vg_alert_core_for_each(a->core, snap_one, &s);
    vg__buf_puts(b, "],\"zones\":");
    metrics_json(a, b);
    vg__buf_puts(b, "}");
    return 0;
}

static void count_health(void *ctx, const vg_alert_info *ai)
{
    switch (ai->kind) {
    case VG_ALERT_SENSOR_STALE:
    case VG_ALERT_SENSOR_STUCK:
    case VG_ALERT_SENSOR_RANGE:
    case VG_ALERT_SENSOR_DISAGREE:
    case VG_ALERT_CAMERA_HEALTH:
        if (ai->state == VG_ALERT_STATE_UNACK || ai->state == VG_ALERT_STATE_ACKED)
            (*(uint32_t *)ctx)++;
        break;
    default:
        break;
    }
}

static cJSON *do_status(vg_alert *a)
{
    vg_alert_core_stats st;
    cJSON *r = cJSON_CreateObject(), *o, *p;
    uint64_t last_min = 0;
    const vg_model *m = vg_alert_core_model(a->core);
    uint32_t health = 0;

    vg_alert_core_get_stats(a->core, &st);
    for (int i = 0; i < 60; i++)
        last_min += a->per_s[i];
    cJSON_AddTrueToObject(r, "ok");
    cJSON_AddNumberToObject(r, "seq", (double)a->seq);
    cJSON_AddStringToObject(r, "instance", a->instance);
    cJSON_AddNumberToObject(r, "uptime_s", (double)(vg_wall_ns() - a->started_wall_ns) / 1e9);
    cJSON_AddStringToObject(r, "venue", vg_model_venue(m));
    if (st.now_ns != INT64_MIN)
        cJSON_AddNumberToObject(r, "event_ts", (double)st.now_ns / 1e9);
    else
        cJSON_AddNullToObject(r, "event_ts");
    o = cJSON_AddObjectToObject(r, "alerts");
    cJSON_AddNumberToObject(o, "active", st.active);
    p = cJSON_AddObjectToObject(o, "by_state");
    for (int i = 0; i < VG_ALERT_STATE_COUNT; i++)
        if (i != VG_ALERT_STATE_CLEARED)
            cJSON_AddNumberToObject(p, vg_alert_state_name((enum vg_alert_state)i), st.by_state[i]);
    p = cJSON_AddObjectToObject(o, "by_grade");
    for (int g = VG_GRADE_ADVISORY; g < VG_GRADE_COUNT; g++)
        cJSON_AddNumberToObject(p, vg_grade_name((enum vg_grade)g), st.by_grade[g]);
    cJSON_AddNumberToObject(o, "shelved", st.shelved);
    cJSON_AddNumberToObject(o, "suppressed", st.suppressed);
    cJSON_AddNumberToObject(o, "out_of_service", st.out_of_service);
    cJSON_AddNumberToObject(o, "flood_held", st.held);
    cJSON_AddBoolToObject(o, "in_flood", st.in_flood);
    cJSON_AddNumberToObject(o, "escalations", (double)st.escalations);
    cJSON_AddNumberToObject(o, "floods", (double)st.floods);
    cJSON_AddNumberToObject(o, "untracked", (double)st.untracked);
    /* Sensor health at a glance: open health alerts (details on the technical feed). */
    vg_alert_core_for_each(a->core, count_health, &health);
    cJSON_AddNumberToObject(r, "sensor_health_alerts", health);
    p = cJSON_AddObjectToObject(r, "publisher");
    cJSON_AddNumberToObject(p, "inputs", (double)load(&a->n_inputs));
    cJSON_AddNumberToObject(p, "published", (double)load(&a->n_published));
    cJSON_AddNumberToObject(p, "published_last_minute", (double)last_min);
    cJSON_AddNumberToObject(p, "send_errors", (double)load(&a->n_send_errors));
    cJSON_AddNumberToObject(p, "requests", (double)load(&a->n_requests));
    cJSON_AddNumberToObject(p, "bad_requests", (double)load(&a->n_bad_requests));
    cJSON_AddNumberToObject(p, "audit_dropped", (double)load(&a->n_audit_dropped));
    cJSON_AddNumberToObject(p, "input_depth", a->in ? (double)vg_ring_depth(a->in) : 0);
    cJSON_AddNumberToObject(p, "input_capacity", a->in ? (double)vg_ring_capacity(a->in) : 0);
    if (a->cfg.audit)
        cJSON_AddNumberToObject(p, "audit_depth", (double)vg_ring_depth(a->cfg.audit));
    if (a->cfg.status_fn) {
        cJSON *e = cJSON_AddObjectToObject(r, "engine");
        a->cfg.status_fn(a->cfg.hook_ctx, e);
    }
    return r;
}

static cJSON *do_reload(vg_alert *a, const cJSON *req)
{
    char err[256] = "";
    int r;

    if (!a->cfg.reload_fn)
        return reply_error("reload is not available in this program");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "operator");
    if (op && (!cJSON_IsString(op) || !op->valuestring[0]))
        return reply_error("'operator' must be a non-empty string");
    /* The operator is optional here (the command predates it): without one the audit
     * record names "system", as for SIGHUP. */
    vg_alert_actor who = {
        .operator_id = get_str(req, "operator"),
        .comment = get_str(req, "comment"),
        .wall_ns = vg_wall_ns(),
    };
    const char *bad = who_not_utf8(&who);
    if (bad)
        return reply_error("%s", bad);
    r = a->cfg.reload_fn(a->cfg.hook_ctx, get_str(req, "path"), &who, err, sizeof(err));
    if (r < 0)
        return reply_error("reload: %s", err[0] ? err : vg_strerror(r));
    cJSON *rep = cJSON_CreateObject();
    cJSON_AddTrueToObject(rep, "ok");
    return rep;
}

/* Answers one request; returns the reply text in *b (or sets b->err). */
static void handle_request(vg_alert *a, const char *text, size_t len, vg__buf *b)
{
    cJSON *req = len < REQUEST_MAX ? cJSON_ParseWithLength(text, len) : NULL;
    cJSON *rep = NULL;
    const char *cmd = req ? get_str(req, "cmd") : NULL;

    bump(&a->n_requests);
    /* DESIGN.md writes the command "out-of-service"; both spellings are taken. */
    if (cmd && strcmp(cmd, "out-of-service") == 0)
        cmd = "out_of_service";
    else if (cmd && strcmp(cmd, "in-service") == 0)
        cmd = "in_service";
    if (!req || !cJSON_IsObject(req)) {
        rep =
            reply_error(len >= REQUEST_MAX ? "request too large" : "request is not a JSON object");
    } else if (!cmd) {
        rep = reply_error("'cmd' is required");
    } else if (strcmp(cmd, "snapshot") == 0) {
        if (do_snapshot(a, req, b) < 0) {
            vg__buf_reset(b);
            rep = reply_error("snapshot: unknown feed");
        }
    } else if (strcmp(cmd, "status") == 0) {
        rep = do_status(a);
    } else if (strcmp(cmd, "reload") == 0) {
        rep = do_reload(a, req);
    } else if (strcmp(cmd, "ack") == 0 || strcmp(cmd, "shelve") == 0 ||
               strcmp(cmd, "unshelve") == 0 || strcmp(cmd, "out_of_service") == 0 ||
               strcmp(cmd, "in_service") == 0 || strcmp(cmd, "reset") == 0) {
        rep = do_operator_cmd(a, cmd, req);
    } else {
        rep = reply_error("unknown cmd '%s'", cmd);
    }
    if (rep) {
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(rep, "ok");
        if (!cJSON_IsTrue(ok))
            bump(&a->n_bad_requests);
        char *s = cJSON_PrintUnformatted(rep);
        if (s)
            vg__buf_puts(b, s);
        else
            b->err = -ENOMEM;
        free(s);
        cJSON_Delete(rep);
    }
    cJSON_Delete(req);
}

static void serve_control(vg_alert *a)
{
    for (int i = 0; i < 16; i++) {
        zmq_msg_t msg;
        vg__buf b;
        int more;
        size_t more_len = sizeof(more);

        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, a->rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        vg__buf_init(&b, NULL, 0, 256u << 20);
        /* A request is one frame; drop any extra frames so REP stays in step. */
        zmq_getsockopt(a->rep, ZMQ_RCVMORE, &more, &more_len);
        bool extra = more;
        while (more) {
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, a->rep, 0);
            zmq_msg_close(&x);
            zmq_getsockopt(a->rep, ZMQ_RCVMORE, &more, &more_len);
        }
        if (extra) {
            bump(&a->n_requests);
            bump(&a->n_bad_requests);
            vg__buf_puts(&b, "{\"ok\":false,\"error\":\"a request is one frame\"}");
        } else {
            handle_request(a, zmq_msg_data(&msg), zmq_msg_size(&msg), &b);
        }
        zmq_msg_close(&msg);
        if (b.err) {
            vg__buf_reset(&b);
            b.err = 0;
            vg__buf_puts(&b, "{\"ok\":false,\"error\":\"reply too large or out of memory\"}");
        }
        if (zmq_send(a->rep, b.p ? b.p : "", b.len, 0) < 0)
            bump(&a->n_send_errors);
        vg__buf_release(&b);
    }
}

/* ---- ZAP (client keys) ---- */

static int zap_allowed(const vg_alert *a, const char *domain, size_t dlen, const char *mech,
                       size_t mlen, const uint8_t *key, size_t klen)
{
    int list = dlen == 5 && memcmp(domain, "feeds", 5) == 0     ? 0
               : dlen == 7 && memcmp(domain, "control", 7) == 0 ? 1
                                                                : -1;
    if (list < 0)
        return 0;
    if (a->n_allow[list] == 0)
        return 1;
    if (mlen != 5 || memcmp(mech, "CURVE", 5) != 0 || klen != 32)
        return 0;
    for (size_t i = 0; i < a->n_allow[list]; i++)
        if (memcmp(a->allow[list][i], key, 32) == 0)
            return 1;
    return 0;
}

static void serve_zap(vg_alert *a)
{
    for (int n = 0; a->zap && n < 16; n++) {
        zmq_msg_t f[7];
        int got = 0, more = 1;
        size_t ml = sizeof(more);

        /* version, request id, domain, address, identity, mechanism, credentials */
        for (; got < 7 && more; got++) {
            zmq_msg_init(&f[got]);
            if (zmq_msg_recv(&f[got], a->zap, got ? 0 : ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&f[got]);
                break;
            }
            zmq_getsockopt(a->zap, ZMQ_RCVMORE, &more, &ml);
        }
        if (got == 0)
            return;
        while (more) { /* extra credential frames: read and ignore */
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, a->zap, 0);
            zmq_msg_close(&x);
            zmq_getsockopt(a->zap, ZMQ_RCVMORE, &more, &ml);
        }
        int ok = got >= 6 &&
                 zap_allowed(a, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), zmq_msg_data(&f[5]),
                             zmq_msg_size(&f[5]), got == 7 ? zmq_msg_data(&f[6]) : NULL,
                             got == 7 ? zmq_msg_size(&f[6]) : 0);
        zmq_send(a->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(a->zap, got > 1 ? zmq_msg_data(&f[1]) : "", got > 1 ? zmq_msg_size(&f[1]) : 0,
                 ZMQ_SNDMORE);
        zmq_send(a->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(a->zap, ok ? "OK" : "key not allowed", ok ? 2 : 15, ZMQ_SNDMORE);
        zmq_send(a->zap, "", 0, ZMQ_SNDMORE);
        zmq_send(a->zap, "", 0, 0);
        for (int i = 0; i < got; i++)
            zmq_msg_close(&f[i]);
    }
}

/* ---- thread ---- */

static void *alert_main(void *arg)
{
    vg_alert *a = arg;
    int64_t hb_ns = (int64_t)a->cfg.heartbeat_ms * VG_NS_PER_MS;
    int64_t next_hb = vg_mono_ns();

    pthread_setname_np(pthread_self(), "vg-alert");
    for (;;) {
        size_t n = drain_some(a, BATCH);
        serve_zap(a);
        serve_control(a);
        int64_t now = vg_mono_ns();
        if (now >= next_hb) {
            publish_heartbeats(a);
            publish_metrics(a);
            next_hb = now + hb_ns;
        }
        if (n)
            continue;
        if (atomic_load(&a->stop)) {
            /* Publish everything already pushed, then leave. */
            while (drain_some(a, BATCH))
                ;
            break;
        }
        int64_t wait = next_hb - now < POLL_NS ? next_hb - now : POLL_NS;
        if (wait < 0)
            wait = 0;
        if (vg_ring_wait_readable(a->in, wait) == -ECANCELED) {
            /* Input closed: keep serving the control socket until stopped. */
            zmq_pollitem_t it[2] = {{.socket = a->rep, .events = ZMQ_POLLIN},
                                    {.socket = a->zap, .events = ZMQ_POLLIN}};
            zmq_poll(it, a->zap ? 2 : 1, (long)(wait / VG_NS_PER_MS) + 1);
        }
    }
    publish_heartbeats(a);
    return NULL;
}

/* ---- lifecycle of the handle ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int set_curve_server(void *sock, const char *secret)
{
    int one = 1;
    uint8_t key[32];

    if (!secret)
        return 0;
    if (strlen(secret) != 40 || !zmq_z85_decode(key, secret))
        return -EINVAL;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, 40) < 0)
        return zerr();
    return 0;
}

static int decode_keys(const char *const *keys, size_t n, uint8_t (**ret)[32])
{
    uint8_t(*k)[32];

    *ret = NULL;
    if (n == 0)
        return 0;
    if (!keys)
        return -EINVAL;
    k = calloc(n, sizeof(*k));
    if (!k)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!keys[i] || strlen(keys[i]) != 40 || !zmq_z85_decode(k[i], keys[i])) {
            free(k);
            return -EINVAL;
        }
    *ret = k;
    return 0;
}

static int bind_socket(void *sock, const char *ep, char *bound, size_t cap)
{
    size_t len = cap;

    if (zmq_bind(sock, ep) < 0)
        return zerr();
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &len) < 0)
        return zerr();
    return 0;
}

int vg_alert_new(const vg_model *m, const vg_alert_cfg *cfg, vg_alert **ret)
{
    vg_alert_cfg def;
    vg_alert *a;
    vg_alert_sink sink;
    int r = -ENOMEM;
    int linger = 1000, zero = 0;

    if (!m || !ret)
        return -EINVAL;
    if (!cfg) {
        vg_alert_cfg_default(&def);
        cfg = &def;
    }
    if (cfg->heartbeat_ms < 0 || cfg->sndhwm < 0)
        return -EINVAL;
    if (cfg->audit && vg_ring_record_size(cfg->audit) != sizeof(vg_alert_audit))
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = *cfg;
    if (!a->cfg.heartbeat_ms)
        a->cfg.heartbeat_ms = 1000;
    if (!a->cfg.sndhwm)
        a->cfg.sndhwm = 100000;
    a->feeds_ep = strdup(cfg->feeds_endpoint ? cfg->feeds_endpoint : VG_ALERT_DEFAULT_FEEDS);
    a->control_ep =
        strdup(cfg->control_endpoint ? cfg->control_endpoint : VG_ALERT_DEFAULT_CONTROL);
    a->feeds_key = dup_or_null(cfg->feeds_secret_key);
    a->control_key = dup_or_null(cfg->control_secret_key);
    if (!a->feeds_ep || !a->control_ep || (cfg->feeds_secret_key && !a->feeds_key) ||
        (cfg->control_secret_key && !a->control_key))
        goto out_free;
    a->cfg.feeds_endpoint = a->feeds_ep;
    a->cfg.control_endpoint = a->control_ep;
    a->cfg.feeds_secret_key = a->feeds_key;
    a->cfg.control_secret_key = a->control_key;
    atomic_init(&a->model, m);
    a->started_wall_ns = vg_wall_ns();
    snprintf(a->instance, sizeof(a->instance), "%016llx",
             (unsigned long long)(a->started_wall_ns ^ ((int64_t)getpid() << 40)));
    sink = (vg_alert_sink){.ctx = a, .on_note = on_note, .on_audit = on_audit};
    r = vg_alert_core_new(m, &a->cfg.policy, &sink, &a->core);
    if (r < 0)
        goto out_free;
    r = resize_metrics(a, m);
    if (r < 0)
        goto out_free;
    r = -ENOMEM;
    a->zctx = zmq_ctx_new();
    if (!a->zctx)
        goto out_free;
    a->pub = zmq_socket(a->zctx, ZMQ_PUB);
    a->rep = zmq_socket(a->zctx, ZMQ_REP);
    if (!a->pub || !a->rep) {
        r = zerr();
        goto out_free;
    }
    zmq_setsockopt(a->pub, ZMQ_SNDHWM, &a->cfg.sndhwm, sizeof(int));
    zmq_setsockopt(a->pub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(a->rep, ZMQ_LINGER, &zero, sizeof(zero));
    r = decode_keys(cfg->feeds_client_keys, cfg->n_feeds_client_keys, &a->allow[0]);
    if (r == 0)
        r = decode_keys(cfg->control_client_keys, cfg->n_control_client_keys, &a->allow[1]);
    if (r < 0)
        goto out_free;
    a->n_allow[0] = cfg->n_feeds_client_keys;
    a->n_allow[1] = cfg->n_control_client_keys;
    a->cfg.feeds_client_keys = a->cfg.control_client_keys = NULL; /* only the decoded copy */
    if (a->n_allow[0] || a->n_allow[1]) {
        a->zap = zmq_socket(a->zctx, ZMQ_REP);
        if (!a->zap || zmq_setsockopt(a->zap, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
            zmq_bind(a->zap, "inproc://zeromq.zap.01") < 0) {
            r = a->zap ? zerr() : -ENOMEM;
            goto out_free;
        }
        zmq_setsockopt(a->pub, ZMQ_ZAP_DOMAIN, "feeds", 5);
        zmq_setsockopt(a->rep, ZMQ_ZAP_DOMAIN, "control", 7);
    }
    r = set_curve_server(a->pub, a->feeds_key);
    if (r == 0)
        r = set_curve_server(a->rep, a->control_key);
    if (r == 0)
        r = bind_socket(a->pub, a->feeds_ep, a->feeds_bound, sizeof(a->feeds_bound));
    if (r == 0)
        r = bind_socket(a->rep, a->control_ep, a->control_bound, sizeof(a->control_bound));
    if (r < 0) {
        if (r == -ENOENT || r == -EPROTONOSUPPORT || r == -ENOCOMPATPROTO)
            r = -EINVAL;
        goto out_free;
    }
    *ret = a;
    return 0;
out_free:
    vg_alert_free(&a);
    return r;
}

const char *vg_alert_feeds_endpoint(const vg_alert *a)
{
    return a ? a->feeds_bound : NULL;
}

const char *vg_alert_control_endpoint(const vg_alert *a)
{
    return a ? a->control_bound : NULL;
}

int vg_alert_start(vg_alert *a, vg_ring *in)
{
    int r;

    if (!a || !in || vg_ring_record_size(in) != sizeof(vg_alert_input))
        return -EINVAL;
    if (a->running || a->in)
        return -EALREADY;
    a->in = in;
    atomic_store(&a->stop, 0);
    r = pthread_create(&a->thread, NULL, alert_main, a);
    if (r) {
        a->in = NULL;
        return -r;
    }
    a->running = 1;
    return 0;
}

int vg_alert_stop(vg_alert *a)
{
    if (!a)
        return -EINVAL;
    if (!a->running)
        return -EALREADY;
    atomic_store(&a->stop, 1);
    pthread_join(a->thread, NULL);
    a->running = 0;
    return 0;
}

void vg_alert_free(vg_alert **ap)
{
    vg_alert *a;

    if (!ap || !*ap)
        return;
    a = *ap;
    if (a->running)
        vg_alert_stop(a);
    if (a->pub)
        zmq_close(a->pub);
    if (a->rep)
        zmq_close(a->rep);
    if (a->zap)
        zmq_close(a->zap);
    if (a->zctx)
        zmq_ctx_term(a->zctx);
    vg_alert_core_free(&a->core);
    free(a->zm);
    free(a->allow[0]);
    free(a->allow[1]);
    free(a->feeds_ep);
    free(a->control_ep);
    free(a->feeds_key);
    free(a->control_key);
    free(a);
    *ap = NULL;
}

const vg_model *vg_alert_model_in_use(const vg_alert *a)
{
    return a ? atomic_load_explicit(&((vg_alert *)a)->model, memory_order_acquire) : NULL;
}

int vg_alert_get_stats(const vg_alert *a, vg_alert_stats *ret_stats)
{
    vg_alert *w = (vg_alert *)a;

    if (!a || !ret_stats)
        return -EINVAL;
    ret_stats->inputs = load(&w->n_inputs);
    ret_stats->published = load(&w->n_published);
    ret_stats->send_errors = load(&w->n_send_errors);
    ret_stats->requests = load(&w->n_requests);
    ret_stats->bad_requests = load(&w->n_bad_requests);
    ret_stats->audit_dropped = load(&w->n_audit_dropped);
    ret_stats->seq = load(&w->n_seq);
    return 0;
}
