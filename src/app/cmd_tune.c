/* vigil tune: sweeps thresholds, delays and deadbands over archives. For every setting it
 * replays the archives through the analysis core with a modified venue model (or core
 * settings) and reports, as a table and as CSV: alert annunciations per grade, activations
 * per feed, activations per 10 minutes against the EEMUA 191 benchmarks, chattering alerts,
 * and the lead time before each incident marked in the archive (operator annotations) or in
 * a simulator's ground-truth file. --plot draws rate against lead time with gnuplot. */
#include "cmd.h"

#include "vigil/archive.h"
#include "vigil/common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_VARY 4
#define MAX_SETTINGS 10000
#define ANY_KIND UINT32_MAX

static void usage(FILE *f)
{
    fprintf(f,
        "usage: vigil tune ARCHIVE... --vary KEY=FROM:TO:STEP [--vary ...] [--model FILE]\n"
        "                  [--truth FILE] [--csv FILE] [--plot FILE.png]\n"
        "\n"
        "Replays the archives once per setting (every combination of the --vary ranges) and\n"
        "reports alert load against lead time.\n"
        "\n"
        "  --vary KEY=FROM:TO:STEP  KEY is a setting of the venue model file, as a path whose\n"
        "                  list elements are named by their id, e.g.\n"
        "                  profiles.default.density.moving.critical, or .on_delay_s, .deadband;\n"
        "                  or a core setting: analysis.lateness_s, analysis.max_future_s,\n"
        "                  analysis.skew_s, analysis.trend_window_s, analysis.trend_min_s,\n"
        "                  analysis.flow_window_s, analysis.help_rearm_s,\n"
        "                  analysis.anomaly_hold_s, analysis.camera_fresh_s,\n"
        "                  analysis.anomaly (0/1); at most 4 --vary, 10000 settings\n"
        "  --model FILE    start from this model instead of the archived one\n"
        "  --truth FILE    incidents from a simulator's ground truth (vigil sim --truth)\n"
        "  --csv FILE      also write the results as CSV ('-': stdout instead of the table)\n"
        "  --plot FILE.png draw activations per 10 min against mean lead time (needs gnuplot)\n"
        "\n"
        "Incidents marked in the archives (/incidents) are always used. Lead time is the\n"
        "incident's critical time (else its start) minus the first alert of an expected kind in\n"
        "its zone; negative when the alert came late.\n");
}

struct vary {
    char key[256];
    double from, to, step;
    int n;
};

struct incident {
    char id[64];
    uint32_t zone;        /* VG_MODEL_NONE: any */
    uint32_t kinds;       /* bit per vg_alert_kind; ANY_KIND for any */
    int64_t t_start, t_ref, win_from, win_to;
};

struct ev {
    int64_t t_ns;
    uint64_t id;
    uint32_t zone;
    uint32_t flags;
    uint8_t kind, feed, grade, prev_grade, action;
};

struct collect {
    struct ev *ev;
    size_t n, cap;
    int oom;
};

struct result {
    double values[MAX_VARY];
    uint64_t per_grade[VG_GRADE_COUNT];
    uint64_t per_feed[VG_FEED_COUNT];
    uint64_t activations;
    double per_10min;
    uint64_t peak_10min;
    uint64_t chattering;
    uint32_t caught;
    double mean_lead_s, min_lead_s;
    const char *eemua;
};

static void on_alert(void *ctx, const vg_alert_event *e)
{
    struct collect *c = ctx;

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct ev *p = realloc(c->ev, cap * sizeof(*p));

        if (!p) {
            c->oom = 1;
            return;
        }
        c->ev = p;
        c->cap = cap;
    }
    c->ev[c->n++] = (struct ev){e->t_ns, e->id, e->zone, e->flags, e->kind, e->feed, e->grade,
                                e->prev_grade, e->action};
}

static int parse_vary(const char *arg, struct vary *v)
{
    const char *eq = strchr(arg, '=');
    char *end;

    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(v->key))
        return -EINVAL;
    memcpy(v->key, arg, (size_t)(eq - arg));
    v->key[eq - arg] = '\0';
    v->from = strtod(eq + 1, &end);
    if (*end != ':')
        return -EINVAL;
    v->to = strtod(end + 1, &end);
    if (*end != ':')
        return -EINVAL;
    v->step = strtod(end + 1, &end);
    if (*end || !isfinite(v->from) || !isfinite(v->to) || !(v->step > 0) || v->to < v->from)
        return -EINVAL;
    /* inclusive of TO, tolerant of binary fractions (0.1 steps); a count past the limit is
     * kept as MAX_SETTINGS + 1 (refused by the caller) so the cast cannot overflow */
    const double n = floor((v->to - v->from) / v->step + 1e-9) + 1;
    v->n = n > MAX_SETTINGS ? MAX_SETTINGS + 1 : (int)n;
    return v->n > 0 ? 0 : -EINVAL;
}

