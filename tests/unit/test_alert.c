/* The alert lifecycle core, driven directly with analysis events and event-time ticks: every
 * ISA-18.2 transition, shelving, suppression, out of service, latching, escalation, flood
 * grouping and model reload; plus the publisher's argument and bind errors. The sockets are
 * exercised end to end in tests/integration/test_alert.c. */
#include "vigil/alert.h"
#include "vigil/common.h"

/* The JSON writer is internal: a note's message is checked here without sockets. */
#include "../../src/alert/alert_priv.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC(x) ((int64_t)(x)*VG_NS_PER_S)
#define T0 SEC(1779456000)

/* Sectors: north (gate-a, plaza), stadium (conc-1). cam-plaza sees plaza and gate-a. */
static const char model_text[] =
    "venue = { id = \"tv\"; name = \"Test\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = (\n"
    "  { id = \"gate-a\"; type = \"queue\"; area_m2 = 600; capacity = 1500; sector = \"north\";\n"
    "    route = \"Service road N\"; action = \"Slow ingress at Gate A\"; },\n"
    "  { id = \"plaza\"; type = \"standing\"; area_m2 = 12000.0; sector = \"north\"; },\n"
    "  { id = \"conc-1\"; type = \"moving\"; area_m2 = 1200; sector = \"stadium\"; }\n"
    ");\n"
    "cameras = ( { id = \"cam-plaza\"; zones = ( { zone = \"plaza\"; coverage = 0.6; },\n"
    "                                          { zone = \"gate-a\"; coverage = 1.0; } ); } );\n"
    "sensors = (\n"
    "  { id = \"wbgt-plaza\"; kind = \"wbgt\"; zone = \"plaza\"; min = -10; max = 60; period_s = "
    "60; },\n"
    "  { id = \"co2-conc\"; kind = \"co2\"; zone = \"conc-1\"; min = 300; max = 10000; period_s = "
    "30; },\n"
    "  { id = \"smoke-gate\"; kind = \"smoke\"; zone = \"gate-a\"; min = 0; max = 1; period_s = 60; }\n"
    ");\n"
    "help_points = ( { id = \"hp-1\"; zone = \"gate-a\"; } );\n";

/* The same venue without conc-1 and its sensor: for reload. */
static const char model2_text[] =
    "venue = { id = \"tv\"; name = \"Test\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = (\n"
    "  { id = \"plaza\"; type = \"standing\"; area_m2 = 12000.0; sector = \"north\"; },\n"
    "  { id = \"gate-a\"; type = \"queue\"; area_m2 = 600; capacity = 1500; sector = \"north\"; }\n"
    ");\n"
    "routes = { density = \"medical\"; };\n";

enum { GATE = 0, PLAZA = 1, CONC = 2 };

#define MAX_NOTES 256
static struct {
    vg_alert_info a;
    int reason, feed;
} notes[MAX_NOTES];
static int n_notes;
static vg_alert_audit audits[64];
static int n_audits;

static vg_model *model;
static vg_alert_core *core;
static char model_path[256];

static void on_note(void *ctx, const vg_alert_note *n)
{
    (void)ctx;
    cr_assert_lt(n_notes, MAX_NOTES);
    notes[n_notes].a = *n->alert;
    notes[n_notes].reason = n->reason;
    notes[n_notes].feed = n->feed;
    n_notes++;
}

static void on_audit(void *ctx, const vg_alert_audit *r)
{
    (void)ctx;
    cr_assert_lt(n_audits, 64);
    audits[n_audits++] = *r;
}

static void write_model(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void load_model(const char *text, vg_model **ret)
{
    vg_model_error err;
    snprintf(model_path, sizeof(model_path), "/tmp/vg-test-alert-%d.cfg", (int)getpid());
    write_model(model_path, text);
    int r = vg_model_load(model_path, ret, &err);
    cr_assert_eq(r, 0, "model: %s:%d: %s: %s", err.file, err.line, err.key, err.message);
    unlink(model_path);
}

static void make_core(const vg_alert_policy *p)
{
    vg_alert_sink sink = {.ctx = NULL, .on_note = on_note, .on_audit = on_audit};
    vg_alert_core_free(&core);
    cr_assert_eq(vg_alert_core_new(model, p, &sink, &core), 0);
}

static void setup(void)
{
    n_notes = n_audits = 0;
    load_model(model_text, &model);
    make_core(NULL);
}

static void teardown(void)
{
    vg_alert_core_free(&core);
    vg_model_free(&model);
}

TestSuite(alert, .init = setup, .fini = teardown, .timeout = 20);

static vg_alert_event ev(unsigned kind, unsigned stype, uint32_t source, uint32_t zone,
                         unsigned action, unsigned grade, int64_t t_ns, uint64_t id)
{
    vg_alert_event e;
    memset(&e, 0, sizeof(e));
    e.id = id;
    e.t_ns = t_ns;
    e.raised_ns = t_ns;
    e.kind = (uint8_t)kind;
    e.source_type = (uint8_t)stype;
    e.source = source;
    e.zone = zone;
    e.action = (uint8_t)action;
    e.grade = (uint8_t)grade;
    e.feed = (uint8_t)vg_model_feed(model, (enum vg_alert_kind)kind);
    e.value = 4.2;
    e.threshold = 4.0;
    e.trend_per_min = NAN;
    e.ttc_s = -1;
    snprintf(e.message, sizeof(e.message), "test event");
    return e;
}

static vg_alert_event density(uint32_t zone, unsigned action, unsigned grade, int64_t t,
                              uint64_t id)
{
    return ev(VG_ALERT_DENSITY, VG_SOURCE_ZONE, zone, zone, action, grade, t, id);
}

static void push(vg_alert_event e)
{
    cr_assert_eq(vg_alert_core_event(core, &e), 0);
}

static const vg_alert_actor op1 = {.operator_id = "op1", .comment = "on it", .wall_ns = 42};

static int last_reason(void)
{
    cr_assert_gt(n_notes, 0);
    return notes[n_notes - 1].reason;
}

/* ---- basic transitions ---- */

Test(alert, raise_publishes_one_unack_note_on_the_routed_feed)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 7));
    cr_assert_eq(n_notes, 1);
    cr_assert_eq(notes[0].reason, VG_ALERT_REASON_RAISE);
    cr_assert_eq(notes[0].feed, VG_FEED_SECURITY);
    cr_assert_eq(notes[0].a.id, 7);
    cr_assert_eq(notes[0].a.state, VG_ALERT_STATE_UNACK);
    cr_assert_eq(notes[0].a.grade, VG_GRADE_CRITICAL);
    cr_assert_eq(notes[0].a.raised_ns, T0);
    const vg_alert_info *a = vg_alert_core_find(core, 7);
    cr_assert_not_null(a);
    cr_assert_eq(a->state, VG_ALERT_STATE_UNACK);
}

/* An event that reaches the alert layer after a later tick keeps its own time: the feed's
 * ts is the instant the event log and the archive show, not the tick's. */
Test(alert, transition_times_are_the_events_not_the_latest_tick)
{
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(1)), 0);
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(notes[n_notes - 1].a.raised_ns, T0);
    cr_assert_eq(notes[n_notes - 1].a.changed_ns, T0);
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(3)), 0);
    push(density(PLAZA, VG_ALERT_ACTION_CHANGE, VG_GRADE_CRITICAL, T0 + SEC(2), 7));
    cr_assert_eq(notes[n_notes - 1].a.changed_ns, T0 + SEC(2));
    cr_assert_eq(notes[n_notes - 1].a.raised_ns, T0);
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(5)), 0);
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(4), 7));
    cr_assert_eq(notes[n_notes - 1].reason, VG_ALERT_REASON_RTN);
    cr_assert_eq(notes[n_notes - 1].a.changed_ns, T0 + SEC(4));
    /* but never before the alert's last change: an ack at the core's clock (T0 + 8 s here)
     * followed by an event stamped before it */
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(6), 7));
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(8)), 0);
    cr_assert_eq(vg_alert_core_ack(core, 7, &op1), 0);
    cr_assert_eq(notes[n_notes - 1].a.changed_ns, T0 + SEC(8));
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(7), 7));
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_CLEARED);
    cr_assert_eq(notes[n_notes - 1].a.changed_ns, T0 + SEC(8), "not stamped before the ack");
    /* an acknowledged alert's return to normal, its last message, has the event's time */
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(10), 9));
    cr_assert_eq(vg_alert_core_ack(core, 9, &op1), 0);
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(14)), 0);
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(13), 9));
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_CLEARED);
    cr_assert_eq(notes[n_notes - 1].a.changed_ns, T0 + SEC(13));
}

