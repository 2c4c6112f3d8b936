/* Ground truth: what the simulator injected and what really happened (true densities and
 * sensor values), written as one JSON document for `vigil score` (format: docs/sim.md). */
#include "sim_priv.h"
#include "vigil/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds the acceptance test asks for (issue #8). */
#define MIN_LEAD_S 60.0  /* crowd build-ups: an alert at least this long before critical */
#define HELP_DELAY_S 5.0 /* help presses: an alert within this */
#define WINDOW_TAIL_S 300.0

uint32_t vg__sim_expected(enum vg_incident_type t, const char *mode, enum vg_alert_kind *kinds,
                          enum vg_grade *min_grades, uint32_t cap)
{
    enum vg_alert_kind k[4];
    enum vg_grade g[4];
    uint32_t n = 0;

    switch (t) {
    case VG_INCIDENT_GATE_CLOSED:
    case VG_INCIDENT_EXIT_BLOCKED:
    case VG_INCIDENT_SURGE:
        /* a predicted breach counts at any grade; a present-state alert from warning up */
        k[n] = VG_ALERT_TREND_TO_CRITICAL, g[n++] = VG_GRADE_ADVISORY;
        k[n] = VG_ALERT_DENSITY, g[n++] = VG_GRADE_WARNING;
        k[n] = VG_ALERT_PRESSURE, g[n++] = VG_GRADE_WARNING;
        k[n] = VG_ALERT_OCCUPANCY, g[n++] = VG_GRADE_WARNING;
        break;
    case VG_INCIDENT_HEAT_WAVE:
        k[n] = VG_ALERT_WBGT, g[n++] = VG_GRADE_WARNING;
        break;
    case VG_INCIDENT_VENTILATION_FAILURE:
        k[n] = VG_ALERT_CO2, g[n++] = VG_GRADE_WARNING;
        break;
    case VG_INCIDENT_CAMERA_DEAD:
        k[n] = VG_ALERT_CAMERA_HEALTH, g[n++] = VG_GRADE_ADVISORY;
        break;
    case VG_INCIDENT_SENSOR_STUCK:
        k[n] = VG_ALERT_SENSOR_STUCK, g[n++] = VG_GRADE_ADVISORY;
        break;
    case VG_INCIDENT_HELP_PRESS:
    case VG_INCIDENT_COLLAPSE:
        k[n] = !mode || strcmp(mode, "medical") == 0 ? VG_ALERT_HELP_MEDICAL
               : strcmp(mode, "security") == 0       ? VG_ALERT_HELP_SECURITY
               : strcmp(mode, "fire") == 0           ? VG_ALERT_HELP_FIRE
                                                     : VG_ALERT_HELP_OTHER;
        g[n++] = VG_GRADE_ADVISORY;
        break;
    default:
        break;
    }
    if (n > cap)
        n = cap;
    for (uint32_t i = 0; i < n; i++) {
        kinds[i] = k[i];
        if (min_grades)
            min_grades[i] = g[i];
    }
    return n;
}

static void put_time(FILE *f, const char *key, int64_t t_ns)
{
    char ts[32];
    vg__sim_fmt_ts(ts, sizeof(ts), t_ns);
    fprintf(f, ",\"%s\":%s", key, ts);
}

/* A time the run may never have reached (0): null. Not for the day's own times, which are
 * 0 when it starts at the epoch. */
static void put_reached(FILE *f, const char *key, int64_t t_ns)
{
    if (!t_ns) {
        fprintf(f, ",\"%s\":null", key);
        return;
    }
    put_time(f, key, t_ns);
}

static void put_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.6g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

void vg__sim_put_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Ids of the zones within `hops` of zone z (not z itself), as JSON strings. */
static void put_nearby(FILE *f, const vg_model *m, uint32_t z, uint32_t hops)
{
    uint32_t n = vg_model_zone_count(m), head = 0, tail = 0, written = 0;
    uint32_t *dist = malloc(n * sizeof(*dist)), *queue = malloc(n * sizeof(*queue));

    if (!dist || !queue)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        dist[i] = UINT32_MAX;
    dist[z] = 0;
    queue[tail++] = z;
    while (head < tail) {
        const vg_zone *zz = vg_model_zone(m, queue[head]);
        uint32_t d = dist[queue[head++]];
        if (d == hops)
            continue;
        for (uint32_t k = 0; k < zz->neighbour_count; k++)
            if (dist[zz->neighbours[k]] == UINT32_MAX) {
                dist[zz->neighbours[k]] = d + 1;
                queue[tail++] = zz->neighbours[k];
            }
    }
    for (uint32_t i = 1; i < tail; i++) {
        fprintf(f, "%s", written++ ? "," : "");
        vg__sim_put_json_str(f, vg_model_zone(m, queue[i])->id);
    }
out:
    free(dist);
    free(queue);
}