/* ---- model edits ---- */

/* Finds (creating groups and the final number as needed) the setting a dotted path names.
 * A list element is named by its "id" string or by [n]. */
static config_setting_t *walk(config_t *cfg, const char *path, int create)
{
    config_setting_t *cur = config_root_setting(cfg);
    char buf[256], *save = NULL, *tok;

    size_t plen = strnlen(path, sizeof(buf) - 1);

    memcpy(buf, path, plen);
    buf[plen] = '\0';
    for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        config_setting_t *next = NULL;
        int last = save == NULL || *save == '\0';

        if (config_setting_is_list(cur) || config_setting_is_array(cur)) {
            if (tok[0] == '[') {
                next = config_setting_get_elem(cur, (unsigned)atoi(tok + 1));
            } else {
                for (int i = 0; i < config_setting_length(cur) && !next; i++) {
                    config_setting_t *el = config_setting_get_elem(cur, (unsigned)i);
                    const char *id;

                    if (config_setting_is_group(el) &&
                        config_setting_lookup_string(el, "id", &id) == CONFIG_TRUE &&
                        strcmp(id, tok) == 0)
                        next = el;
                }
            }
        } else if (config_setting_is_group(cur)) {
            next = config_setting_get_member(cur, tok);
            if (!next && create)
                next = config_setting_add(cur, tok, last ? CONFIG_TYPE_FLOAT : CONFIG_TYPE_GROUP);
        }
        if (!next)
            return NULL;
        cur = next;
    }
    return cur;
}

static int set_number(config_setting_t *s, double v)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        if (v == floor(v))
            return config_setting_set_int(s, (int)v) == CONFIG_TRUE ? 0 : -EINVAL;
        break;
    case CONFIG_TYPE_INT64:
        if (v == floor(v))
            return config_setting_set_int64(s, (long long)v) == CONFIG_TRUE ? 0 : -EINVAL;
        break;
    case CONFIG_TYPE_FLOAT:
        return config_setting_set_float(s, v) == CONFIG_TRUE ? 0 : -EINVAL;
    default:
        break;
    }
    {
        /* "off" or an int setting given a fraction: replace it by a float */
        config_setting_t *parent = config_setting_parent(s);
        char name[128];

        if (!parent || !config_setting_name(s) || !config_setting_is_group(parent))
            return -EINVAL;
        snprintf(name, sizeof(name), "%s", config_setting_name(s));
        config_setting_remove(parent, name);
        s = config_setting_add(parent, name, CONFIG_TYPE_FLOAT);
        return s && config_setting_set_float(s, v) == CONFIG_TRUE ? 0 : -EINVAL;
    }
}

static int analysis_key(const char *key, double v, vg_analysis_cfg *c)
{
    static const struct {
        const char *name;
        size_t off;
    } keys[] = {
        {"analysis.lateness_s", offsetof(vg_analysis_cfg, lateness_ns)},
        {"analysis.max_future_s", offsetof(vg_analysis_cfg, max_future_ns)},
        {"analysis.skew_s", offsetof(vg_analysis_cfg, skew_ns)},
        {"analysis.trend_window_s", offsetof(vg_analysis_cfg, trend_window_ns)},
        {"analysis.trend_min_s", offsetof(vg_analysis_cfg, trend_min_ns)},
        {"analysis.flow_window_s", offsetof(vg_analysis_cfg, flow_window_ns)},
        {"analysis.help_rearm_s", offsetof(vg_analysis_cfg, help_rearm_ns)},
        {"analysis.anomaly_hold_s", offsetof(vg_analysis_cfg, anomaly_hold_ns)},
        {"analysis.camera_fresh_s", offsetof(vg_analysis_cfg, camera_fresh_ns)},
    };

    if (strcmp(key, "analysis.anomaly") == 0) {
        if (c)
            c->anomaly = v != 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(key, keys[i].name) == 0) {
            if (c)
                *(int64_t *)((char *)c + keys[i].off) = (int64_t)llround(v * 1e9);
            return 0;
        }
    }
    return strncmp(key, "analysis.", 9) == 0 ? -ENOENT : 1; /* 1: a model key */
}

/* The values of setting number s (the last --vary changes fastest), applied to cfg where
 * they are core settings. */