Test(alert, ack_records_owner_and_audit)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(vg_alert_core_ack(core, 7, &op1), 0);
    cr_assert_eq(n_notes, 2);
    cr_assert_eq(notes[1].reason, VG_ALERT_REASON_ACK);
    cr_assert_eq(notes[1].a.state, VG_ALERT_STATE_ACKED);
    cr_assert_str_eq(notes[1].a.operator_id, "op1");
    cr_assert_str_eq(notes[1].a.comment, "on it");
    cr_assert_eq(notes[1].a.acked_ns, T0);
    cr_assert_eq(n_audits, 1);
    cr_assert_eq(audits[0].op, VG_ALERT_OP_ACK);
    cr_assert_eq(audits[0].alert_id, 7);
    cr_assert_eq(audits[0].wall_ns, 42);
    cr_assert_eq(audits[0].t_ns, T0);
    cr_assert_eq(audits[0].state, VG_ALERT_STATE_ACKED);
    cr_assert_str_eq(audits[0].operator_id, "op1");
}

Test(alert, ack_errors)
{
    vg_alert_actor nobody = {.operator_id = ""};
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(vg_alert_core_ack(core, 8, &op1), -ENOENT);
    cr_assert_eq(vg_alert_core_ack(core, 7, &nobody), -EINVAL);
    cr_assert_eq(vg_alert_core_ack(core, 7, NULL), -EINVAL);
    cr_assert_eq(vg_alert_core_ack(NULL, 7, &op1), -EINVAL);
    cr_assert_eq(vg_alert_core_ack(core, 7, &op1), 0);
    cr_assert_eq(vg_alert_core_ack(core, 7, &op1), -EALREADY);
    cr_assert_eq(n_audits, 1, "failed actions are not recorded");
}

Test(alert, acked_then_return_to_normal_clears)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    vg_alert_core_ack(core, 7, &op1);
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(5), 7));
    cr_assert_eq(n_notes, 3);
    cr_assert_eq(notes[2].reason, VG_ALERT_REASON_RTN);
    cr_assert_eq(notes[2].a.state, VG_ALERT_STATE_CLEARED);
    cr_assert_null(vg_alert_core_find(core, 7));
}

Test(alert, unack_return_to_normal_waits_for_ack)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(5), 7));
    cr_assert_eq(notes[1].reason, VG_ALERT_REASON_RTN);
    cr_assert_eq(notes[1].a.state, VG_ALERT_STATE_RTN_UNACK);
    cr_assert_eq(notes[1].a.grade, VG_GRADE_WARNING, "the grade it had stays visible");
    cr_assert_not_null(vg_alert_core_find(core, 7));
    cr_assert_eq(vg_alert_core_ack(core, 7, &op1), 0);
    cr_assert_eq(notes[2].reason, VG_ALERT_REASON_ACK);
    cr_assert_eq(notes[2].a.state, VG_ALERT_STATE_CLEARED);
    cr_assert_null(vg_alert_core_find(core, 7));
}

Test(alert, reactivation_before_ack_keeps_the_alert_id)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(5), 7));
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0 + SEC(9), 8));
    cr_assert_eq(last_reason(), VG_ALERT_REASON_RAISE);
    cr_assert_eq(notes[2].a.id, 7);
    cr_assert_eq(notes[2].a.activation, 8);
    cr_assert_eq(notes[2].a.state, VG_ALERT_STATE_UNACK);
    cr_assert_eq(notes[2].a.grade, VG_GRADE_CRITICAL);
}

Test(alert, worse_grade_after_ack_needs_a_new_ack_better_grade_does_not)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    vg_alert_core_ack(core, 7, &op1);
    push(density(PLAZA, VG_ALERT_ACTION_CHANGE, VG_GRADE_CRITICAL, T0 + SEC(1), 7));
    cr_assert_eq(notes[2].reason, VG_ALERT_REASON_CHANGE);
    cr_assert_eq(notes[2].a.state, VG_ALERT_STATE_UNACK);
    vg_alert_core_ack(core, 7, &op1);
    push(density(PLAZA, VG_ALERT_ACTION_CHANGE, VG_GRADE_ADVISORY, T0 + SEC(2), 7));
    cr_assert_eq(notes[4].reason, VG_ALERT_REASON_CHANGE);
    cr_assert_eq(notes[4].a.state, VG_ALERT_STATE_ACKED);
    cr_assert_eq(notes[4].a.grade, VG_GRADE_ADVISORY);
}

Test(alert, event_arguments_are_checked)
{
    vg_alert_event e = density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7);
    e.kind = VG_ALERT_KIND_COUNT;
    cr_assert_eq(vg_alert_core_event(core, &e), -EINVAL);
    e = density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_COUNT, T0, 7);
    cr_assert_eq(vg_alert_core_event(core, &e), -EINVAL);
    e = density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CLEAR, T0, 7);
    cr_assert_eq(vg_alert_core_event(core, &e), -EINVAL, "a raise needs a grade");
    e.action = VG_ALERT_ACTION_COUNT;
    cr_assert_eq(vg_alert_core_event(core, &e), -EINVAL);
    cr_assert_eq(vg_alert_core_event(core, NULL), -EINVAL);
    cr_assert_eq(n_notes, 0);
    cr_assert_eq(vg_alert_core_new(NULL, NULL, NULL, &core), -EINVAL);
    vg_alert_policy p;
    vg_alert_policy_default(&p);
    p.shelve_max_ns = -1;
    vg_alert_core *c2 = NULL;
    cr_assert_eq(vg_alert_core_new(model, &p, NULL, &c2), -EINVAL);
    cr_assert_null(c2);
}

Test(alert, a_clear_without_an_alert_is_ignored)
{
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0, 7));
    cr_assert_eq(n_notes, 0);
}

/* ---- latching ---- */

static vg_alert_event help(unsigned action, unsigned grade, int64_t t, uint64_t id)
{
    vg_alert_event e =
        ev(VG_ALERT_HELP_MEDICAL, VG_SOURCE_HELP_POINT, 0, GATE, action, grade, t, id);
    e.flags = VG_ALERT_F_LATCHED;
    return e;
}

Test(alert, latched_alert_stays_until_reset)
{
    push(help(VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 3));
    cr_assert_eq(notes[0].feed, VG_FEED_MEDICAL);
    cr_assert_eq(vg_alert_core_reset(core, 3, &op1), -EBUSY, "condition still active");
    cr_assert_eq(vg_alert_core_ack(core, 3, &op1), 0);
    push(help(VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(120), 3));
    cr_assert_eq(notes[2].a.state, VG_ALERT_STATE_LATCHED);
    cr_assert_not_null(vg_alert_core_find(core, 3));
    cr_assert_eq(vg_alert_core_reset(core, 3, &op1), 0);
    cr_assert_eq(last_reason(), VG_ALERT_REASON_RESET);
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_CLEARED);
    cr_assert_null(vg_alert_core_find(core, 3));
    cr_assert_eq(audits[n_audits - 1].op, VG_ALERT_OP_RESET);
}

/* A help press nobody answered is not over because its point went quiet (the core clears it
 * 120 s after the last press): it stays annunciated, unacknowledged and critical, and goes
 * on escalating every deadline until someone acknowledges it; then it waits for a reset.
 * Before, it turned "clear" (rtn_unack) at the core's clear and never escalated again. */
Test(alert, a_latched_alert_nobody_answered_stays_and_escalates_after_its_condition_ends)
{
    push(help(VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 3));
    push(help(VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(60), 3));
    cr_assert_eq(n_notes, 1, "nothing published at the core's clear");
    cr_assert_eq(vg_alert_core_find(core, 3)->state, VG_ALERT_STATE_UNACK);
    int escalations = 0;
    for (int s = 61; s <= 360; s++) {
        cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(s)), 0);
        escalations = 0;
        for (int i = 0; i < n_notes; i++)
            escalations += notes[i].reason == VG_ALERT_REASON_ESCALATE &&
                           notes[i].feed == VG_FEED_SUPERVISOR;
    }
    cr_assert_eq(escalations, 3, "at 120, 240 and 360 s");
    cr_assert_eq(notes[n_notes - 1].a.grade, VG_GRADE_CRITICAL);
    /* pressed again before anyone answered: shown again, and the deadline is kept */
    const int before = n_notes;
    push(help(VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0 + SEC(400), 3));
    cr_assert_eq(n_notes, before + 1, "the new press is published");
    cr_assert_eq(vg_alert_core_find(core, 3)->next_escalation_ns, T0 + SEC(480));
    push(help(VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(420), 3));
    cr_assert_eq(vg_alert_core_ack(core, 3, &op1), 0);
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_LATCHED, "waits for a reset");
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(600)), 0);
    cr_assert_eq(notes[n_notes - 1].reason, VG_ALERT_REASON_ACK, "no escalation once owned");
    cr_assert_eq(vg_alert_core_reset(core, 3, &op1), 0);
    cr_assert_eq(vg_alert_core_reset(core, 3, &op1), -ENOENT);
}

/* A press that reaches the engine ten minutes late (a press the broker kept through an
 * outage) is cleared by the core at once: it still escalates at the next tick. */
