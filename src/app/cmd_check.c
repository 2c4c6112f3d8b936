/* vigil check: validate venue model files and print a summary of each (docs/model.md).
 * Exit 0 when every file is valid, 1 when one is not (the error goes to stderr as
 * "FILE:LINE: KEY: message", the form editors and CI annotators jump to), 2 on bad usage. */
#include "cmd.h"
#include "vigil/common.h"
#include "vigil/model.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: vigil check [-q] MODEL...\n"
               "\n"
               "Validate venue model files (libconfig; format in docs/model.md) and print a\n"
               "summary of each: zones by type, area and capacity, lines, cameras, sensors by\n"
               "kind, help points, profiles, phases and source mappings.\n"
               "\n"
               "  -q, --quiet   print nothing on success (errors still go to stderr)\n"
               "  -h, --help    this text\n"
               "\n"
               "Exit status: 0 all valid; 1 a file is invalid or unreadable, reported on stderr\n"
               "as FILE:LINE: KEY: message; 2 bad usage.\n");
}

static void print_error(const char *path, int r, const vg_model_error *e)
{
    if (e->line > 0)
        fprintf(stderr, "%s:%d: %s: %s\n", e->file, e->line, e->key[0] ? e->key : "model",
                e->message);
    else if (e->message[0])
        fprintf(stderr, "%s: %s%s%s\n", e->file[0] ? e->file : path, e->key[0] ? e->key : "",
                e->key[0] ? ": " : "", e->message);
    else
        fprintf(stderr, "%s: %s\n", path, vg_strerror(r));
}

static void print_offset(int32_t s)
{
    int32_t a = s < 0 ? -s : s;
    printf("UTC%c%02d:%02d", s < 0 ? '-' : '+', (int)(a / 3600), (int)(a % 3600 / 60));
}

static void print_phase_time(const vg_phase *p, int64_t t)
{
    if (p->daily) {
        printf("%02d:%02d", (int)(t / 3600), (int)(t % 3600 / 60));
    } else {
        time_t tt = (time_t)t;
        struct tm tm;
        char buf[32];
        gmtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fputs(buf, stdout);
    }
}

static void summary(const vg_model *m)
{
    uint32_t nz = vg_model_zone_count(m), by_type[VG_ZONE_TYPE_COUNT] = {0};
    uint32_t by_kind[VG_SENSOR_KIND_COUNT] = {0};
    double area = 0, type_area[VG_ZONE_TYPE_COUNT] = {0};
    uint64_t capacity = 0;
    uint32_t stair_lines = 0, covered = 0;
    double width = 0;

    for (uint32_t i = 0; i < nz; i++) {
        const vg_zone *z = vg_model_zone(m, i);
        by_type[z->type]++;
        type_area[z->type] += z->area_m2;
        area += z->area_m2;
        capacity += z->capacity;
        covered += z->camera_count > 0;
    }
    printf("%s: valid\n", vg_model_path(m));
    printf("  venue        %s \"%s\"", vg_model_venue(m), vg_model_venue_name(m));
    if (*vg_model_version(m))
        printf(", version %s", vg_model_version(m));
    printf(", ");
    print_offset(vg_model_utc_offset_s(m));
    printf(", digest %016llx\n", (unsigned long long)vg_model_digest(m));
    printf("  zones        %u in %u sector%s, walkable area %.0f m², capacity %llu\n", nz,
           vg_model_sector_count(m), vg_model_sector_count(m) == 1 ? "" : "s", area,
           (unsigned long long)capacity);
    for (int t = 0; t < VG_ZONE_TYPE_COUNT; t++)
        if (by_type[t])
            printf("    %-10s %5u zones %10.0f m²\n", vg_zone_type_name((enum vg_zone_type)t),
                   by_type[t], type_area[t]);
    printf("    sectors:");
    for (uint32_t i = 0; i < vg_model_sector_count(m); i++)
        printf(" %s", vg_model_sector_name(m, i));
    printf("\n");

    for (uint32_t i = 0; i < vg_model_line_count(m); i++) {
        const vg_line *l = vg_model_line(m, i);
        stair_lines += l->stair != 0;
        width += l->width_m;
    }
    printf("  lines        %u (%u on stairs), total width %.1f m\n", vg_model_line_count(m),
           stair_lines, width);
    printf("  cameras      %u, covering %u of %u zones\n", vg_model_camera_count(m), covered, nz);

    for (uint32_t i = 0; i < vg_model_sensor_count(m); i++)
        by_kind[vg_model_sensor(m, i)->kind]++;
    printf("  sensors      %u:", vg_model_sensor_count(m));
    const char *sep = " ";
    for (int k = 0; k < VG_SENSOR_KIND_COUNT; k++)
        if (by_kind[k]) {
            printf("%s%s %u", sep, vg_sensor_kind_name((enum vg_sensor_kind)k), by_kind[k]);
            sep = ", ";
        }
    printf("\n");
    printf("  help points  %u\n", vg_model_help_point_count(m));

    printf("  profiles     %u:", vg_model_profile_count(m));
    for (uint32_t i = 0; i < vg_model_profile_count(m); i++)
        printf(" %s", vg_model_profile(m, i)->id);
    printf("\n");
    printf("  phases       %u", vg_model_phase_count(m));
    for (uint32_t i = 0; i < vg_model_phase_count(m); i++) {
        const vg_phase *p = vg_model_phase(m, i);
        printf("%s%s ", i ? ", " : ": ", p->id);
        print_phase_time(p, p->start_s);
        printf("-");
        print_phase_time(p, p->end_s);
        if (p->profile != VG_MODEL_NONE)
            printf(" (%s)", vg_model_profile(m, p->profile)->id);
    }
    printf("\n");

    printf("  mappings     frigate %u zones, zigbee2mqtt %u fields on %u devices\n",
           vg_model_frigate_count(m), vg_model_z2m_count(m), vg_model_z2m_device_count(m));
    printf("  routes      ");
    for (int f = 0; f < VG_FEED_COUNT; f++) {
        int n = 0;
        for (int k = 0; k < VG_ALERT_KIND_COUNT; k++)
            n += vg_model_feed(m, (enum vg_alert_kind)k) == (enum vg_feed)f;
        printf(" %s %d%s", vg_feed_name((enum vg_feed)f), n, f + 1 < VG_FEED_COUNT ? "," : "");
    }
    printf(" (alert kinds)\n");
}

int vg_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int quiet = 0, c, status = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "vigil check: no model file given\n");
        usage(stderr);
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        vg_model *m = NULL;
        vg_model_error err;
        memset(&err, 0, sizeof(err));
        int r = vg_model_load(argv[i], &m, &err);
        if (r < 0) {
            print_error(argv[i], r, &err);
            status = 1;
            continue;
        }
        if (!quiet)
            summary(m);
        vg_model_free(&m);
    }
    return status;
}