static void setting(const struct vary *vary, int nvary, size_t s, double *values,
                    vg_analysis_cfg *cfg)
{
    for (int i = nvary - 1; i >= 0; i--) {
        values[i] = vary[i].from + (double)(s % (size_t)vary[i].n) * vary[i].step;
        s /= (size_t)vary[i].n;
        analysis_key(vary[i].key, values[i], cfg);
    }
}

/* The base model with the setting's values applied, loaded from a temp file. */
static int model_for(const char *base_text, const char *include_dir, const struct vary *vary,
                     int nvary, const double *values, vg_model **ret)
{
    config_t cfg;
    char path[PATH_MAX];
    vg_model_error err;
    int fd, rc = 0;
    FILE *f;

    config_init(&cfg);
    if (include_dir)
        config_set_include_dir(&cfg, include_dir);
    if (config_read_string(&cfg, base_text) != CONFIG_TRUE) {
        fprintf(stderr, "vigil tune: base model: line %d: %s\n", config_error_line(&cfg),
                config_error_text(&cfg));
        config_destroy(&cfg);
        return -EINVAL;
    }
    for (int i = 0; i < nvary; i++) {
        config_setting_t *s;

        if (analysis_key(vary[i].key, 0, NULL) != 1)
            continue;
        s = walk(&cfg, vary[i].key, 1);
        if (!s || set_number(s, values[i]) < 0) {
            fprintf(stderr, "vigil tune: --vary %s: no such numeric setting in the model\n",
                    vary[i].key);
            config_destroy(&cfg);
            return -EINVAL;
        }
    }
    snprintf(path, sizeof(path), "%s/vigil-tune-XXXXXX.cfg",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    fd = mkstemps(path, 4);
    if (fd < 0) {
        rc = -errno;
        config_destroy(&cfg);
        return rc;
    }
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        config_destroy(&cfg);
        return -EIO;
    }
    config_write(&cfg, f);
    fclose(f);
    config_destroy(&cfg);
    rc = vg_model_load(path, ret, &err);
    if (rc < 0)
        fprintf(stderr, "vigil tune: modified model: %s: %s\n", err.key, err.message);
    unlink(path);
    return rc;
}

/* A --vary KEY that is not a numeric setting of the model, or a range the model refuses,
 * is bad usage: found on the first and the last setting before any long work rather than
 * in the sweep. Returns 0, 2 (bad usage) or 1 (a failure), after saying why. */
static int check_model_keys(const char *base_text, const char *include_dir,
                            const struct vary *vary, int nvary, size_t nset)
{
    const size_t ends[2] = {0, nset - 1};
    int any = 0;

    for (int i = 0; i < nvary; i++)
        any |= analysis_key(vary[i].key, 0, NULL) == 1;
    for (int e = 0; any && e < (nset > 1 ? 2 : 1); e++) {
        double values[MAX_VARY];
        vg_model *m = NULL;
        int r;

        setting(vary, nvary, ends[e], values, NULL);
        r = model_for(base_text, include_dir, vary, nvary, values, &m);
        vg_model_free(&m);
        if (r == -EINVAL)
            return 2;
        if (r < 0) {
            fprintf(stderr, "vigil tune: modified model: %s\n", vg_strerror(r));
            return 1;
        }
    }
    return 0;
}

/* ---- incidents ---- */

static int64_t secs_ns(const cJSON *j)
{
    return cJSON_IsNumber(j) ? (int64_t)llround(j->valuedouble * 1e9) : 0;
}