Test(alert, a_latched_alert_raised_late_escalates_at_once)
{
    push(help(VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0 - SEC(600), 3));
    push(help(VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0, 3));
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(1)), 0);
    cr_assert_eq(last_reason(), VG_ALERT_REASON_ESCALATE);
    cr_assert_eq(vg_alert_core_find(core, 3)->state, VG_ALERT_STATE_UNACK);
}

Test(alert, reset_of_a_kind_that_does_not_latch_is_eperm)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(1), 7));
    cr_assert_eq(vg_alert_core_reset(core, 7, &op1), -EPERM);
}

/* ---- shelving ---- */

Test(alert, shelved_alert_is_quiet_until_expiry)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(vg_alert_core_shelve(core, 7, SEC(600), &op1), 0);
    cr_assert_eq(last_reason(), VG_ALERT_REASON_SHELVE);
    cr_assert(notes[1].a.hide & VG_ALERT_HIDE_SHELVED);
    cr_assert_eq(notes[1].a.shelved_until_ns, T0 + SEC(600));
    cr_assert_eq(audits[0].op, VG_ALERT_OP_SHELVE);
    cr_assert_eq(audits[0].until_ns, T0 + SEC(600));
    push(density(PLAZA, VG_ALERT_ACTION_CHANGE, VG_GRADE_CRITICAL, T0 + SEC(10), 7));
    cr_assert_eq(n_notes, 2, "grade changes of a shelved alert are not annunciated");
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(599)), 0);
    cr_assert_eq(n_notes, 2);
    cr_assert_eq(vg_alert_core_tick(core, T0 + SEC(600)), 0);
    cr_assert_eq(n_notes, 3);
    cr_assert_eq(notes[2].reason, VG_ALERT_REASON_UNSHELVE);
    cr_assert_eq(notes[2].a.grade, VG_GRADE_CRITICAL, "shows what it missed");
    cr_assert_eq(notes[2].a.hide, 0);
    cr_assert_eq(audits[1].op, VG_ALERT_OP_SHELVE_EXPIRED);
    cr_assert_str_eq(audits[1].operator_id, "system");
}

/* A shelved alert whose condition ends while it is shelved: the final "cleared" is still
 * published, so every console drops it (nothing is left dangling after the shelf). */
Test(alert, a_shelved_alert_that_clears_publishes_its_end)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(vg_alert_core_ack(core, 7, &op1), 0);
    cr_assert_eq(vg_alert_core_shelve(core, 7, SEC(600), &op1), 0);
    const int before = n_notes;
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(30), 7));
    cr_assert_eq(n_notes, before + 1, "the end of a shelved alert is published");
    cr_assert_eq(notes[n_notes - 1].a.id, 7);
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_CLEARED);
    cr_assert_null(vg_alert_core_find(core, 7));
    vg_alert_core_tick(core, T0 + SEC(600)); /* the shelf's expiry finds nothing */
    cr_assert_eq(n_notes, before + 1);
}

Test(alert, shelving_is_capped_and_not_doubled)
{
    vg_alert_policy p;
    vg_alert_policy_default(&p);
    p.shelve_max_ns = SEC(3600);
    p.shelve_default_ns = SEC(60);
    make_core(&p);
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 8));
    cr_assert_eq(vg_alert_core_shelve(core, 7, SEC(99999), &op1), 0);
    cr_assert_eq(vg_alert_core_find(core, 7)->shelved_until_ns, T0 + SEC(3600));
    cr_assert_eq(vg_alert_core_shelve(core, 7, SEC(10), &op1), -EALREADY);
    cr_assert_eq(vg_alert_core_shelve(core, 8, 0, &op1), 0);
    cr_assert_eq(vg_alert_core_find(core, 8)->shelved_until_ns, T0 + SEC(60), "default");
    cr_assert_eq(vg_alert_core_shelve(core, 8, -1, &op1), -EINVAL);
    cr_assert_eq(vg_alert_core_shelve(core, 9, 0, &op1), -ENOENT);
}

/* The documented defaults (docs/alerts.md): a shelf lasts 30 minutes unless said otherwise,
 * and never more than 8 hours: a shift, so nothing is shelved and forgotten for days. */
Test(alert, shelving_defaults_are_30_minutes_capped_at_8_hours)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 8));
    cr_assert_eq(vg_alert_core_shelve(core, 7, 0, &op1), 0);
    cr_assert_eq(vg_alert_core_find(core, 7)->shelved_until_ns, T0 + SEC(30 * 60));
    cr_assert_eq(vg_alert_core_shelve(core, 8, SEC(7 * 86400), &op1), 0);
    cr_assert_eq(vg_alert_core_find(core, 8)->shelved_until_ns, T0 + SEC(8 * 3600));
}

Test(alert, unshelve_shows_it_again)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(vg_alert_core_unshelve(core, 7, &op1), -EALREADY);
    vg_alert_core_shelve(core, 7, 0, &op1);
    cr_assert_eq(vg_alert_core_unshelve(core, 7, &op1), 0);
    cr_assert_eq(last_reason(), VG_ALERT_REASON_UNSHELVE);
    cr_assert_eq(vg_alert_core_find(core, 7)->hide, 0);
    cr_assert_eq(audits[1].op, VG_ALERT_OP_UNSHELVE);
}

/* ---- suppression ---- */

static vg_alert_event camera(unsigned action, unsigned grade, int64_t t, uint64_t id)
{
    return ev(VG_ALERT_CAMERA_HEALTH, VG_SOURCE_CAMERA, 0, PLAZA, action, grade, t, id);
}

Test(alert, density_alerts_of_a_zone_whose_camera_is_down_are_suppressed)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(camera(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(1), 8));
    /* camera raise on technical, then the density alert is suppressed */
    cr_assert_eq(n_notes, 3);
    cr_assert_eq(notes[1].feed, VG_FEED_TECHNICAL);
    cr_assert_eq(notes[2].reason, VG_ALERT_REASON_SUPPRESS);
    cr_assert_eq(notes[2].a.id, 7);
    cr_assert(notes[2].a.hide & VG_ALERT_HIDE_SUPPRESSED);
    /* gate-a is covered by the same camera: its new alert starts hidden */
    push(density(GATE, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(2), 9));
    cr_assert_eq(n_notes, 3);
    cr_assert(vg_alert_core_find(core, 9)->hide & VG_ALERT_HIDE_SUPPRESSED);
    /* conc-1 is not: its alert is annunciated */
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(3), 10));
    cr_assert_eq(n_notes, 4);
    push(camera(VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(4), 8));
    /* camera rtn, then both zone alerts come back */
    int unsup = 0;
    for (int i = 4; i < n_notes; i++)
        unsup += notes[i].reason == VG_ALERT_REASON_UNSUPPRESS;
    cr_assert_eq(unsup, 2);
    cr_assert_eq(vg_alert_core_find(core, 9)->hide, 0);
}

Test(alert, sensor_limits_are_suppressed_while_the_sensor_is_stale)
{
    vg_alert_event stale = ev(VG_ALERT_SENSOR_STALE, VG_SOURCE_SENSOR, 0, PLAZA,
                              VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 1);
    push(stale);
    push(ev(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING,
            T0 + SEC(1), 2));
    cr_assert_eq(n_notes, 1);
    cr_assert(vg_alert_core_find(core, 2)->hide & VG_ALERT_HIDE_SUPPRESSED);
}

/* Every cause of suppression in docs/alerts.md, not just the two above: a camera fault hides
 * its zones' trend and pressure alerts too; a stuck or out-of-range sensor hides its own
 * limit alerts. */
Test(alert, every_documented_cause_suppresses_its_dependents)
{
    push(camera(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 1));
    push(ev(VG_ALERT_TREND_TO_CRITICAL, VG_SOURCE_ZONE, PLAZA, PLAZA, VG_ALERT_ACTION_RAISE,
            VG_GRADE_WARNING, T0 + SEC(1), 2));
    push(ev(VG_ALERT_PRESSURE, VG_SOURCE_ZONE, GATE, GATE, VG_ALERT_ACTION_RAISE,
            VG_GRADE_WARNING, T0 + SEC(1), 3));
    push(ev(VG_ALERT_SENSOR_STUCK, VG_SOURCE_SENSOR, 1, CONC, VG_ALERT_ACTION_RAISE,
            VG_GRADE_ADVISORY, T0 + SEC(2), 4));
    push(ev(VG_ALERT_CO2, VG_SOURCE_SENSOR, 1, CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING,
            T0 + SEC(3), 5));
    push(ev(VG_ALERT_SENSOR_RANGE, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_RAISE,
            VG_GRADE_WARNING, T0 + SEC(4), 6));
    push(ev(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING,
            T0 + SEC(5), 7));
    for (uint64_t id = 2; id <= 7; id++) {
        if (id == 4 || id == 6)
            continue; /* the causes themselves are annunciated */
        cr_assert(vg_alert_core_find(core, id)->hide & VG_ALERT_HIDE_SUPPRESSED, "alert %llu",
                  (unsigned long long)id);
    }
    cr_assert_eq(vg_alert_core_find(core, 4)->hide, 0);
    cr_assert_eq(vg_alert_core_find(core, 6)->hide, 0);
}

