/* See archive_fixture.h. */
#include "archive_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const archive_fixture_model =
    "# test venue\n"
    "venue = { id = \"t\"; name = \"T\"; default_profile = \"default\"; };\n"
    "profiles = ( { id = \"default\"; } );\n"
    "zones = (\n"
    "  { id = \"conc\"; type = \"moving\"; area_m2 = 100; capacity = 400;\n"
    "    neighbours = [ \"hall\" ]; },\n"
    "  { id = \"hall\"; type = \"standing\"; area_m2 = 1000; capacity = 4000;\n"
    "    neighbours = [ \"conc\" ]; }\n"
    ");\n"
    "lines = ( { id = \"door\"; width_m = 2.0; from = \"conc\"; to = \"hall\"; } );\n"
    "cameras = (\n"
    "  { id = \"cam-c\"; period_s = 1; zones = ( { zone = \"conc\"; coverage = 1.0; } ); },\n"
    "  { id = \"cam-h\"; period_s = 1; zones = ( { zone = \"hall\"; coverage = 1.0; } ); }\n"
    ");\n"
    "sensors = (\n"
    "  { id = \"co2\"; kind = \"co2\"; zone = \"conc\"; min = 300; max = 10000; period_s = 10; }\n"
    ");\n"
    "help_points = ( { id = \"hp\"; zone = \"conc\"; } );\n";

char af_dir[128];
char af_model_path[192];
vg_model *af_model;

void archive_fixture_setup(const char *root, const char *name)
{
    vg_model_error err;
    FILE *f;

    snprintf(af_dir, sizeof(af_dir), "%s/%s-XXXXXX", root ? root : "/tmp", name);
    cr_assert_not_null(mkdtemp(af_dir));
    snprintf(af_model_path, sizeof(af_model_path), "%s/venue.cfg", af_dir);
    f = fopen(af_model_path, "w");
    cr_assert_not_null(f);
    fputs(archive_fixture_model, f);
    fclose(f);
    cr_assert_eq(vg_model_load(af_model_path, &af_model, &err), 0, "%s:%d: %s: %s", err.file,
                 err.line, err.key, err.message);
}

void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char p[512];

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (e->d_type == DT_DIR)
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

void archive_fixture_teardown(void)
{
    vg_model_free(&af_model);
    rm_rf(af_dir);
}

int list_archives(const char *d, char names[][512], int cap)
{
    struct dirent **list;
    int n = scandir(d, &list, NULL, alphasort), k = 0;

    for (int i = 0; i < n; i++) {
        size_t len = strlen(list[i]->d_name);

        if (len > 3 && !strcmp(list[i]->d_name + len - 3, ".h5") && k < cap)
            snprintf(names[k++], 512, "%s/%s", d, list[i]->d_name);
        free(list[i]);
    }
    if (n > 0)
        free(list);
    return k;
}

int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    int n = 0;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        n += !needle || strstr(line, needle) != NULL;
    fclose(f);
    return n;
}
