/* The scorer: alert events judged against the simulator's ground truth.
 *
 * An alert event matches an incident when its zone is the incident's, its event time lies in
 * the incident's window, its kind is one the truth expects and its grade reaches that kind's
 * lowest counted grade. The first match on the expected feed decides: build-ups pass with a
 * lead of at least min_lead_s before the true density reached critical, the others with a
 * delay of at most max_delay_s after the start. A match on another feed is "caught on the
 * wrong feed" and fails. An activation (distinct alert id) that touches no incident's zone
 * inside its window is a false alert.
 *
 * Alerts come in through vg_score_add_alert(); vg_score_read_jsonl() is one reader (the
 * `vigil run --events` file). An HDF5 archive reader adds its alert transitions the same way. */
#include "sim_priv.h"
#include "vigil/common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPECT 8

typedef struct expect {
    char kind[40];
    char feed[24];
    enum vg_grade min_grade;
} expect;

typedef struct sc_inc {
    char id[VG_MODEL_ID_MAX + 1];
    char type[32];
    char zone[VG_MODEL_ID_MAX + 1];
    int buildup;
    double t_start, t_end, t_critical, min_lead, max_delay, win_from, win_to;
    expect ex[MAX_EXPECT];
    uint32_t nex;
    char (*related)[VG_MODEL_ID_MAX + 1]; /* neighbouring zones: their alerts are related */
    uint32_t nrelated;
} sc_inc;

struct vg_score {
    char scenario[128];
    double start, end, duration;
    sc_inc *inc;
    uint32_t ninc;
    vg_score_alert *alerts;
    size_t n, cap;
};

static void set_err(vg_scenario_error *e, const char *file, int line, const char *key,
                    const char *msg)
{
    if (!e)
        return;
    memset(e, 0, sizeof(*e));
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->line = line;
    snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
    snprintf(e->message, sizeof(e->message), "%s", msg);
}

static void copy_str(char *dst, size_t len, const cJSON *j)
{
    snprintf(dst, len, "%s", cJSON_IsString(j) ? j->valuestring : "");
}