/* A fire alarm and a call for help are never hidden, whatever is wrong with the sensor or
 * the camera of their zone: they may be real. */
Test(alert, smoke_and_help_are_never_suppressed)
{
    push(ev(VG_ALERT_SENSOR_STALE, VG_SOURCE_SENSOR, 2, GATE, VG_ALERT_ACTION_RAISE,
            VG_GRADE_WARNING, T0, 1));
    push(camera(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 2)); /* gate-a's camera */
    push(ev(VG_ALERT_SMOKE, VG_SOURCE_SENSOR, 2, GATE, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL,
            T0 + SEC(1), 3));
    push(ev(VG_ALERT_HELP_MEDICAL, VG_SOURCE_HELP_POINT, 0, GATE, VG_ALERT_ACTION_RAISE,
            VG_GRADE_CRITICAL, T0 + SEC(2), 4));
    cr_assert_eq(n_notes, 4, "both annunciated");
    cr_assert_eq(notes[2].a.id, 3);
    cr_assert_eq(notes[2].reason, VG_ALERT_REASON_RAISE);
    cr_assert_eq(notes[3].a.id, 4);
    cr_assert_eq(vg_alert_core_find(core, 3)->hide, 0);
    cr_assert_eq(vg_alert_core_find(core, 4)->hide, 0);
}

/* A suppressed alert whose condition clears is dropped: its cause explained it, and nothing
 * comes back when the cause is gone. */
Test(alert, a_suppressed_alert_that_clears_is_dropped)
{
    push(ev(VG_ALERT_SENSOR_STALE, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_RAISE,
            VG_GRADE_WARNING, T0, 1));
    push(ev(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING,
            T0 + SEC(1), 2));
    cr_assert_eq(n_notes, 1);
    push(ev(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR,
            T0 + SEC(2), 2));
    cr_assert_eq(n_notes, 1, "nothing published for it");
    cr_assert_null(vg_alert_core_find(core, 2), "dropped");
    push(ev(VG_ALERT_SENSOR_STALE, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_CLEAR,
            VG_GRADE_CLEAR, T0 + SEC(3), 1));
    for (int i = 1; i < n_notes; i++)
        cr_assert_neq(notes[i].a.id, 2, "note %d (reason %d) is about the dropped alert", i,
                      notes[i].reason);
}

/* ---- out of service ---- */

Test(alert, out_of_service_point_is_held_in_normal_then_returned)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(vg_alert_core_set_service(core, 7, 0, &op1), 0);
    cr_assert_eq(last_reason(), VG_ALERT_REASON_OOS);
    cr_assert_eq(vg_alert_core_set_service(core, 7, 0, &op1), -EALREADY);
    vg_alert_core_ack(core, 7, &op1);
    int before = n_notes;
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(5), 7));
    cr_assert_eq(n_notes, before, "not annunciated while out of service");
    const vg_alert_info *a = vg_alert_core_find(core, 7);
    cr_assert_not_null(a);
    cr_assert_eq(a->state, VG_ALERT_STATE_NORMAL);
    /* a new activation during maintenance stays hidden too */
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0 + SEC(6), 11));
    cr_assert_eq(n_notes, before);
    cr_assert_eq(vg_alert_core_find(core, 7)->state, VG_ALERT_STATE_UNACK);
    cr_assert_eq(vg_alert_core_set_service(core, 7, 1, &op1), 0);
    cr_assert_eq(last_reason(), VG_ALERT_REASON_IN_SERVICE);
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_UNACK);
    cr_assert_eq(audits[n_audits - 1].op, VG_ALERT_OP_IN_SERVICE);
}

Test(alert, back_in_service_after_the_condition_cleared_drops_the_point)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    vg_alert_core_set_service(core, 7, 0, &op1);
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(5), 7));
    vg_alert_core_ack(core, 7, &op1);
    cr_assert_eq(vg_alert_core_find(core, 7)->state, VG_ALERT_STATE_NORMAL);
    cr_assert_eq(vg_alert_core_set_service(core, 7, 1, &op1), 0);
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_CLEARED);
    cr_assert_null(vg_alert_core_find(core, 7));
}

/* ---- escalation ---- */

Test(alert, unacknowledged_critical_escalates_at_its_deadline_and_re_alarms)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 7));
    vg_alert_core_tick(core, T0 + SEC(119));
    cr_assert_eq(n_notes, 1);
    vg_alert_core_tick(core, T0 + SEC(120));
    cr_assert_eq(n_notes, 3);
    cr_assert_eq(notes[1].reason, VG_ALERT_REASON_ESCALATE);
    cr_assert_eq(notes[1].feed, VG_FEED_SECURITY);
    cr_assert_eq(notes[2].reason, VG_ALERT_REASON_ESCALATE);
    cr_assert_eq(notes[2].feed, VG_FEED_SUPERVISOR);
    cr_assert_eq(notes[2].a.escalations, 1);
    cr_assert_eq(audits[0].op, VG_ALERT_OP_ESCALATE);
    vg_alert_core_tick(core, T0 + SEC(240));
    cr_assert_eq(n_notes, 5);
    cr_assert_eq(notes[4].a.escalations, 2);
    vg_alert_core_ack(core, 7, &op1);
    vg_alert_core_tick(core, T0 + SEC(1000));
    cr_assert_eq(n_notes, 6, "acknowledged: no more escalation");
}

Test(alert, emergency_deadline_is_shorter_and_warnings_never_escalate)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_EMERGENCY, T0, 7));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 8));
    vg_alert_core_tick(core, T0 + SEC(60));
    cr_assert_eq(n_notes, 4);
    cr_assert_eq(notes[2].a.id, 7);
    vg_alert_core_tick(core, T0 + SEC(3600 * 5));
    for (int i = 0; i < n_notes; i++)
        cr_assert_neq(notes[i].a.id == 8 && notes[i].reason == VG_ALERT_REASON_ESCALATE, 1);
}

Test(alert, deadline_restarts_when_the_grade_rises)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(density(PLAZA, VG_ALERT_ACTION_CHANGE, VG_GRADE_CRITICAL, T0 + SEC(100), 7));
    vg_alert_core_tick(core, T0 + SEC(219));
    cr_assert_eq(n_notes, 2);
    vg_alert_core_tick(core, T0 + SEC(220));
    cr_assert_eq(last_reason(), VG_ALERT_REASON_ESCALATE);
}

/* A hidden alert is never escalated (the operator shelved it, or it is out of service); when
 * it shows again its deadline starts over, so the supervisor is not paged the moment it
 * comes back. */
static int escalations_of(uint64_t id)
{
    int n = 0;
    for (int i = 0; i < n_notes; i++)
        n += notes[i].a.id == id && notes[i].reason == VG_ALERT_REASON_ESCALATE;
    return n;
}

Test(alert, hidden_alerts_do_not_escalate_and_restart_their_deadline_when_shown)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 7));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 8));
    vg_alert_core_tick(core, T0 + SEC(10));
    cr_assert_eq(vg_alert_core_shelve(core, 7, SEC(3600), &op1), 0);
    cr_assert_eq(vg_alert_core_set_service(core, 8, 0, &op1), 0);
    vg_alert_core_tick(core, T0 + SEC(200)); /* long past the 120 s deadline */
    cr_assert_eq(escalations_of(7) + escalations_of(8), 0, "hidden alerts escalated");
    cr_assert_eq(vg_alert_core_unshelve(core, 7, &op1), 0);
    cr_assert_eq(vg_alert_core_set_service(core, 8, 1, &op1), 0);
    vg_alert_core_tick(core, T0 + SEC(319));
    cr_assert_eq(escalations_of(7) + escalations_of(8), 0, "deadline not restarted at 200 s");
    vg_alert_core_tick(core, T0 + SEC(320));
    cr_assert_gt(escalations_of(7), 0, "120 s after it was shown again");
    cr_assert_gt(escalations_of(8), 0, "120 s after it was back in service");
}

/* ---- flood ---- */

static void raise_sensor_alerts(int n, unsigned grade, int64_t t, uint64_t first_id)
{
    /* distinct points: occupancy_mismatch on made-up subjects (the id), all in conc-1 */
    for (int i = 0; i < n; i++)
        push(ev(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, (uint32_t)(first_id + (uint64_t)i),
                CONC, VG_ALERT_ACTION_RAISE, grade, t + SEC(i), first_id + (uint64_t)i));
}