static int load_truth(const char *path, const vg_model *m, struct incident **inc, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long len;
    cJSON *doc, *list, *it;
    int rc = 0;

    if (!f)
        return -errno;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
        free(text);
        fclose(f);
        return -EIO;
    }
    text[len] = '\0';
    fclose(f);
    doc = cJSON_Parse(text);
    free(text);
    list = doc ? cJSON_GetObjectItem(doc, "incidents") : NULL;
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(doc);
        return -EPROTO;
    }
    cJSON_ArrayForEach(it, list) {
        struct incident x;
        const cJSON *zone = cJSON_GetObjectItem(it, "zone");
        const cJSON *win = cJSON_GetObjectItem(it, "window");
        const cJSON *exp = cJSON_GetObjectItem(it, "expect"), *e;
        const cJSON *id = cJSON_GetObjectItem(it, "id");
        struct incident *p;

        memset(&x, 0, sizeof(x));
        snprintf(x.id, sizeof(x.id), "%s", cJSON_IsString(id) ? id->valuestring : "?");
        x.zone = VG_MODEL_NONE;
        if (cJSON_IsString(zone) && *zone->valuestring &&
            vg_model_find_zone(m, zone->valuestring, &x.zone) < 0)
            x.zone = VG_MODEL_NONE;
        x.t_start = secs_ns(cJSON_GetObjectItem(it, "t_start"));
        x.t_ref = secs_ns(cJSON_GetObjectItem(it, "t_critical"));
        if (!x.t_ref)
            x.t_ref = x.t_start;
        x.kinds = 0;
        cJSON_ArrayForEach(e, exp) {
            const cJSON *k = cJSON_GetObjectItem(e, "kind");
            enum vg_alert_kind kind;

            if (cJSON_IsString(k) && vg_alert_kind_parse(k->valuestring, &kind) == 0)
                x.kinds |= 1u << kind;
        }
        if (!x.kinds)
            x.kinds = ANY_KIND;
        if (cJSON_GetArraySize(win) == 2) {
            x.win_from = secs_ns(cJSON_GetArrayItem(win, 0));
            x.win_to = secs_ns(cJSON_GetArrayItem(win, 1));
        } else {
            int64_t end = secs_ns(cJSON_GetObjectItem(it, "t_end"));

            x.win_from = x.t_start - 300 * VG_NS_PER_S;
            x.win_to = (end > x.t_ref ? end : x.t_ref) + 120 * VG_NS_PER_S;
        }
        p = realloc(*inc, (*n + 1) * sizeof(**inc));
        if (!p) {
            rc = -ENOMEM;
            break;
        }
        *inc = p;
        (*inc)[(*n)++] = x;
    }
    cJSON_Delete(doc);
    return rc;
}

static int archive_incidents(vg_archive_reader *rd, struct incident **inc, size_t *n)
{
    vg_archive_info info;
    vg_archive_incident *a;
    struct incident *p;
    size_t k;

    vg_archive_reader_info(rd, &info);
    k = (size_t)info.count[VG_ARCHIVE_REC_INCIDENT];
    if (!k)
        return 0;
    a = calloc(k, sizeof(*a));
    p = realloc(*inc, (*n + k) * sizeof(**inc));
    if (!a || !p) {
        free(a);
        if (p)
            *inc = p;
        return -ENOMEM;
    }
    *inc = p;
    if (vg_archive_reader_read(rd, VG_ARCHIVE_REC_INCIDENT, 0, k, a) < 0) {
        free(a);
        return -EIO;
    }
    for (size_t i = 0; i < k; i++) {
        struct incident *x = &(*inc)[(*n)++];
        int64_t end = a[i].t_end_ns > a[i].t_start_ns ? a[i].t_end_ns : a[i].t_start_ns;

        memset(x, 0, sizeof(*x));
        snprintf(x->id, sizeof(x->id), "%.*s", (int)sizeof(a[i].id), a[i].id);
        x->zone = a[i].zone;
        x->kinds = a[i].kind < 32 ? 1u << a[i].kind : ANY_KIND;
        x->t_start = a[i].t_start_ns;
        x->t_ref = a[i].t_critical_ns ? a[i].t_critical_ns : a[i].t_start_ns;
        x->win_from = x->t_start - 300 * VG_NS_PER_S;
        x->win_to = (end > x->t_ref ? end : x->t_ref) + 120 * VG_NS_PER_S;
    }
    free(a);
    return 0;
}