static double num_or_nan(const cJSON *j)
{
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

int vg_score_parse_alert(const char *json, size_t len, vg_score_alert *ret)
{
    cJSON *o;
    const cJSON *id, *kind, *zone, *grade, *ts, *feed, *act;
    vg_score_alert a;
    int r = -EPROTO;

    if (!json || !ret)
        return -EINVAL;
    o = cJSON_ParseWithLength(json, len);
    if (!o)
        return -EPROTO;
    if (!cJSON_IsObject(o))
        goto out;
    id = cJSON_GetObjectItemCaseSensitive(o, "id");
    kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    zone = cJSON_GetObjectItemCaseSensitive(o, "zone");
    grade = cJSON_GetObjectItemCaseSensitive(o, "grade");
    ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
    feed = cJSON_GetObjectItemCaseSensitive(o, "feed");
    act = cJSON_GetObjectItemCaseSensitive(o, "action");
    if (!cJSON_IsString(act))
        act = cJSON_GetObjectItemCaseSensitive(o, "state");
    /* zone is null for system alerts (archive backlog): kept, with an empty zone, so they
     * count as false alerts rather than making the file unreadable. */
    if (!(cJSON_IsString(id) || cJSON_IsNumber(id)) || !cJSON_IsString(kind) ||
        !(cJSON_IsString(zone) || cJSON_IsNull(zone)) || !cJSON_IsString(grade) ||
        !cJSON_IsNumber(ts) || !cJSON_IsString(feed) || !isfinite(ts->valuedouble))
        goto out;
    memset(&a, 0, sizeof(a));
    if (cJSON_IsNumber(id))
        snprintf(a.id, sizeof(a.id), "%.0f", id->valuedouble);
    else
        copy_str(a.id, sizeof(a.id), id);
    copy_str(a.kind, sizeof(a.kind), kind);
    copy_str(a.zone, sizeof(a.zone), zone);
    copy_str(a.feed, sizeof(a.feed), feed);
    copy_str(a.action, sizeof(a.action), act);
    if (vg_grade_parse(grade->valuestring, &a.grade) < 0)
        goto out;
    if (strcmp(a.action, "clear") == 0)
        a.grade = VG_GRADE_CLEAR;
    a.ts = ts->valuedouble;
    a.value = num_or_nan(cJSON_GetObjectItemCaseSensitive(o, "value"));
    a.threshold = num_or_nan(cJSON_GetObjectItemCaseSensitive(o, "threshold"));
    *ret = a;
    r = 0;
out:
    cJSON_Delete(o);
    return r;
}

static int load_incident(const cJSON *j, sc_inc *in, char *key, size_t keylen)
{
    const cJSON *v, *w, *ex;

    if (!cJSON_IsObject(j))
        return -1;
    copy_str(in->id, sizeof(in->id), cJSON_GetObjectItemCaseSensitive(j, "id"));
    copy_str(in->type, sizeof(in->type), cJSON_GetObjectItemCaseSensitive(j, "type"));
    copy_str(in->zone, sizeof(in->zone), cJSON_GetObjectItemCaseSensitive(j, "zone"));
    snprintf(key, keylen, "incidents.%s", in->id[0] ? in->id : "?");
    if (!in->id[0] || !in->zone[0]) {
        snprintf(key + strlen(key), keylen - strlen(key), ".%s", in->id[0] ? "zone" : "id");
        return -1;
    }
    in->buildup = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "buildup"));
    v = cJSON_GetObjectItemCaseSensitive(j, "t_start");
    if (!cJSON_IsNumber(v)) {
        snprintf(key + strlen(key), keylen - strlen(key), ".t_start");
        return -1;
    }
    in->t_start = v->valuedouble;
    in->t_end = num_or_nan(cJSON_GetObjectItemCaseSensitive(j, "t_end"));
    in->t_critical = num_or_nan(cJSON_GetObjectItemCaseSensitive(j, "t_critical"));
    in->min_lead = num_or_nan(cJSON_GetObjectItemCaseSensitive(j, "min_lead_s"));
    in->max_delay = num_or_nan(cJSON_GetObjectItemCaseSensitive(j, "max_delay_s"));
    w = cJSON_GetObjectItemCaseSensitive(j, "window");
    if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != 2 ||
        !cJSON_IsNumber(cJSON_GetArrayItem(w, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(w, 1))) {
        snprintf(key + strlen(key), keylen - strlen(key), ".window");
        return -1;
    }
    in->win_from = cJSON_GetArrayItem(w, 0)->valuedouble;
    in->win_to = cJSON_GetArrayItem(w, 1)->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(j, "related_zones");
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
        const cJSON *z;
        in->related = calloc((size_t)cJSON_GetArraySize(v), sizeof(*in->related));
        if (!in->related)
            return -1;
        cJSON_ArrayForEach(z, v) copy_str(in->related[in->nrelated++], sizeof(*in->related), z);
    }
    ex = cJSON_GetObjectItemCaseSensitive(j, "expect");
    if (!cJSON_IsArray(ex) || cJSON_GetArraySize(ex) == 0) {
        snprintf(key + strlen(key), keylen - strlen(key), ".expect");
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, ex)
    {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(e, "min_grade");
        expect *x;
        if (in->nex == MAX_EXPECT)
            break;
        x = &in->ex[in->nex];
        copy_str(x->kind, sizeof(x->kind), cJSON_GetObjectItemCaseSensitive(e, "kind"));
        copy_str(x->feed, sizeof(x->feed), cJSON_GetObjectItemCaseSensitive(e, "feed"));
        x->min_grade = VG_GRADE_ADVISORY;
        if (!x->kind[0] || !x->feed[0] ||
            (cJSON_IsString(g) && vg_grade_parse(g->valuestring, &x->min_grade) < 0)) {
            snprintf(key + strlen(key), keylen - strlen(key), ".expect[%u]", in->nex);
            return -1;
        }
        in->nex++;
    }
    return 0;
}