Test(alert, ten_alerts_in_ten_minutes_is_a_flood_lower_grades_are_grouped)
{
    raise_sensor_alerts(9, VG_GRADE_ADVISORY, T0, 100);
    cr_assert_eq(n_notes, 9);
    raise_sensor_alerts(1, VG_GRADE_WARNING, T0 + SEC(60), 200);
    /* the 10th: held, and a flood summary opens for (technical, stadium) */
    cr_assert_eq(n_notes, 10);
    cr_assert_eq(notes[9].reason, VG_ALERT_REASON_FLOOD);
    cr_assert_eq(notes[9].a.kind, VG_ALERT_FLOOD_SUMMARY);
    cr_assert_eq(notes[9].a.held, 1);
    cr_assert_eq(notes[9].a.grade, VG_GRADE_WARNING);
    cr_assert_str_eq(vg_model_sector_name(model, notes[9].a.sector), "stadium");
    cr_assert(vg_alert_core_find(core, 200)->hide & VG_ALERT_HIDE_HELD);
    vg_alert_core_stats st;
    vg_alert_core_get_stats(core, &st);
    cr_assert_eq(st.in_flood, 1);
    cr_assert_eq(st.floods, 1);
    /* critical is never held back */
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0 + SEC(61), 300));
    cr_assert_eq(last_reason(), VG_ALERT_REASON_RAISE);
    cr_assert_eq(notes[n_notes - 1].a.id, 300);
    /* a held alert that turns critical comes out at once */
    push(ev(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, 100, CONC, VG_ALERT_ACTION_RAISE,
            VG_GRADE_ADVISORY, T0 + SEC(62), 201)); /* same point as id 100: a change */
    vg_alert_event e = ev(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, 100, CONC,
                          VG_ALERT_ACTION_CHANGE, VG_GRADE_CRITICAL, T0 + SEC(63), 100);
    push(e);
    cr_assert_eq(notes[n_notes - 1].a.id, 100);
    cr_assert_eq(notes[n_notes - 1].a.grade, VG_GRADE_CRITICAL);
    /* the window empties: the flood ends, held alerts are released, the summary closes */
    int before = n_notes;
    vg_alert_core_tick(core, T0 + SEC(60 + 600 + 10));
    vg_alert_core_get_stats(core, &st);
    cr_assert_eq(st.in_flood, 0);
    int released = 0, closed = 0;
    for (int i = before; i < n_notes; i++) {
        released += notes[i].reason == VG_ALERT_REASON_RELEASE && notes[i].a.id == 200;
        closed +=
            notes[i].reason == VG_ALERT_REASON_FLOOD && notes[i].a.state == VG_ALERT_STATE_CLEARED;
    }
    cr_assert_eq(released, 1);
    cr_assert_eq(closed, 1);
    cr_assert_eq(vg_alert_core_find(core, 200)->hide, 0);
}

Test(alert, acknowledging_a_flood_summary_acknowledges_its_members)
{
    raise_sensor_alerts(9, VG_GRADE_ADVISORY, T0, 100);
    raise_sensor_alerts(2, VG_GRADE_ADVISORY, T0 + SEC(20), 200);
    const vg_alert_info *s = &notes[n_notes - 1].a;
    cr_assert_eq(s->kind, VG_ALERT_FLOOD_SUMMARY);
    cr_assert_eq(s->held, 2);
    cr_assert_eq(vg_alert_core_ack(core, s->id, &op1), 0);
    cr_assert_eq(vg_alert_core_find(core, 200)->state, VG_ALERT_STATE_ACKED);
    cr_assert_eq(vg_alert_core_find(core, 201)->state, VG_ALERT_STATE_ACKED);
    cr_assert_str_eq(vg_alert_core_find(core, 201)->operator_id, "op1");
}

Test(alert, raises_spread_over_more_than_ten_minutes_are_no_flood)
{
    for (int i = 0; i < 12; i++)
        push(ev(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, 100 + (uint32_t)i, CONC,
                VG_ALERT_ACTION_RAISE, VG_GRADE_ADVISORY, T0 + SEC(70 * i), 100 + (uint64_t)i));
    cr_assert_eq(n_notes, 12);
}

/* ---- capacity, stats, reload ---- */

Test(alert, full_table_still_publishes_untracked)
{
    vg_alert_policy p;
    vg_alert_policy_default(&p);
    p.max_alerts = 2;
    make_core(&p);
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 1));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 2));
    vg_alert_event e = density(GATE, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 3);
    cr_assert_eq(vg_alert_core_event(core, &e), -ENOSPC);
    cr_assert_eq(n_notes, 3);
    cr_assert_eq(notes[2].a.id, 3);
    vg_alert_core_stats st;
    vg_alert_core_get_stats(core, &st);
    cr_assert_eq(st.untracked, 1);
    cr_assert_eq(st.active, 2);
    /* its clear is published too, so consoles drop it */
    e = density(GATE, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(1), 3);
    cr_assert_eq(vg_alert_core_event(core, &e), 0);
    cr_assert_eq(n_notes, 4);
    cr_assert_eq(notes[3].a.id, 3);
    cr_assert_eq(notes[3].a.state, VG_ALERT_STATE_CLEARED);
}

Test(alert, stats_count_states_and_grades)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 1));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 2));
    vg_alert_core_ack(core, 2, &op1);
    vg_alert_core_shelve(core, 1, 0, &op1);
    vg_alert_core_stats st;
    cr_assert_eq(vg_alert_core_get_stats(core, &st), 0);
    cr_assert_eq(st.active, 2);
    cr_assert_eq(st.by_state[VG_ALERT_STATE_UNACK], 1);
    cr_assert_eq(st.by_state[VG_ALERT_STATE_ACKED], 1);
    cr_assert_eq(st.by_grade[VG_GRADE_CRITICAL], 1);
    cr_assert_eq(st.by_grade[VG_GRADE_WARNING], 1);
    cr_assert_eq(st.shelved, 1);
    cr_assert_eq(st.now_ns, T0);
    cr_assert_eq(vg_alert_core_get_stats(core, NULL), -EINVAL);
}

Test(alert, reload_keeps_alerts_by_id_and_drops_removed_subjects)
{
    vg_model *m2 = NULL;
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 1));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 2));
    vg_alert_core_ack(core, 1, &op1);
    load_model(model2_text, &m2);
    int before = n_notes;
    cr_assert_eq(vg_alert_core_set_model(core, m2, &op1), 0);
    cr_assert_eq(n_notes, before + 1);
    cr_assert_eq(notes[before].reason, VG_ALERT_REASON_REMOVED);
    cr_assert_eq(notes[before].a.id, 2);
    const vg_alert_info *a = vg_alert_core_find(core, 1);
    cr_assert_not_null(a);
    cr_assert_eq(a->state, VG_ALERT_STATE_ACKED, "state survives the reload");
    cr_assert_eq(a->last.zone, 0, "plaza is zone 0 in the new model");
    cr_assert_eq(a->feed, VG_FEED_MEDICAL, "routes are re-read");
    cr_assert_eq(audits[n_audits - 1].op, VG_ALERT_OP_RELOAD);
    /* the moved point still matches later events by its new index */
    push(ev(VG_ALERT_DENSITY, VG_SOURCE_ZONE, 0, 0, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR,
            T0 + SEC(5), 1));
    cr_assert_null(vg_alert_core_find(core, 1));
    vg_alert_core_free(&core);
    vg_model_free(&m2);
}

/* A reload during a flood keeps each flood summary's id where its feed and sector still exist,
 * so consoles and operators can still acknowledge it, and publishes "removed" for one whose
 * sector is gone. Before, every summary silently got a new, unannounced id. */