/* ---- one setting ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static void evaluate(const struct collect *c, const struct incident *inc, size_t ninc,
                     double duration_s, struct result *r)
{
    int64_t *raises = malloc((c->n ? c->n : 1) * sizeof(*raises));
    uint64_t *chat = malloc((c->n ? c->n : 1) * sizeof(*chat));
    size_t nr = 0, nc = 0;
    double lead_sum = 0;

    r->min_lead_s = NAN;
    for (size_t i = 0; i < c->n; i++) {
        const struct ev *e = &c->ev[i];

        if (e->action == VG_ALERT_ACTION_RAISE) {
            r->activations++;
            if (e->feed < VG_FEED_COUNT)
                r->per_feed[e->feed]++;
            if (raises)
                raises[nr++] = e->t_ns;
        }
        if ((e->action == VG_ALERT_ACTION_RAISE ||
             (e->action == VG_ALERT_ACTION_CHANGE && e->grade > e->prev_grade)) &&
            e->grade < VG_GRADE_COUNT)
            r->per_grade[e->grade]++;
        if ((e->flags & VG_ALERT_F_CHATTERING) && chat)
            chat[nc++] = e->id;
    }
    r->per_10min = duration_s > 0 ? (double)r->activations / (duration_s / 600.0) : NAN;
    if (raises) {
        size_t lo = 0;

        qsort(raises, nr, sizeof(*raises), cmp_i64);
        for (size_t hi = 0; hi < nr; hi++) {
            while (raises[hi] - raises[lo] >= 600 * VG_NS_PER_S)
                lo++;
            if (hi - lo + 1 > r->peak_10min)
                r->peak_10min = hi - lo + 1;
        }
    }
    if (chat) {
        qsort(chat, nc, sizeof(*chat), cmp_u64);
        for (size_t i = 0; i < nc; i++)
            r->chattering += i == 0 || chat[i] != chat[i - 1];
    }
    free(raises);
    free(chat);
    /* EEMUA 191: <= 1 alarm per 10 min is very likely acceptable, <= 2 manageable; 10 or
     * more in 10 minutes is a flood. */
    if (r->peak_10min >= 10)
        r->eemua = "flood";
    else if (!(r->per_10min > 1))
        r->eemua = "acceptable";
    else if (r->per_10min <= 2)
        r->eemua = "manageable";
    else
        r->eemua = "overloaded";

    for (size_t k = 0; k < ninc; k++) {
        const struct incident *x = &inc[k];

        for (size_t i = 0; i < c->n; i++) {
            const struct ev *e = &c->ev[i];

            if (e->grade == VG_GRADE_CLEAR || e->action == VG_ALERT_ACTION_CLEAR ||
                e->t_ns < x->win_from || e->t_ns > x->win_to)
                continue;
            if (x->zone != VG_MODEL_NONE && e->zone != x->zone)
                continue;
            if (x->kinds != ANY_KIND && (e->kind >= 32 || !(x->kinds & (1u << e->kind))))
                continue;
            {
                double lead = (double)(x->t_ref - e->t_ns) / 1e9;

                r->caught++;
                lead_sum += lead;
                if (isnan(r->min_lead_s) || lead < r->min_lead_s)
                    r->min_lead_s = lead;
            }
            break;
        }
    }
    r->mean_lead_s = r->caught ? lead_sum / r->caught : NAN;
}

/* ---- output ---- */

static void fmt_num(char *buf, size_t cap, double v, int decimals)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.*f", decimals, v);
}

static void print_table(FILE *f, const struct vary *vary, int nvary, const struct result *res,
                        size_t nres, size_t ninc)
{
    char a[32], b[32], c[32];

    for (int i = 0; i < nvary; i++)
        fprintf(f, "%-*s ", (int)(strlen(vary[i].key) > 10 ? strlen(vary[i].key) : 10),
                vary[i].key);
    fprintf(f, "%5s %5s %5s %5s | %5s %5s %5s %5s | %6s %7s %6s %-10s %5s | %7s %9s %9s\n",
            "adv", "warn", "crit", "emer", "sec", "med", "tech", "sup", "alerts", "per10m",
            "peak10", "eemua", "chatt", "caught", "mean_lead", "min_lead");
    for (size_t s = 0; s < nres; s++) {
        const struct result *r = &res[s];

        for (int i = 0; i < nvary; i++)
            fprintf(f, "%-*g ", (int)(strlen(vary[i].key) > 10 ? strlen(vary[i].key) : 10),
                    r->values[i]);
        fmt_num(a, sizeof(a), r->per_10min, 2);
        fmt_num(b, sizeof(b), r->mean_lead_s, 1);
        fmt_num(c, sizeof(c), r->min_lead_s, 1);
        fprintf(f,
                "%5llu %5llu %5llu %5llu | %5llu %5llu %5llu %5llu | %6llu %7s %6llu %-10s %5llu |"
                " %3u/%-3zu %9s %9s\n",
                (unsigned long long)r->per_grade[VG_GRADE_ADVISORY],
                (unsigned long long)r->per_grade[VG_GRADE_WARNING],
                (unsigned long long)r->per_grade[VG_GRADE_CRITICAL],
                (unsigned long long)r->per_grade[VG_GRADE_EMERGENCY],
                (unsigned long long)r->per_feed[VG_FEED_SECURITY],
                (unsigned long long)r->per_feed[VG_FEED_MEDICAL],
                (unsigned long long)r->per_feed[VG_FEED_TECHNICAL],
                (unsigned long long)r->per_feed[VG_FEED_SUPERVISOR],
                (unsigned long long)r->activations, a, (unsigned long long)r->peak_10min,
                r->eemua, (unsigned long long)r->chattering, r->caught, ninc, b, c);
    }
}