int vg_score_new(const char *truth_path, vg_score **ret, vg_scenario_error *ret_err)
{
    vg_score *s;
    char *text = NULL, key[160] = "";
    size_t len;
    cJSON *doc = NULL;
    const cJSON *incs, *v;
    int r;

    if (!truth_path || !ret)
        return -EINVAL;
    r = vg_read_file(truth_path, &text, &len);
    if (r < 0) {
        set_err(ret_err, truth_path, 0, "", r == -ENOMEM ? "out of memory" : strerror(-r));
        return r;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        free(text);
        return -ENOMEM;
    }
    r = -EINVAL;
    doc = cJSON_ParseWithLength(text, len);
    if (!doc || !cJSON_IsObject(doc)) {
        set_err(ret_err, truth_path, 1, "", "not a JSON object (a ground-truth file from vigil sim --truth)");
        goto fail;
    }
    v = cJSON_GetObjectItemCaseSensitive(doc, "v");
    if (!cJSON_IsNumber(v) || v->valueint != 1) {
        set_err(ret_err, truth_path, 1, "v", "unsupported ground-truth version (want 1)");
        goto fail;
    }
    copy_str(s->scenario, sizeof(s->scenario), cJSON_GetObjectItemCaseSensitive(doc, "scenario"));
    s->start = num_or_nan(cJSON_GetObjectItemCaseSensitive(doc, "start"));
    s->end = num_or_nan(cJSON_GetObjectItemCaseSensitive(doc, "end"));
    s->duration = num_or_nan(cJSON_GetObjectItemCaseSensitive(doc, "duration_s"));
    if (!isfinite(s->start) || !(s->duration > 0)) {
        set_err(ret_err, truth_path, 1, isfinite(s->start) ? "duration_s" : "start",
                "missing or not a positive number");
        goto fail;
    }
    incs = cJSON_GetObjectItemCaseSensitive(doc, "incidents");
    if (!cJSON_IsArray(incs)) {
        set_err(ret_err, truth_path, 1, "incidents", "missing or not an array");
        goto fail;
    }
    s->ninc = (uint32_t)cJSON_GetArraySize(incs);
    s->inc = calloc(s->ninc + 1, sizeof(*s->inc));
    if (!s->inc) {
        r = -ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < s->ninc; i++)
        if (load_incident(cJSON_GetArrayItem(incs, (int)i), &s->inc[i], key, sizeof(key)) < 0) {
            if (!key[0])
                snprintf(key, sizeof(key), "incidents[%u]", i);
            set_err(ret_err, truth_path, 1, key, "missing or malformed");
            goto fail;
        }
    cJSON_Delete(doc);
    free(text);
    *ret = s;
    return 0;
fail:
    cJSON_Delete(doc);
    free(text);
    vg_score_free(&s);
    return r;
}

void vg_score_free(vg_score **sp)
{
    if (!sp || !*sp)
        return;
    for (uint32_t i = 0; (*sp)->inc && i < (*sp)->ninc; i++)
        free((*sp)->inc[i].related);
    free((*sp)->inc);
    free((*sp)->alerts);
    free(*sp);
    *sp = NULL;
}

int vg_score_add_alert(vg_score *s, const vg_score_alert *a)
{
    if (!s || !a)
        return -EINVAL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        vg_score_alert *p = realloc(s->alerts, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->alerts = p;
        s->cap = cap;
    }
    s->alerts[s->n++] = *a;
    return 0;
}

int vg_score_read_jsonl(vg_score *s, const char *path, vg_scenario_error *ret_err)
{
    char *text = NULL, *p;
    size_t len;
    int line = 0, r;

    if (!s || !path)
        return -EINVAL;
    r = vg_read_file(path, &text, &len);
    if (r < 0) {
        set_err(ret_err, path, 0, "", r == -ENOMEM ? "out of memory" : strerror(-r));
        return r;
    }
    for (p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        vg_score_alert a;
        size_t k = 0;

        line++;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n) {
            if (vg_score_parse_alert(p, n, &a) < 0) {
                set_err(ret_err, path, line, "",
                        "not an alert event (a JSON object with id, feed, kind, zone, grade, ts)");
                free(text);
                return -EINVAL;
            }
            if ((r = vg_score_add_alert(s, &a)) < 0) {
                free(text);
                return r;
            }
        }
        p += n + 1;
    }
    free(text);
    return 0;
}

uint32_t vg_score_incident_count(const vg_score *s)
{
    return s ? s->ninc : 0;
}