Test(alert, reload_during_a_flood_keeps_summary_ids_and_removes_a_gone_sector)
{
    vg_alert_policy p;
    vg_model *same = NULL, *m2 = NULL;
    vg_alert_policy_default(&p);
    p.flood_count = 3;
    make_core(&p);
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_ADVISORY, T0, 1));
    push(ev(VG_ALERT_FLOW, VG_SOURCE_ZONE, PLAZA, PLAZA, VG_ALERT_ACTION_RAISE,
            VG_GRADE_ADVISORY, T0 + SEC(1), 2));
    /* the flood: held in (security, north) and (technical, stadium) */
    push(ev(VG_ALERT_OCCUPANCY, VG_SOURCE_ZONE, GATE, GATE, VG_ALERT_ACTION_RAISE,
            VG_GRADE_ADVISORY, T0 + SEC(2), 3));
    push(ev(VG_ALERT_PRESSURE, VG_SOURCE_ZONE, GATE, GATE, VG_ALERT_ACTION_RAISE,
            VG_GRADE_WARNING, T0 + SEC(3), 4));
    push(ev(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, CONC, CONC, VG_ALERT_ACTION_RAISE,
            VG_GRADE_ADVISORY, T0 + SEC(4), 5));
    uint64_t north = 0, stadium = 0;
    for (int i = 0; i < n_notes; i++)
        if (notes[i].a.kind == VG_ALERT_FLOOD_SUMMARY) {
            const char *sec = vg_model_sector_name(model, notes[i].a.sector);
            *(strcmp(sec, "north") == 0 ? &north : &stadium) = notes[i].a.id;
        }
    cr_assert(north && stadium && north != stadium);
    cr_assert_eq(vg_alert_core_find(core, north)->held, 2);

    /* the same venue again (an edit elsewhere): nothing to announce, the same ids */
    load_model(model_text, &same);
    int before = n_notes;
    cr_assert_eq(vg_alert_core_set_model(core, same, &op1), 0);
    cr_assert_eq(n_notes, before, "no change, no message");
    cr_assert_not_null(vg_alert_core_find(core, north));
    cr_assert_eq(vg_alert_core_find(core, north)->held, 2);
    cr_assert_not_null(vg_alert_core_find(core, stadium));
    cr_assert_eq(vg_alert_core_ack(core, north, &op1), 0, "acknowledged by its old id");
    cr_assert_eq(vg_alert_core_find(core, 3)->state, VG_ALERT_STATE_ACKED);
    cr_assert_eq(vg_alert_core_find(core, 4)->state, VG_ALERT_STATE_ACKED);

    /* a venue without conc-1: its held alert goes, and the stadium's summary is removed */
    load_model(model2_text, &m2);
    before = n_notes;
    cr_assert_eq(vg_alert_core_set_model(core, m2, &op1), 0);
    int removed_summary = 0;
    for (int i = before; i < n_notes; i++)
        removed_summary += notes[i].reason == VG_ALERT_REASON_REMOVED && notes[i].a.id == stadium;
    cr_assert_eq(removed_summary, 1);
    cr_assert_null(vg_alert_core_find(core, stadium));
    cr_assert_null(vg_alert_core_find(core, 5), "held, never published: dropped quietly");
    const vg_alert_info *s = vg_alert_core_find(core, north);
    cr_assert_not_null(s, "north's summary keeps its id across the renumbering");
    cr_assert_eq(s->held, 2);
    cr_assert_eq(s->state, VG_ALERT_STATE_ACKED);
    cr_assert_str_eq(vg_model_sector_name(m2, s->sector), "north");
    vg_alert_core_free(&core);
    vg_model_free(&same);
    vg_model_free(&m2);
}

Test(alert, names)
{
    cr_assert_str_eq(vg_alert_state_name(VG_ALERT_STATE_RTN_UNACK), "rtn_unack");
    cr_assert_str_eq(vg_alert_state_name(VG_ALERT_STATE_COUNT), "unknown");
    cr_assert_str_eq(vg_alert_reason_name(VG_ALERT_REASON_ESCALATE), "escalate");
    cr_assert_str_eq(vg_alert_op_name(VG_ALERT_OP_SHELVE_EXPIRED), "shelve_expired");
    cr_assert_str_eq(vg_alert_hide_name(VG_ALERT_HIDE_OOS), "out_of_service");
}

/* ---- the publisher's constructor ---- */

Test(alert, publisher_rejects_bad_arguments_and_busy_ports)
{
    vg_alert_cfg cfg;
    vg_alert *a = NULL, *b = NULL;

    vg_alert_cfg_default(&cfg);
    cr_assert_eq(vg_alert_new(NULL, &cfg, &a), -EINVAL);
    cr_assert_eq(vg_alert_new(model, &cfg, NULL), -EINVAL);
    cfg.feeds_endpoint = "tcp://127.0.0.1:*";
    cfg.control_endpoint = "tcp://127.0.0.1:*";
    cfg.feeds_secret_key = "not a z85 key";
    cr_assert_eq(vg_alert_new(model, &cfg, &a), -EINVAL);
    cr_assert_null(a);
    cfg.feeds_secret_key = NULL;
    cfg.feeds_endpoint = "nonsense://x";
    cr_assert_eq(vg_alert_new(model, &cfg, &a), -EINVAL);
    cfg.feeds_endpoint = "tcp://127.0.0.1:*";
    cr_assert_eq(vg_alert_new(model, &cfg, &a), 0);
    cr_assert(strncmp(vg_alert_feeds_endpoint(a), "tcp://127.0.0.1:", 16) == 0);
    cfg.feeds_endpoint = vg_alert_feeds_endpoint(a);
    cr_assert_eq(vg_alert_new(model, &cfg, &b), -EADDRINUSE);
    cr_assert_eq(vg_alert_stop(a), -EALREADY);
    vg_ring *wrong = NULL;
    cr_assert_eq(vg_ring_new(64, 8, &wrong), 0);
    cr_assert_eq(vg_alert_start(a, wrong), -EINVAL);
    vg_ring_free(&wrong);
    vg_alert_free(&a);
    cr_assert_null(a);
    vg_alert_free(&a);
}

Test(alert, pack_metrics_fills_32_per_record)
{
    vg_zone_metrics z[40];
    vg_alert_input out[2];
    memset(z, 0, sizeof(z));
    for (int i = 0; i < 40; i++) {
        z[i].zone = (uint32_t)i;
        z[i].flags = VG_METRICS_DENSITY;
        z[i].density_per_m2 = i * 0.5;
        z[i].los = 'C';
    }
    z[39].flags = 0;
    cr_assert_eq(vg_alert_pack_metrics(z, 40, T0, out, 2), 2);
    cr_assert_eq(out[0].count, 32);
    cr_assert_eq(out[1].count, 8);
    cr_assert_eq(out[1].u.metrics[1].zone, 33);
    cr_assert_float_eq(out[1].u.metrics[1].density_per_m2, 16.5f, 1e-6);
    cr_assert(isnan(out[1].u.metrics[7].density_per_m2), "no density flag: NaN");
    cr_assert_eq(vg_alert_pack_metrics(z, 40, T0, out, 1), 1);
}

/* The engine's own archive_backlog alert has no subject (no zone, sensor or camera): a
 * reload has nothing to remap and must keep it. Before, it was published "removed" and
 * dropped, and since the engine only pushes on a change it never came back. */
Test(alert, reload_keeps_a_subjectless_alert)
{
    vg_model *same = NULL;
    vg_alert_event bl = ev(VG_ALERT_ARCHIVE_BACKLOG, VG_SOURCE_NONE, VG_MODEL_NONE,
                           VG_MODEL_NONE, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 900);
    push(bl);
    cr_assert_eq(notes[n_notes - 1].reason, VG_ALERT_REASON_RAISE);
    load_model(model_text, &same); /* the same venue, a new model */
    int before = n_notes;
    cr_assert_eq(vg_alert_core_set_model(core, same, &op1), 0);
    for (int i = before; i < n_notes; i++)
        cr_assert_neq(notes[i].reason, VG_ALERT_REASON_REMOVED, "alert %llu removed",
                      (unsigned long long)notes[i].a.id);
    const vg_alert_info *a = vg_alert_core_find(core, 900);
    cr_assert_not_null(a, "the backlog alert survives the reload");
    cr_assert_eq(a->state, VG_ALERT_STATE_UNACK);
    cr_assert_eq(a->last.zone, VG_MODEL_NONE);
    cr_assert_eq(a->feed, VG_FEED_TECHNICAL);
    /* and the engine's later clear finds it */
    bl.action = VG_ALERT_ACTION_CLEAR;
    bl.grade = VG_GRADE_CLEAR;
    bl.t_ns = T0 + SEC(5);
    push(bl);
    cr_assert_eq(notes[n_notes - 1].a.id, 900);
    cr_assert_eq(notes[n_notes - 1].reason, VG_ALERT_REASON_RTN);
    cr_assert_eq(notes[n_notes - 1].a.state, VG_ALERT_STATE_RTN_UNACK);
    vg_alert_core_free(&core);
    vg_model_free(&same);
}

/* During a flood an advisory or warning alert that comes back (rtn_unack -> unack) counts as
 * a raise, so it is held in its group's summary like a new one, not annunciated; a critical
 * one that comes back still goes out at once. */
Test(alert, a_lower_grade_alert_coming_back_during_a_flood_is_held)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_ADVISORY, T0, 7));
    push(density(PLAZA, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(1), 7));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0, 8));
    push(density(CONC, VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(1), 8));
    cr_assert_eq(vg_alert_core_find(core, 7)->state, VG_ALERT_STATE_RTN_UNACK);
    raise_sensor_alerts(9, VG_GRADE_ADVISORY, T0 + SEC(10), 100);
    vg_alert_core_stats st;
    vg_alert_core_get_stats(core, &st);
    cr_assert_eq(st.in_flood, 1);

    int before = n_notes;
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_ADVISORY, T0 + SEC(30), 9));
    const vg_alert_info *a = vg_alert_core_find(core, 7);
    cr_assert_eq(a->state, VG_ALERT_STATE_UNACK);
    cr_assert(a->hide & VG_ALERT_HIDE_HELD, "held in the flood summary");
    int raised = 0, grouped = 0;
    for (int i = before; i < n_notes; i++) {
        raised += notes[i].a.id == 7;
        grouped += notes[i].a.kind == VG_ALERT_FLOOD_SUMMARY &&
                   notes[i].reason == VG_ALERT_REASON_FLOOD;
    }
    cr_assert_eq(raised, 0, "not annunciated during the flood");
    cr_assert_eq(grouped, 1, "counted in its sector's summary");

    before = n_notes;
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_CRITICAL, T0 + SEC(31), 10));
    cr_assert_eq(n_notes, before + 1);
    cr_assert_eq(notes[before].a.id, 8);
    cr_assert_eq(notes[before].reason, VG_ALERT_REASON_RAISE, "critical is never held");
    cr_assert_eq(vg_alert_core_find(core, 8)->hide, 0);
}