static void print_csv(FILE *f, const struct vary *vary, int nvary, const struct result *res,
                      size_t nres, size_t ninc)
{
    char a[32], b[32], c[32];

    for (int i = 0; i < nvary; i++)
        fprintf(f, "%s,", vary[i].key);
    fprintf(f, "advisory,warning,critical,emergency,security,medical,technical,supervisor,"
               "activations,per_10min,peak_10min,eemua,chattering,incidents,caught,"
               "mean_lead_s,min_lead_s\n");
    for (size_t s = 0; s < nres; s++) {
        const struct result *r = &res[s];

        for (int i = 0; i < nvary; i++)
            fprintf(f, "%.17g,", r->values[i]);
        fmt_num(a, sizeof(a), r->per_10min, 4);
        fmt_num(b, sizeof(b), r->mean_lead_s, 3);
        fmt_num(c, sizeof(c), r->min_lead_s, 3);
        if (a[0] == '-')
            a[0] = '\0';
        if (b[0] == '-' && !b[1])
            b[0] = '\0';
        if (c[0] == '-' && !c[1])
            c[0] = '\0';
        fprintf(f, "%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%s,%llu,%s,%llu,%zu,%u,%s,%s\n",
                (unsigned long long)r->per_grade[VG_GRADE_ADVISORY],
                (unsigned long long)r->per_grade[VG_GRADE_WARNING],
                (unsigned long long)r->per_grade[VG_GRADE_CRITICAL],
                (unsigned long long)r->per_grade[VG_GRADE_EMERGENCY],
                (unsigned long long)r->per_feed[VG_FEED_SECURITY],
                (unsigned long long)r->per_feed[VG_FEED_MEDICAL],
                (unsigned long long)r->per_feed[VG_FEED_TECHNICAL],
                (unsigned long long)r->per_feed[VG_FEED_SUPERVISOR],
                (unsigned long long)r->activations, a, (unsigned long long)r->peak_10min,
                r->eemua, (unsigned long long)r->chattering, ninc, r->caught, b, c);
    }
}

static int plot(const char *png, const struct vary *vary, int nvary, const struct result *res,
                size_t nres)
{
    FILE *g;
    int st;

    g = popen("gnuplot", "w");
    if (!g)
        return -errno;
    fprintf(g, "set terminal pngcairo size 1000,650\nset output '%s'\n", png);
    fprintf(g, "set title 'vigil tune: alert load against warning time'\n"
               "set xlabel 'alert activations per 10 minutes (EEMUA 191: <= 1 acceptable, "
               "<= 2 manageable)'\n"
               "set ylabel 'mean lead time before incidents (s)'\nset grid\n"
               "set key top left\nset xrange [0:*]\n"
               "set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb '#2a9d2a'\n"
               "set arrow from 2, graph 0 to 2, graph 1 nohead dt 2 lc rgb '#e08000'\n"
               "plot '-' using 1:2 with points pt 7 ps 1.5 lc rgb '#1f5fa8' title 'setting', "
               "'-' using 1:2:3 with labels offset 1,0.7 left font ',8' notitle\n");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t s = 0; s < nres; s++) {
            if (isnan(res[s].per_10min) || isnan(res[s].mean_lead_s))
                continue;
            fprintf(g, "%.6g %.6g", res[s].per_10min, res[s].mean_lead_s);
            if (pass == 1) {
                fprintf(g, " \"");
                for (int i = 0; i < nvary; i++) {
                    const char *k = strrchr(vary[i].key, '.');

                    fprintf(g, "%s%s=%g", i ? " " : "", k ? k + 1 : vary[i].key,
                            res[s].values[i]);
                }
                fprintf(g, "\"");
            }
            fprintf(g, "\n");
        }
        fprintf(g, "e\n");
    }
    st = pclose(g);
    if (st != 0) {
        fprintf(stderr, "vigil tune: gnuplot failed to draw %s (%s %d)\n", png,
                WIFEXITED(st) ? "exit status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return -EIO;
    }
    return 0;
}

/* ---- main ---- */

/* Whether the output files can be written and gnuplot is there, checked before the sweep,
 * which can take minutes, rather than after it. An existing file is left as it is. */
static int outputs_usable(const char *csv, const char *png)
{
    const char *paths[2] = {csv && strcmp(csv, "-") != 0 ? csv : NULL, png};

    for (int i = 0; i < 2; i++) {
        if (!paths[i])
            continue;
        const int existed = access(paths[i], F_OK) == 0;
        const int fd = open(paths[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "vigil tune: %s: %s\n", paths[i], strerror(errno));
            return -1;
        }
        close(fd);
        if (!existed)
            unlink(paths[i]);
    }
    if (png && strchr(png, '\'')) {
        fprintf(stderr, "vigil tune: --plot %s: gnuplot cannot take a file name with a '\n",
                png);
        return -1;
    }
    if (png && system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "vigil tune: --plot needs gnuplot (Debian: apt-get install gnuplot-nox)\n");
        return -1;
    }
    return 0;
}