/* The expectation alert a meets for incident in, or NULL. */
static const expect *match(const sc_inc *in, const vg_score_alert *a)
{
    if (a->grade == VG_GRADE_CLEAR || strcmp(a->zone, in->zone) != 0 || a->ts < in->win_from ||
        a->ts > in->win_to)
        return NULL;
    for (uint32_t k = 0; k < in->nex; k++)
        if (strcmp(in->ex[k].kind, a->kind) == 0 && a->grade >= in->ex[k].min_grade)
            return &in->ex[k];
    return NULL;
}

int vg_score_incident_get(const vg_score *s, uint32_t idx, vg_score_incident *ret)
{
    const sc_inc *in;
    const vg_score_alert *best = NULL, *any = NULL;

    if (!s || !ret || idx >= s->ninc)
        return -EINVAL;
    in = &s->inc[idx];
    for (size_t i = 0; i < s->n; i++) {
        const vg_score_alert *a = &s->alerts[i];
        const expect *x = match(in, a);
        if (!x)
            continue;
        if (!any || a->ts < any->ts)
            any = a;
        if (strcmp(x->feed, a->feed) == 0 && (!best || a->ts < best->ts))
            best = a;
    }
    memset(ret, 0, sizeof(*ret));
    ret->id = in->id;
    ret->type = in->type;
    ret->zone = in->zone;
    ret->buildup = in->buildup;
    ret->t_start = in->t_start;
    ret->t_critical = in->t_critical;
    ret->min_lead_s = in->min_lead;
    ret->max_delay_s = in->max_delay;
    ret->lead_s = NAN;
    ret->delay_s = NAN;
    ret->t_alert = NAN;
    const vg_score_alert *a = best ? best : any;
    if (!a)
        return 0;
    ret->caught = 1;
    ret->right_feed = best != NULL;
    snprintf(ret->kind, sizeof(ret->kind), "%s", a->kind);
    snprintf(ret->feed, sizeof(ret->feed), "%s", a->feed);
    ret->grade = a->grade;
    ret->t_alert = a->ts;
    ret->delay_s = a->ts - in->t_start;
    if (isfinite(in->t_critical))
        ret->lead_s = in->t_critical - a->ts;
    ret->pass = ret->right_feed;
    if (in->buildup && isfinite(in->min_lead) && isfinite(ret->lead_s))
        ret->pass &= ret->lead_s >= in->min_lead;
    if (!in->buildup && isfinite(in->max_delay))
        ret->pass &= ret->delay_s <= in->max_delay;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    const vg_score_alert *x = *(const vg_score_alert *const *)a;
    const vg_score_alert *y = *(const vg_score_alert *const *)b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* An activation touches an incident: its zone or a neighbour, inside the window. */
static int related(const vg_score *s, const vg_score_alert *a)
{
    for (uint32_t i = 0; i < s->ninc; i++) {
        const sc_inc *in = &s->inc[i];
        int near = strcmp(a->zone, in->zone) == 0;
        for (uint32_t k = 0; k < in->nrelated && !near; k++)
            near = strcmp(a->zone, in->related[k]) == 0;
        if (near && a->ts >= in->win_from && a->ts <= in->win_to)
            return 1;
    }
    return 0;
}

void vg_score_summary_get(const vg_score *s, vg_score_summary *ret)
{
    const vg_score_alert **ord;

    if (!s || !ret)
        return;
    memset(ret, 0, sizeof(*ret));
    ret->incidents = s->ninc;
    ret->duration_s = s->duration;
    for (uint32_t i = 0; i < s->ninc; i++) {
        vg_score_incident r;
        vg_score_incident_get(s, i, &r);
        ret->caught += (uint32_t)r.caught;
        ret->passed += (uint32_t)r.pass;
    }
    ord = malloc((s->n + 1) * sizeof(*ord));
    if (!ord)
        return;
    for (size_t i = 0; i < s->n; i++)
        ord[i] = &s->alerts[i];
    qsort(ord, s->n, sizeof(*ord), by_id);
    for (size_t i = 0; i < s->n;) {
        size_t j = i;
        enum vg_grade top = VG_GRADE_CLEAR;
        int rel = 0, any = 0;
        for (; j < s->n && strcmp(ord[j]->id, ord[i]->id) == 0; j++) {
            if (ord[j]->grade == VG_GRADE_CLEAR)
                continue;
            any = 1;
            if (ord[j]->grade > top)
                top = ord[j]->grade;
            rel |= related(s, ord[j]);
        }
        if (any) {
            ret->activations++;
            if (!rel) {
                if (top >= VG_GRADE_WARNING)
                    ret->false_alerts++;
                else
                    ret->false_advisory++;
                if ((uint32_t)top > ret->max_grade_quiet)
                    ret->max_grade_quiet = (uint32_t)top;
            }
        }
        i = j;
    }
    free(ord);
    ret->per_10min = s->duration > 0 ? ret->activations * 600.0 / s->duration : 0;
}

int vg_score_write_text(const vg_score *s, FILE *f)
{
    vg_score_summary sum;

    if (!s || !f)
        return -EINVAL;
    fprintf(f, "scenario %s: %u incidents, %zu alert events\n", s->scenario, s->ninc, s->n);
    for (uint32_t i = 0; i < s->ninc; i++) {
        vg_score_incident r;
        vg_score_incident_get(s, i, &r);
        fprintf(f, "%-4s %s (%s, zone %s): ", r.pass ? "PASS" : "FAIL", r.id, r.type, r.zone);
        if (!r.caught) {
            fprintf(f, "missed\n");
            continue;
        }
        fprintf(f, "%s/%s on %s%s at +%.1f s", r.kind, vg_grade_name(r.grade), r.feed,
                r.right_feed ? "" : " (wrong feed)", r.delay_s);
        if (r.buildup) {
            if (isfinite(r.lead_s))
                fprintf(f, ", lead %.1f s before critical (need >= %.0f s)", r.lead_s,
                        r.min_lead_s);
            else
                fprintf(f, ", the zone never reached critical");
        } else if (isfinite(r.max_delay_s)) {
            fprintf(f, ", delay %.1f s (limit %.0f s)", r.delay_s, r.max_delay_s);
        }
        fputc('\n', f);
    }
    vg_score_summary_get(s, &sum);
    fprintf(f, "incidents: %u passed, %u caught, %u in all\n", sum.passed, sum.caught,
            sum.incidents);
    fprintf(f, "false alerts: %u at warning or above, %u advisory\n", sum.false_alerts,
            sum.false_advisory);
    fprintf(f, "alerts: %u activations in %.1f min = %.2f per 10 min\n", sum.activations,
            sum.duration_s / 60.0, sum.per_10min);
    return ferror(f) ? -EIO : 0;
}

static void json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.3f", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

/* ,"key":"text", escaped: ids and names come from the user's files */
static void json_str(FILE *f, const char *key, const char *v)
{
    fprintf(f, ",\"%s\":", key);
    vg__sim_put_json_str(f, v);
}

int vg_score_write_json(const vg_score *s, FILE *f)
{
    vg_score_summary sum;

    if (!s || !f)
        return -EINVAL;
    vg_score_summary_get(s, &sum);
    fputs("{\"scenario\":", f);
    vg__sim_put_json_str(f, s->scenario);
    fputs(",\"incidents\":[", f);
    for (uint32_t i = 0; i < s->ninc; i++) {
        vg_score_incident r;
        vg_score_incident_get(s, i, &r);
        fputs(i ? ",{\"id\":" : "{\"id\":", f);
        vg__sim_put_json_str(f, r.id);
        json_str(f, "type", r.type);
        json_str(f, "zone", r.zone);
        fprintf(f, ",\"caught\":%s,\"right_feed\":%s,\"pass\":%s", r.caught ? "true" : "false",
                r.right_feed ? "true" : "false", r.pass ? "true" : "false");
        json_str(f, "kind", r.kind);
        json_str(f, "feed", r.feed);
        json_str(f, "grade", r.caught ? vg_grade_name(r.grade) : "");
        json_num(f, "t_alert", r.t_alert);
        json_num(f, "delay_s", r.delay_s);
        json_num(f, "lead_s", r.lead_s);
        fputc('}', f);
    }
    fprintf(f, "],\"passed\":%u,\"caught\":%u,\"false_alerts\":%u,\"false_advisory\":%u,"
               "\"activations\":%u,\"per_10min\":%.3f,\"max_grade_quiet\":\"%s\"}\n",
            sum.passed, sum.caught, sum.false_alerts, sum.false_advisory, sum.activations,
            sum.per_10min, vg_grade_name((enum vg_grade)sum.max_grade_quiet));
    return ferror(f) ? -EIO : 0;
}