/* ---- alerts without a zone ----
 * The engine's own alerts (archive_backlog, ingest_rejects) belong to no zone, so to no
 * sector. Before, they took sector 0 (here "north"): the message named that sector, and in a
 * flood the warning "the archive is failing" became one more count in north's summary. */

static vg_alert_event backlog(unsigned action, unsigned grade, int64_t t, uint64_t id)
{
    return ev(VG_ALERT_ARCHIVE_BACKLOG, VG_SOURCE_NONE, VG_MODEL_NONE, VG_MODEL_NONE, action, grade,
              t, id);
}

static void sum_summaries(void *ctx, const vg_alert_info *a)
{
    if (a->kind == VG_ALERT_FLOOD_SUMMARY)
        *(uint32_t *)ctx += a->held;
}

static uint32_t held_in_summaries(void)
{
    uint32_t n = 0;
    cr_assert_eq(vg_alert_core_for_each(core, sum_summaries, &n), 0);
    return n;
}

/* The message the publisher would send for a, rendered with model m. Free with cJSON_Delete. */
static cJSON *message_of(const vg_model *m, const vg_alert_info *a)
{
    char text[4096];
    vg__buf b;
    vg__buf_init(&b, text, sizeof(text), 0);
    vg__alert_json(&b, m, a, VG_ALERT_REASON_RAISE, a->feed, 1, 1);
    cr_assert_eq(b.err, 0);
    cJSON *o = cJSON_Parse(text);
    cr_assert_not_null(o, "%s", text);
    return o;
}

static const char *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsString(v), "\"%s\" is not a string", key);
    return v->valuestring;
}

Test(alert, a_zoneless_warning_during_a_flood_is_published_on_its_own)
{
    /* a flood: the 10th is held in (technical, stadium) */
    raise_sensor_alerts(10, VG_GRADE_ADVISORY, T0, 100);
    push(ev(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, 300, GATE, VG_ALERT_ACTION_RAISE,
            VG_GRADE_ADVISORY, T0 + SEC(20), 300)); /* held: (technical, north) */
    vg_alert_core_stats st;
    vg_alert_core_get_stats(core, &st);
    cr_assert_eq(st.in_flood, 1);
    cr_assert_eq(st.held, 2);
    cr_assert_eq(held_in_summaries(), 2);

    int before = n_notes;
    push(backlog(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(21), 900));
    cr_assert_eq(n_notes, before + 1, "its own raise, and no summary changes");
    cr_assert_eq(notes[before].a.id, 900, "annunciated, not held");
    cr_assert_eq(notes[before].reason, VG_ALERT_REASON_RAISE);
    cr_assert_eq(notes[before].feed, VG_FEED_TECHNICAL);
    cr_assert_eq(notes[before].a.hide, 0);
    cr_assert_eq(notes[before].a.sector, VG_MODEL_NONE);
    vg_alert_core_get_stats(core, &st);
    cr_assert_eq(st.held, 2);
    cr_assert_eq(held_in_summaries(), 2, "not counted in any sector's summary");

    /* back after a return to normal, still during the flood: shown again, not held */
    push(backlog(VG_ALERT_ACTION_CLEAR, VG_GRADE_CLEAR, T0 + SEC(22), 900));
    before = n_notes;
    push(backlog(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0 + SEC(23), 900));
    cr_assert_eq(n_notes, before + 1);
    cr_assert_eq(notes[before].a.id, 900);
    cr_assert_eq(notes[before].reason, VG_ALERT_REASON_RAISE);
    cr_assert_eq(vg_alert_core_find(core, 900)->hide, 0);
    cr_assert_eq(held_in_summaries(), 2);
}

Test(alert, a_zoneless_alert_has_no_zone_and_no_sector_in_its_message)
{
    push(backlog(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 900));
    cr_assert_eq(notes[n_notes - 1].a.id, 900);
    cJSON *o = message_of(model, &notes[n_notes - 1].a);
    cr_assert_str_eq(field(o, "zone"), "");
    cr_assert_str_eq(field(o, "zone_name"), "");
    cr_assert_str_eq(field(o, "sector"), "");
    cr_assert_str_eq(field(o, "kind"), "archive_backlog");
    cJSON_Delete(o);
    char topic[64];
    cr_assert_gt(
        vg__alert_topic(model, &notes[n_notes - 1].a, VG_FEED_TECHNICAL, topic, sizeof(topic)), 0);
    cr_assert_str_eq(topic, "technical.warning.");
}

/* A reload re-sectors every alert and rebuilds the flood groups: one without a zone stays
 * without a sector, and outside them. */
Test(alert, reload_keeps_a_zoneless_alert_without_a_sector)
{
    vg_alert_policy p;
    vg_model *same = NULL;
    vg_alert_policy_default(&p);
    p.flood_count = 3;
    make_core(&p);
    push(backlog(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 900));
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_ADVISORY, T0 + SEC(1), 1));
    /* the third raise: a flood, and this one held in (technical, stadium) */
    push(ev(VG_ALERT_OCCUPANCY_MISMATCH, VG_SOURCE_ZONE, CONC, CONC, VG_ALERT_ACTION_RAISE,
            VG_GRADE_ADVISORY, T0 + SEC(2), 2));
    cr_assert_eq(held_in_summaries(), 1);

    load_model(model_text, &same); /* the same venue, a new model */
    cr_assert_eq(vg_alert_core_set_model(core, same, &op1), 0);
    const vg_alert_info *a = vg_alert_core_find(core, 900);
    cr_assert_not_null(a);
    cr_assert_eq(a->last.zone, VG_MODEL_NONE);
    cr_assert_eq(a->sector, VG_MODEL_NONE);
    cr_assert_eq(a->hide, 0, "not put in a rebuilt flood group");
    cr_assert_eq(held_in_summaries(), 1);
    cJSON *o = message_of(same, a);
    cr_assert_str_eq(field(o, "sector"), "");
    cr_assert_str_eq(field(o, "zone"), "");
    cJSON_Delete(o);
    vg_alert_core_free(&core);
    vg_model_free(&same);
}

/* A note published untracked (the table full) names the sector of its zone, or none, like a
 * tracked one. Before, every untracked note said sector 0. */
Test(alert, an_untracked_note_has_its_zones_sector_or_none)
{
    vg_alert_policy p;
    vg_alert_policy_default(&p);
    p.max_alerts = 1;
    make_core(&p);
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 1));
    vg_alert_event e = backlog(VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 900);
    cr_assert_eq(vg_alert_core_event(core, &e), -ENOSPC);
    cr_assert_eq(notes[n_notes - 1].a.id, 900);
    cr_assert_eq(notes[n_notes - 1].a.sector, VG_MODEL_NONE);
    e = density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 2);
    cr_assert_eq(vg_alert_core_event(core, &e), -ENOSPC);
    cr_assert_eq(notes[n_notes - 1].a.id, 2);
    cr_assert_str_eq(vg_model_sector_name(model, notes[n_notes - 1].a.sector), "stadium");
}

/* The same venue with its sensors and cameras in another order (and one camera more). */
static const char model3_text[] =
    "venue = { id = \"tv\"; name = \"Test\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = (\n"
    "  { id = \"gate-a\"; type = \"queue\"; area_m2 = 600; capacity = 1500;\n"
    "    sector = \"north\"; },\n"
    "  { id = \"plaza\"; type = \"standing\"; area_m2 = 12000.0; sector = \"north\"; },\n"
    "  { id = \"conc-1\"; type = \"moving\"; area_m2 = 1200; sector = \"stadium\"; }\n"
    ");\n"
    "cameras = ( { id = \"cam-conc\"; zones = ( { zone = \"conc-1\"; coverage = 1.0; } ); },\n"
    "            { id = \"cam-plaza\"; zones = ( { zone = \"plaza\"; coverage = 0.6; },\n"
    "                                          { zone = \"gate-a\"; coverage = 1.0; } ); } );\n"
    "sensors = (\n"
    "  { id = \"smoke-gate\"; kind = \"smoke\"; zone = \"gate-a\"; min = 0; max = 1; period_s = "
    "60; },\n"
    "  { id = \"co2-conc\"; kind = \"co2\"; zone = \"conc-1\"; min = 300; max = 10000; period_s = "
    "30; },\n"
    "  { id = \"wbgt-plaza\"; kind = \"wbgt\"; zone = \"plaza\"; min = -10; max = 60; period_s = "
    "60; }\n"
    ");\n"
    "help_points = ( { id = \"hp-1\"; zone = \"gate-a\"; } );\n";