int vg_cmd_tune(int argc, char **argv)
{
    static const struct option opts[] = {
        {"vary", required_argument, NULL, 'V'}, {"model", required_argument, NULL, 'm'},
        {"truth", required_argument, NULL, 't'}, {"csv", required_argument, NULL, 'c'},
        {"plot", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct vary vary[MAX_VARY];
    int nvary = 0, c, rc = 1;
    const char *model_path = NULL, *truth = NULL, *csv = NULL, *png = NULL;
    char *base_text = NULL, include_dir[PATH_MAX] = "";
    vg_model *base = NULL;
    vg_analysis_cfg acfg;
    struct incident *inc = NULL;
    size_t ninc = 0, nset = 1;
    struct result *res = NULL;
    double duration_s = 0;
    int narch;

    optind = 1;
    while ((c = getopt_long(argc, argv, "V:m:t:c:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'V':
            if (nvary == MAX_VARY) {
                fprintf(stderr, "vigil tune: at most %d --vary\n", MAX_VARY);
                return 2;
            }
            if (parse_vary(optarg, &vary[nvary]) < 0) {
                fprintf(stderr, "vigil tune: --vary %s: expected KEY=FROM:TO:STEP with "
                                "FROM <= TO and STEP > 0\n", optarg);
                return 2;
            }
            if (analysis_key(vary[nvary].key, 0, NULL) < 0) {
                fprintf(stderr, "vigil tune: --vary %s: unknown core setting\n", optarg);
                return 2;
            }
            /* checked before multiplying: large ranges would wrap the product to a small one */
            if ((size_t)vary[nvary].n > MAX_SETTINGS / nset) {
                fprintf(stderr, "vigil tune: too many settings (the product of the --vary "
                                "counts): at most %d\n", MAX_SETTINGS);
                return 2;
            }
            nset *= (size_t)vary[nvary].n;
            nvary++;
            break;
        case 'm': model_path = optarg; break;
        case 't': truth = optarg; break;
        case 'c': csv = optarg; break;
        case 'p': png = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    narch = argc - optind;
    if (narch < 1 || nvary == 0) {
        usage(stderr);
        return 2;
    }
    if (outputs_usable(csv, png) < 0)
        return 1;

    /* The base: model text, core settings, incidents and the covered duration. */
    {
        int64_t prev_last = INT64_MIN;
        uint64_t prev_session = 0;

        for (int i = 0; i < narch; i++) {
            vg_archive_reader *rd;
            vg_archive_info info;
            int r = vg_archive_reader_open(argv[optind + i], &rd);

            if (r < 0) {
                fprintf(stderr, "vigil tune: %s: %s\n", argv[optind + i],
                        r == -EPROTO ? "not a Vigil archive" : vg_strerror(r));
                goto out;
            }
            vg_archive_reader_info(rd, &info);
            if (i == 0) {
                vg_model_error err;
                const char *slash;

                acfg = info.analysis;
                if (model_path) {
                    size_t len;

                    r = vg_read_file(model_path, &base_text, &len);
                    slash = strrchr(model_path, '/');
                    if (slash)
                        snprintf(include_dir, sizeof(include_dir), "%.*s",
                                 (int)(slash - model_path), model_path);
                    if (r == 0)
                        r = vg_model_load(model_path, &base, &err);
                } else {
                    r = vg_archive_reader_model_text(rd, 0, &base_text, NULL);
                    slash = strrchr(info.model_path, '/');
                    if (slash)
                        snprintf(include_dir, sizeof(include_dir), "%.*s",
                                 (int)(slash - info.model_path), info.model_path);
                    if (r == 0)
                        r = vg_archive_reader_load_model(rd, &base, &err);
                }
                if (r < 0) {
                    fprintf(stderr, "vigil tune: base model: %s\n",
                            r == -EINVAL ? err.message : vg_strerror(r));
                    vg_archive_reader_free(&rd);
                    goto out;
                }
                rc = check_model_keys(base_text, include_dir[0] ? include_dir : NULL, vary,
                                      nvary, nset);
                if (rc != 0) {
                    vg_archive_reader_free(&rd);
                    goto out;
                }
                rc = 1;
            }
            if (vg_cmd_check_layout("tune", rd, argv[optind + i], &info, base, model_path,
                                    "tune the archives written before and after it "
                                    "separately") < 0) {
                vg_archive_reader_free(&rd);
                goto out;
            }
            if (info.first_tick_ns != INT64_MIN) {
                duration_s += (double)(info.last_tick_ns - info.first_tick_ns) / 1e9;
                if (prev_session == info.session_id && prev_last != INT64_MIN)
                    duration_s += (double)(info.first_tick_ns - prev_last) / 1e9;
                prev_last = info.last_tick_ns;
                prev_session = info.session_id;
            }
            r = archive_incidents(rd, &inc, &ninc);
            vg_archive_reader_free(&rd);
            if (r < 0) {
                fprintf(stderr, "vigil tune: %s: incidents: %s\n", argv[optind + i],
                        vg_strerror(r));
                goto out;
            }
        }
    }
    if (truth) {
        int r = load_truth(truth, base, &inc, &ninc);

        if (r < 0) {
            fprintf(stderr, "vigil tune: %s: %s\n", truth,
                    r == -EPROTO ? "not a ground-truth document" : vg_strerror(r));
            goto out;
        }
    }
    if (ninc == 0)
        fprintf(stderr, "vigil tune: no incidents in the archives%s: lead times are empty\n",
                truth ? " or the truth file" : " (give --truth FILE)");

    res = calloc(nset, sizeof(*res));
    if (!res)
        goto out;
    /* Every core setting is checked before the sweep, not found wrong hours into it. */
    for (size_t s = 0; s < nset; s++) {
        vg_analysis_cfg cfg = acfg;

        setting(vary, nvary, s, res[s].values, &cfg);
        if (vg_analysis_cfg_check(&cfg) < 0) {
            fprintf(stderr, "vigil tune: setting %zu (", s);
            for (int i = 0; i < nvary; i++)
                fprintf(stderr, "%s%s = %g", i ? ", " : "", vary[i].key, res[s].values[i]);
            fprintf(stderr, "): the analysis core refuses it (trend window 2..127 s, trend_min "
                            "at most the window, flow window 1..120 s; docs/analysis.md)\n");
            rc = 2;
            goto out;
        }
    }
    for (size_t s = 0; s < nset; s++) {
        struct result *r = &res[s];
        struct collect col = {NULL, 0, 0, 0};
        vg_analysis_cfg cfg = acfg;
        vg_model *m = NULL;
        vg_analysis *an = NULL;
        int err;

        setting(vary, nvary, s, r->values, &cfg);
        err = model_for(base_text, include_dir[0] ? include_dir : NULL, vary, nvary, r->values,
                        &m);
        if (err < 0)
            goto out;
        cfg.sink.ctx = &col;
        cfg.sink.on_alert = on_alert;
        cfg.sink.on_metrics = NULL;
        cfg.sink.on_reject = NULL;
        err = vg_analysis_new(m, &cfg, &an);
        for (int i = 0; i < narch && err == 0; i++) {
            vg_archive_reader *rd;

            err = vg_archive_reader_open(argv[optind + i], &rd);
            if (err == 0) {
                err = vg_archive_replay(rd, an, NULL);
                vg_archive_reader_free(&rd);
            }
        }
        if (err == 0 && col.oom)
            err = -ENOMEM;
        if (err == 0)
            evaluate(&col, inc, ninc, duration_s, r);
        vg_analysis_free(&an);
        vg_model_free(&m);
        free(col.ev);
        if (err < 0) {
            fprintf(stderr, "vigil tune: setting %zu: %s\n", s, vg_strerror(err));
            goto out;
        }
    }

    if (!csv || strcmp(csv, "-") != 0) {
        printf("vigil tune: %d archive(s), %.0f s of event time, %zu incident(s), %zu setting(s)\n",
               narch, duration_s, ninc, nset);
        print_table(stdout, vary, nvary, res, nset, ninc);
    }
    if (csv) {
        FILE *f = strcmp(csv, "-") == 0 ? stdout : fopen(csv, "w");

        if (!f) {
            fprintf(stderr, "vigil tune: %s: %s\n", csv, strerror(errno));
            goto out;
        }
        print_csv(f, vary, nvary, res, nset, ninc);
        if (f != stdout && fclose(f) != 0) {
            fprintf(stderr, "vigil tune: %s: write failed\n", csv);
            goto out;
        }
    }
    if (png && plot(png, vary, nvary, res, nset) < 0)
        goto out;
    rc = 0;
out:
    free(res);
    free(inc);
    free(base_text);
    vg_model_free(&base);
    return rc;
}