int vg_sim_truth_write(const vg_sim *s, FILE *f)
{
    const vg_model *m;
    const vg_scenario *sc;
    int64_t shift, start;
    char ts[32];

    if (!s || !f)
        return -EINVAL;
    m = vg__sim_model(s);
    sc = vg__sim_scenario(s);
    shift = vg__sim_shift_ns(s);
    start = sc->start_ns + shift;

    fprintf(f, "{\"v\":1,\"scenario\":");
    vg__sim_put_json_str(f, sc->name);
    fprintf(f, ",\"venue\":");
    vg__sim_put_json_str(f, vg_model_venue(m));
    fprintf(f, ",\"model_digest\":\"%016llx\",\"seed\":%llu",
            (unsigned long long)vg_model_digest(m), (unsigned long long)vg__sim_cfg(s)->seed);
    put_time(f, "start", start);
    put_time(f, "end", start + sc->duration_ns);
    fprintf(f, ",\"duration_s\":%.3f,\"attendance\":%u,\"simulated_until\":",
            (double)sc->duration_ns / 1e9, sc->attendance);
    vg__sim_fmt_ts(ts, sizeof(ts), vg_sim_now_ns(s));
    fprintf(f, "%s,\"incidents\":[", ts);

    for (uint32_t i = 0; i < sc->n_incidents; i++) {
        const vg_incident *in = &sc->incidents[i];
        vg_sim_truth tr;
        enum vg_alert_kind kinds[4];
        enum vg_grade grades[4];
        uint32_t nk = vg__sim_expected(in->type, in->mode, kinds, grades, 4);
        int64_t t_start = in->t_start_ns + shift, t_end = in->t_end_ns + shift;
        double min_lead = NAN, max_delay = NAN;

        vg_sim_incident_truth(s, i, &tr);
        switch (in->type) {
        case VG_INCIDENT_GATE_CLOSED:
        case VG_INCIDENT_EXIT_BLOCKED:
        case VG_INCIDENT_SURGE:
            min_lead = MIN_LEAD_S;
            break;
        case VG_INCIDENT_HELP_PRESS:
        case VG_INCIDENT_COLLAPSE:
            max_delay = HELP_DELAY_S;
            break;
        case VG_INCIDENT_CAMERA_DEAD: {
            const vg_camera *c = vg_model_camera(m, in->target_idx);
            max_delay = strcmp(in->mode, "silent") == 0 ? (double)c->stale_after_ns / 1e9 + 30
                                                        : 30;
            break;
        }
        case VG_INCIDENT_SENSOR_STUCK: {
            const vg_sensor *sn = vg_model_sensor(m, in->target_idx);
            max_delay = (double)(sn->stuck_after_ns + 2 * sn->period_ns) / 1e9 + 60;
            break;
        }
        case VG_INCIDENT_HEAT_WAVE:
        case VG_INCIDENT_VENTILATION_FAILURE: {
            /* the static limit's on-delay after the true value reached warning, plus slack */
            const vg_zone *z = vg_model_zone(m, in->zone);
            double on = 0;
            for (uint32_t q = 0; q < z->sensor_count; q++) {
                const vg_sensor *sn = vg_model_sensor(m, z->sensors[q]);
                if (sn->kind == (in->type == VG_INCIDENT_HEAT_WAVE ? VG_SENSOR_WBGT
                                                                   : VG_SENSOR_CO2))
                    on = fmax(on, (double)(sn->limit.on_delay_ns + sn->period_ns) / 1e9);
            }
            if (tr.t_warning_ns)
                max_delay = (double)(tr.t_warning_ns - t_start) / 1e9 + on + 120;
            break;
        }
        default:
            break;
        }
        double win_to = (double)t_end / 1e9;
        if (isfinite(max_delay) && (double)t_start / 1e9 + max_delay > win_to)
            win_to = (double)t_start / 1e9 + max_delay;
        win_to += WINDOW_TAIL_S;

        fprintf(f, "%s{\"id\":", i ? "," : "");
        vg__sim_put_json_str(f, in->id);
        fprintf(f, ",\"type\":\"%s\",\"target\":", vg_incident_type_name(in->type));
        vg__sim_put_json_str(f, in->target);
        fprintf(f, ",\"zone\":");
        vg__sim_put_json_str(f, tr.zone != VG_MODEL_NONE ? vg_model_zone(m, tr.zone)->id : "");
        if (in->type == VG_INCIDENT_HELP_PRESS || in->type == VG_INCIDENT_COLLAPSE)
            fprintf(f, ",\"help_type\":\"%s\"", in->mode);
        if (in->type == VG_INCIDENT_CAMERA_DEAD)
            fprintf(f, ",\"status\":\"%s\"", in->mode);
        put_time(f, "t_start", t_start);
        put_time(f, "t_end", t_end);
        fprintf(f, ",\"buildup\":%s", vg_incident_is_buildup(in->type) ? "true" : "false");
        put_reached(f, "t_warning", tr.t_warning_ns);
        put_reached(f, "t_critical", tr.t_critical_ns);
        put_num(f, "warning_level", tr.warning_level);
        put_num(f, "critical_level", tr.critical_level);
        put_num(f, "peak", tr.peak);
        put_reached(f, "t_peak", tr.t_peak_ns);
        put_num(f, "magnitude", in->magnitude);
        put_num(f, "min_lead_s", min_lead);
        put_num(f, "max_delay_s", max_delay);
        /* what an incident drags along nearby (a queue backing up through an entrance, the
         * backlog released when a gate reopens) is related to it, not a false alert:
         * zones within three hops of a build-up, next door for the others */
        fprintf(f, ",\"related_zones\":[");
        if (tr.zone != VG_MODEL_NONE)
            put_nearby(f, m, tr.zone, vg_incident_is_buildup(in->type) ? 3 : 1);
        fprintf(f, "],\"window\":[%.3f,%.3f],\"expect\":[", (double)t_start / 1e9 - 5.0, win_to);
        for (uint32_t k = 0; k < nk; k++)
            fprintf(f, "%s{\"kind\":\"%s\",\"feed\":\"%s\",\"min_grade\":\"%s\"}", k ? "," : "",
                    vg_alert_kind_name(kinds[k]), vg_feed_name(vg_model_feed(m, kinds[k])),
                    vg_grade_name(grades[k]));
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
    return ferror(f) ? -EIO : 0;
}