static void add_evidence(vg_alert_event *e, unsigned stype, uint32_t source)
{
    e->evidence[e->evidence_count++] = (vg_evidence){.t_ns = e->t_ns,
                                                     .value = 1,
                                                     .source = source,
                                                     .source_type = (uint8_t)stype,
                                                     .reading_type = VG_READING_COUNT};
}

/* Evidence names its sensors and cameras by index: after a reload that renumbers them it
 * must still name the same devices, and leave out those the new venue no longer has. */
Test(alert, reload_keeps_evidence_naming_the_same_devices)
{
    vg_model *m3 = NULL, *m2 = NULL;
    vg_alert_event w = ev(VG_ALERT_WBGT, VG_SOURCE_SENSOR, 0, PLAZA, VG_ALERT_ACTION_RAISE,
                          VG_GRADE_WARNING, T0, 1);
    add_evidence(&w, VG_SOURCE_SENSOR, 0); /* wbgt-plaza */
    add_evidence(&w, VG_SOURCE_SENSOR, 1); /* co2-conc */
    add_evidence(&w, VG_SOURCE_CAMERA, 0); /* cam-plaza */
    add_evidence(&w, VG_SOURCE_ZONE, PLAZA);
    push(w);
    vg_alert_event d = density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 2);
    add_evidence(&d, VG_SOURCE_SENSOR, 0); /* wbgt-plaza: not in model2 */
    add_evidence(&d, VG_SOURCE_ZONE, PLAZA);
    add_evidence(&d, VG_SOURCE_CAMERA, 0); /* cam-plaza: not in model2 */
    push(d);

    load_model(model3_text, &m3);
    cr_assert_eq(vg_alert_core_set_model(core, m3, &op1), 0);
    const vg_alert_event *e = &vg_alert_core_find(core, 1)->last;
    cr_assert_eq(e->evidence_count, 4);
    cr_assert_str_eq(vg_model_sensor(m3, e->evidence[0].source)->id, "wbgt-plaza");
    cr_assert_str_eq(vg_model_sensor(m3, e->evidence[1].source)->id, "co2-conc");
    cr_assert_str_eq(vg_model_camera(m3, e->evidence[2].source)->id, "cam-plaza");
    cr_assert_str_eq(vg_model_zone(m3, e->evidence[3].source)->id, "plaza");

    /* model2 has plaza but no sensors or cameras: only the zone's evidence is left */
    load_model(model2_text, &m2);
    cr_assert_eq(vg_alert_core_set_model(core, m2, &op1), 0);
    e = &vg_alert_core_find(core, 2)->last;
    cr_assert_eq(e->evidence_count, 1);
    cr_assert_eq(e->evidence[0].source_type, VG_SOURCE_ZONE);
    cr_assert_str_eq(vg_model_zone(m2, e->evidence[0].source)->id, "plaza");
    vg_alert_core_free(&core);
    vg_model_free(&m3);
    vg_model_free(&m2);
}

/* Shelving does not touch the owner: the alert still shows who acknowledged it and what they
 * wrote; the shelving operator's comment is in the shelve audit record. */
Test(alert, shelving_keeps_the_owners_comment)
{
    const vg_alert_actor op2 = {.operator_id = "op2", .comment = "noisy sensor", .wall_ns = 43};
    const vg_alert_actor op3 = {.operator_id = "op3", .comment = NULL, .wall_ns = 44};
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    push(density(CONC, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 8));
    cr_assert_eq(vg_alert_core_ack(core, 7, &op1), 0);
    cr_assert_eq(vg_alert_core_ack(core, 8, &op1), 0);
    cr_assert_eq(vg_alert_core_shelve(core, 7, SEC(600), &op2), 0);
    cr_assert_eq(vg_alert_core_shelve(core, 8, SEC(600), &op3), 0);
    for (uint64_t id = 7; id <= 8; id++) {
        const vg_alert_info *a = vg_alert_core_find(core, id);
        cr_assert_str_eq(a->operator_id, "op1");
        cr_assert_str_eq(a->comment, "on it", "alert %llu", (unsigned long long)id);
    }
    cr_assert_str_eq(notes[n_notes - 1].a.comment, "on it", "the shelve note too");
    cr_assert_eq(audits[n_audits - 2].op, VG_ALERT_OP_SHELVE);
    cr_assert_str_eq(audits[n_audits - 2].operator_id, "op2");
    cr_assert_str_eq(audits[n_audits - 2].comment, "noisy sensor");
}

/* Whether s is valid UTF-8 (well-formed sequences, no surrogates, nothing past U+10FFFF). */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
                                   : (*p & 0xf8) == 0xf0 ? 3 : 9;
        if (n == 9 || (n == 1 && *p < 0xc2))
            return 0;
        for (unsigned i = 1; i <= n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return 0;
        p += n + 1;
    }
    return 1;
}

/* Operator ids and comments past their fields' size are cut at a character, never inside
 * one: the feed's JSON stays valid UTF-8. */
Test(alert, long_operator_and_comment_are_cut_at_a_character)
{
    char op[64] = "", comment[256] = "";
    for (int i = 0; i < 16; i++)
        strcat(op, "\xe2\x82\xac"); /* €: 48 bytes, the field holds 47 */
    for (int i = 0; i < 80; i++)
        strcat(comment, "\xc3\xa9"); /* é: 160 bytes, the field holds 159 */
    const vg_alert_actor who = {.operator_id = op, .comment = comment, .wall_ns = 1};
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_WARNING, T0, 7));
    cr_assert_eq(vg_alert_core_ack(core, 7, &who), 0);
    const vg_alert_info *a = vg_alert_core_find(core, 7);
    cr_assert_eq(strlen(a->operator_id), 45, "15 whole characters");
    cr_assert_eq(strncmp(a->operator_id, op, 45), 0);
    cr_assert(utf8_valid(a->operator_id));
    cr_assert_eq(strlen(a->comment), 158, "79 whole characters");
    cr_assert(utf8_valid(a->comment));
    cr_assert(utf8_valid(audits[n_audits - 1].operator_id));
    cr_assert(utf8_valid(audits[n_audits - 1].comment));
    cr_assert_eq(strlen(audits[n_audits - 1].comment), 158);
}

/* An audit record's state is the state after the action: acknowledging a flood summary
 * records each member as acknowledged, not as it was before. */
Test(alert, acknowledging_a_flood_summary_audits_members_as_acknowledged)
{
    raise_sensor_alerts(9, VG_GRADE_ADVISORY, T0, 100);
    raise_sensor_alerts(2, VG_GRADE_ADVISORY, T0 + SEC(20), 200);
    const uint64_t summary = notes[n_notes - 1].a.id;
    cr_assert_eq(notes[n_notes - 1].a.kind, VG_ALERT_FLOOD_SUMMARY);
    cr_assert_eq(vg_alert_core_ack(core, summary, &op1), 0);
    int members = 0;
    for (int i = 0; i < n_audits; i++) {
        cr_assert_eq(audits[i].op, VG_ALERT_OP_ACK);
        cr_assert_eq(audits[i].state, VG_ALERT_STATE_ACKED, "audit of alert %llu",
                     (unsigned long long)audits[i].alert_id);
        members += audits[i].alert_id == 200 || audits[i].alert_id == 201;
    }
    cr_assert_eq(members, 2);
}

/* An emergency that falls to critical keeps its pending deadline: the critical deadline
 * counted from when it became unacknowledged is long past, and must not page the supervisor
 * again at the next tick. */
Test(alert, a_grade_fall_does_not_escalate_at_once)
{
    push(density(PLAZA, VG_ALERT_ACTION_RAISE, VG_GRADE_EMERGENCY, T0, 7));
    vg_alert_core_tick(core, T0 + SEC(60));
    vg_alert_core_tick(core, T0 + SEC(120));
    cr_assert_eq(escalations_of(7), 4, "twice, each on two feeds");
    push(density(PLAZA, VG_ALERT_ACTION_CHANGE, VG_GRADE_CRITICAL, T0 + SEC(126), 7));
    cr_assert_eq(last_reason(), VG_ALERT_REASON_CHANGE);
    vg_alert_core_tick(core, T0 + SEC(127));
    cr_assert_eq(escalations_of(7), 4, "no escalation right after the fall");
    vg_alert_core_tick(core, T0 + SEC(179));
    cr_assert_eq(escalations_of(7), 4);
    /* the deadline pending at the fall still holds: still unacknowledged, so it re-alarms */
    vg_alert_core_tick(core, T0 + SEC(180));
    cr_assert_eq(escalations_of(7), 6);
    cr_assert_eq(vg_alert_core_find(core, 7)->escalations, 3);
}
