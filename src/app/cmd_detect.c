/* vigil detect: runs the streaming anomaly detector (include/vigil/detect.h) over
 * timestamp,value CSV files, one fresh detector per file, and writes
 * timestamp,value,anomaly_score with one row per input row (issues #3 and #9).
 *
 * DESIGN
 * Input: a header row naming the columns (`timestamp` and `value`, in any order; other
 * columns are ignored), then one reading per row. Timestamps are `YYYY-MM-DD HH:MM:SS`
 * (or with `T`), optionally with fractional seconds, taken as UTC; or Unix seconds. CRLF
 * line endings, a UTF-8 byte-order mark, double-quoted fields and blank lines are
 * accepted. The timestamp and value text are copied to the output as they were.
 * Errors: a file that cannot be read, has no usable header or no good row at all is an
 * error naming the file (and the line), exit 1. A bad row inside an otherwise good file
 * (bad timestamp, non-numeric or non-finite value, missing field) is counted, scored 0
 * without touching the detector, and reported on stderr when the file is done (exit 0).
 * Output goes through a temporary file renamed into place in --results mode, so a
 * failed run never leaves a half-written results file; on stdout each file's block is held
 * in memory and written once the file is accepted, so a rejected file writes nothing. */
#include "cmd.h"
#include "vigil/common.h"
#include "vigil/detect.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FIELDS 64
#define MAX_BAD_LINES_SHOWN 5

struct file_stats {
    long rows;       /* data rows written */
    long bad;        /* rows scored 0 because they could not be read */
    long bad_line[MAX_BAD_LINES_SHOWN];
    long alarms;     /* rows at or above the detector's threshold */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil detect [-q] [--sensitivity S] FILE.csv...\n"
            "       vigil detect [-q] [--sensitivity S] --nab-data DIR --results OUT\n"
            "\n"
            "Runs Vigil's streaming anomaly detector over timestamp,value CSV files: one pass,\n"
            "no look-ahead, one fresh detector per file, as the engine scores a sensor stream\n"
            "(except that a row whose timestamp repeats or goes back is scored, where the\n"
            "engine would refuse the reading). Each input row gets an anomaly score in [0,1].\n"
            "\n"
            "Input: a header row with `timestamp` and `value` columns, then one reading per row.\n"
            "Timestamps are `YYYY-MM-DD HH:MM:SS` (fractional seconds allowed, UTC) or Unix\n"
            "seconds. CRLF line endings and irregular sampling are fine. FILE `-` is standard\n"
            "input (e.g. a pipe from a database query).\n"
            "Output: `timestamp,value,anomaly_score`, one row per input row, the timestamp and\n"
            "value text copied (blanks around them trimmed). With several FILEs each file's\n"
            "rows follow its own header line on stdout.\n"
            "\n"
            "options:\n"
            "  --sensitivity S   0..1 (default 0.5, tuned on NAB's standard profile). It moves the\n"
            "                    alarm threshold, not the scores: higher S = lower threshold =\n"
            "                    more and earlier alarms. A summary line per file on stderr\n"
            "                    counts the rows at or above the threshold.\n"
            "  --nab-data DIR    read every DIR/<category>/<file>.csv (NAB layout) ...\n"
            "  --results OUT     ... and write OUT/<category>/vigil_<file>.csv\n"
            "  -q, --quiet       no per-file summary on stderr (warnings still shown)\n"
            "  -h, --help        this text\n"
            "\n"
            "A bad row in an otherwise good file (bad timestamp, non-numeric value, missing\n"
            "field) is scored 0, counted and reported on stderr with its line numbers; the exit\n"
            "status stays 0. A missing or unreadable file, or one without a usable header or\n"
            "any good row, is an error naming the file and line: exit 1. Bad usage: exit 2.\n"
            "\n"
            "example: vigil detect data.csv > scored.csv\n"
            "         vigil detect --nab-data NAB/data --results out && \\\n"
            "           python3 nab_score.py --nab-data NAB/data --labels windows.json \\\n"
            "             --results out --detector vigil\n");
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil), so parsing never depends on the TZ environment. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_digits(const char **sp, int n, int *ret)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*sp)[i];
        if (c < '0' || c > '9')
            return -EINVAL;
        v = v * 10 + (c - '0');
    }
    *sp += n;
    *ret = v;
    return 0;
}

/* Parses a calendar timestamp (UTC) or Unix seconds into ns since the epoch. */
static int parse_timestamp(const char *s, int64_t *ret_ns)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac_ns = 0;
    const char *p = s;

    if (parse_digits(&p, 4, &y) == 0 && *p == '-') {
        p++;
        if (parse_digits(&p, 2, &mo) < 0 || *p++ != '-' || parse_digits(&p, 2, &d) < 0)
            return -EINVAL;
        if (*p == ' ' || *p == 'T') {
            p++;
            if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &mi) < 0)
                return -EINVAL;
            if (*p == ':') {
                p++;
                if (parse_digits(&p, 2, &sec) < 0)
                    return -EINVAL;
                if (*p == '.') {
                    int64_t scale = 100000000;
                    p++;
                    if (*p < '0' || *p > '9')
                        return -EINVAL;
                    for (; *p >= '0' && *p <= '9'; p++) {
                        frac_ns += (*p - '0') * scale;
                        scale /= 10;
                    }
                }
            }
        }
        if (*p == 'Z')
            p++;
        /* 1678..2261: the years whose nanoseconds since 1970 fit in 64 bits */
        if (*p != '\0' || y < 1678 || y > 2261 || d < 1 || d > vg_days_in_month(y, mo) ||
            h > 23 || mi > 59 || sec > 60)
            return -EINVAL;
        *ret_ns = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 * VG_NS_PER_S +
                  (int64_t)sec * VG_NS_PER_S + frac_ns;
        return 0;
    }
    /* Unix seconds, fractions allowed. */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno || !isfinite(v) || fabs(v) > 9.2e9)
        return -EINVAL;
    *ret_ns = (int64_t)llround(v * 1e9);
    return 0;
}

/* Splits line in place on commas; strips spaces and one pair of double quotes per field. */
static int split_fields(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;

    for (;;) {
        char *start = p;
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (*start == ' ' || *start == '\t')
            start++;
        char *end = start + strlen(start);
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (end - start >= 2 && start[0] == '"' && end[-1] == '"') {
            end[-1] = '\0';
            start++;
        }
        if (n < max)
            fields[n] = start;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return n;
}

static void chomp(char *line, ssize_t *len)
{
    while (*len > 0 && (line[*len - 1] == '\n' || line[*len - 1] == '\r'))
        line[--*len] = '\0';
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return 0;
    return 1;
}

/* The one message for scores that could not be written (a full disk), wherever it shows. */
static void write_error(const char *out_name, const char *in_name)
{
    fprintf(stderr, "vigil detect: %s: write error (scores of %s): %s\n", out_name, in_name,
            strerror(errno));
}

/* Scores one CSV stream into out. Returns 0, or -1 after printing an error. */
static int detect_stream(FILE *in, const char *name, FILE *out, const char *out_name,
                         const vg_detector_cfg *cfg, struct file_stats *st)
{
    char *line = NULL, *fields[MAX_FIELDS];
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int ts_col = -1, val_col = -1, ncols = 0, r = -1;
    vg_detector *det = NULL;
    int64_t last_ns = INT64_MIN;

    memset(st, 0, sizeof(*st));
    int e = vg_detector_new(cfg, &det);
    if (e < 0) {
        fprintf(stderr, "vigil detect: %s: %s\n", name, vg_strerror(e));
        return -1;
    }
    const double threshold = vg_detector_threshold(det);

    /* Header: the first non-blank line. */
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        chomp(line, &len);
        char *text = line;
        if (lineno == 1 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
            (unsigned char)text[2] == 0xBF)
            text += 3;
        if (is_blank(text))
            continue;
        ncols = split_fields(text, fields, MAX_FIELDS);
        for (int i = 0; i < ncols && i < MAX_FIELDS; i++) {
            if (strcmp(fields[i], "timestamp") == 0 && ts_col < 0)
                ts_col = i;
            else if (strcmp(fields[i], "value") == 0 && val_col < 0)
                val_col = i;
        }
        break;
    }
    if (ferror(in)) {
        fprintf(stderr, "vigil detect: %s: read error: %s\n", name, strerror(errno));
        goto out;
    }
    if (ncols == 0) {
        fprintf(stderr, "vigil detect: %s: empty file (expected a timestamp,value header)\n",
                name);
        goto out;
    }
    if (ts_col < 0 || val_col < 0) {
        fprintf(stderr,
                "vigil detect: %s:%ld: header must name `timestamp` and `value` columns\n",
                name, lineno);
        goto out;
    }
    if (fprintf(out, "timestamp,value,anomaly_score\n") < 0)
        goto out_write;

    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        chomp(line, &len);
        if (is_blank(line))
            continue;
        int n = split_fields(line, fields, MAX_FIELDS);
        const char *ts_text = ts_col < n ? fields[ts_col] : "";
        const char *val_text = val_col < n ? fields[val_col] : "";
        double score = 0.0, value = NAN;
        int64_t t_ns = 0;
        int good = ts_col < n && val_col < n && parse_timestamp(ts_text, &t_ns) == 0;
        if (good) {
            char *end;
            value = strtod(val_text, &end);
            good = end != val_text && *end == '\0' && isfinite(value);
        }
        if (good) {
            /* A repeated or earlier stamp is clamped and the row scored: NAB's files repeat
             * an hour at a DST change, and NAB expects every row scored. The engine would
             * refuse such a reading (duplicate, too_old), so here the two can differ. */
            if (t_ns < last_ns)
                t_ns = last_ns;
            last_ns = t_ns;
            score = vg_detector_update(det, t_ns, value);
            if (score >= threshold)
                st->alarms++;
        } else {
            if (st->bad < MAX_BAD_LINES_SHOWN)
                st->bad_line[st->bad] = lineno;
            st->bad++;
        }
        st->rows++;
        if (fprintf(out, "%s,%s,%.9f\n", ts_text, val_text, score) < 0)
            goto out_write;
    }
    if (ferror(in)) {
        fprintf(stderr, "vigil detect: %s:%ld: read error: %s\n", name, lineno + 1,
                strerror(errno));
        goto out;
    }
    if (st->rows == st->bad) {
        if (st->rows == 0)
            fprintf(stderr, "vigil detect: %s:%ld: no data rows after the header\n", name,
                    lineno);
        else
            fprintf(stderr,
                    "vigil detect: %s:%ld: no readable row (expected timestamp,value with a "
                    "timestamp and a number)\n",
                    name, st->bad_line[0]);
        goto out;
    }
    if (st->bad > 0) {
        char lines[128] = "";
        size_t used = 0;
        for (long i = 0; i < st->bad && i < MAX_BAD_LINES_SHOWN; i++)
            used += (size_t)snprintf(lines + used, sizeof(lines) - used, "%s%ld",
                                     i ? ", " : "", st->bad_line[i]);
        fprintf(stderr,
                "vigil detect: %s: warning: %ld bad row%s scored 0 (line%s %s%s): bad "
                "timestamp, non-numeric value or missing field\n",
                name, st->bad, st->bad == 1 ? "" : "s", st->bad == 1 ? "" : "s", lines,
                st->bad > MAX_BAD_LINES_SHOWN ? ", ..." : "");
    }
    r = 0;
    goto out;
out_write:
    write_error(out_name, name);
out:
    free(line);
    vg_detector_free(&det);
    return r;
}

static void summary(const char *name, const struct file_stats *st, const vg_detector_cfg *cfg,
                    int quiet)
{
    vg_detector *d = NULL;

    if (quiet || vg_detector_new(cfg, &d) < 0)
        return;
    fprintf(stderr, "vigil detect: %s: %ld rows, %ld at or above threshold %.4f (sensitivity %g)\n",
            name, st->rows, st->alarms, vg_detector_threshold(d), cfg->sensitivity);
    vg_detector_free(&d);
}

static int detect_path(const char *path, FILE *out, const vg_detector_cfg *cfg, int quiet)
{
    struct file_stats st;
    char *block = NULL;
    size_t len = 0;
    const int std_in = strcmp(path, "-") == 0;
    FILE *in = std_in ? stdin : fopen(path, "r"), *mem;

    if (std_in)
        path = "standard input";
    if (!in) {
        fprintf(stderr, "vigil detect: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    /* The file's block is held in memory until the file is accepted, so a file rejected
     * after its first rows (no readable row) leaves nothing on stdout. */
    mem = open_memstream(&block, &len);
    if (!mem) {
        fprintf(stderr, "vigil detect: %s: %s\n", path, strerror(errno));
        fclose(in);
        return -1;
    }
    int r = detect_stream(in, path, mem, "stdout", cfg, &st);
    if (!std_in)
        fclose(in);
    if (fclose(mem) != 0 && r == 0) {
        write_error("stdout", path);
        r = -1;
    }
    if (r == 0 && fwrite(block, 1, len, out) != len) {
        write_error("stdout", path);
        r = -1;
    }
    free(block);
    if (r == 0)
        summary(path, &st, cfg, quiet);
    return r;
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0777) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names);

/* Sorted names in dir: its subdirectories (want_dirs) or its regular *.csv files.
 * NULL-terminated, free with free_names(); *ret_n gets the count. Hidden entries are skipped.
 * Returns NULL with errno set when dir cannot be read or memory runs out. */
static char **list_dir(const char *dir, int want_dirs, size_t *ret_n)
{
    DIR *dp = opendir(dir);
    char **names = calloc(1, sizeof(*names));
    size_t n = 0, cap = 1;
    struct dirent *de;

    if (!dp || !names)
        goto fail;
    while ((de = readdir(dp))) {
        char path[4096];
        struct stat sb;
        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
            stat(path, &sb) < 0)
            continue;
        if (want_dirs ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
            continue;
        size_t l = strlen(de->d_name);
        if (!want_dirs && (l < 5 || strcmp(de->d_name + l - 4, ".csv") != 0))
            continue;
        if (n + 1 >= cap) {
            char **nn = realloc(names, cap * 2 * sizeof(*nn));
            if (!nn)
                goto fail;
            names = nn;
            cap *= 2;
        }
        names[n] = strdup(de->d_name);
        if (!names[n])
            goto fail;
        names[++n] = NULL;
    }
    closedir(dp);
    qsort(names, n, sizeof(*names), cmp_str);
    *ret_n = n;
    return names;
fail:;
    int e = dp ? ENOMEM : errno;
    if (dp)
        closedir(dp);
    free_names(names);
    errno = e;
    return NULL;
}

static void free_names(char **names)
{
    if (!names)
        return;
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

static int detect_nab(const char *data, const char *results, const vg_detector_cfg *cfg,
                      int quiet)
{
    size_t ncat = 0, files = 0, failed = 0;
    long rows = 0, bad = 0, alarms = 0;
    char **cats = list_dir(data, 1, &ncat);

    if (!cats) {
        fprintf(stderr, "vigil detect: %s: cannot read directory: %s\n", data, strerror(errno));
        return 1;
    }
    for (size_t c = 0; c < ncat; c++) {
        char catdir[4096], outdir[4096];
        size_t nf = 0;
        if ((size_t)snprintf(catdir, sizeof(catdir), "%s/%s", data, cats[c]) >= sizeof(catdir) ||
            (size_t)snprintf(outdir, sizeof(outdir), "%s/%s", results, cats[c]) >=
                sizeof(outdir)) {
            fprintf(stderr, "vigil detect: %s/%s: path too long\n", data, cats[c]);
            failed++;
            continue;
        }
        char **names = list_dir(catdir, 0, &nf);
        if (!names) {
            fprintf(stderr, "vigil detect: %s: cannot read directory: %s\n", catdir,
                    strerror(errno));
            failed++;
            continue;
        }
        if (nf == 0) {
            free_names(names);
            continue;
        }
        int e = mkdir_p(outdir);
        if (e < 0) {
            fprintf(stderr, "vigil detect: %s: cannot create: %s\n", outdir, vg_strerror(e));
            free_names(names);
            free_names(cats);
            return 1;
        }
        for (size_t i = 0; i < nf; i++) {
            char in_path[4096], out_path[4096], tmp_path[4200];
            struct file_stats st;
            if ((size_t)snprintf(in_path, sizeof(in_path), "%s/%s", catdir, names[i]) >=
                    sizeof(in_path) ||
                (size_t)snprintf(out_path, sizeof(out_path), "%s/vigil_%s", outdir,
                                 names[i]) >= sizeof(out_path) ||
                (size_t)snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", out_path) >=
                    sizeof(tmp_path)) {
                fprintf(stderr, "vigil detect: %s/%s: path too long\n", catdir, names[i]);
                failed++;
                continue;
            }
            FILE *in = fopen(in_path, "r");
            if (!in) {
                fprintf(stderr, "vigil detect: %s: cannot open: %s\n", in_path, strerror(errno));
                failed++;
                continue;
            }
            FILE *out = fopen(tmp_path, "w");
            if (!out) {
                fprintf(stderr, "vigil detect: %s: cannot create: %s\n", tmp_path,
                        strerror(errno));
                fclose(in);
                failed++;
                continue;
            }
            int r = detect_stream(in, in_path, out, out_path, cfg, &st);
            fclose(in);
            if (fclose(out) != 0 && r == 0) {
                write_error(out_path, in_path);
                r = -1;
            }
            if (r == 0 && rename(tmp_path, out_path) < 0) {
                fprintf(stderr, "vigil detect: %s: cannot rename: %s\n", out_path,
                        strerror(errno));
                r = -1;
            }
            if (r < 0) {
                unlink(tmp_path);
                failed++;
                continue;
            }
            files++;
            rows += st.rows;
            bad += st.bad;
            alarms += st.alarms;
        }
        free_names(names);
    }
    free_names(cats);
    if (!quiet || failed)
        fprintf(stderr, "vigil detect: %zu files, %ld rows (%ld bad), %ld at or above the "
                        "threshold; %zu files failed\n",
                files, rows, bad, alarms, failed);
    if (files == 0 && failed == 0) {
        fprintf(stderr, "vigil detect: %s: no <category>/<file>.csv found\n", data);
        return 1;
    }
    return failed ? 1 : 0;
}

int vg_cmd_detect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"sensitivity", required_argument, NULL, 's'},
        {"nab-data", required_argument, NULL, 'd'},
        {"results", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *nab = NULL, *results = NULL;
    vg_detector_cfg cfg;
    int quiet = 0, c, failed = 0;

    vg_detector_cfg_default(&cfg);
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 's': {
            char *end;
            double s = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(s >= 0.0 && s <= 1.0)) {
                fprintf(stderr, "vigil detect: --sensitivity wants a number in [0,1], got '%s'\n",
                        optarg);
                return 2;
            }
            cfg.sensitivity = s;
            break;
        }
        case 'd':
            nab = optarg;
            break;
        case 'r':
            results = optarg;
            break;
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
    if (!nab != !results) {
        fprintf(stderr, "vigil detect: --nab-data and --results go together\n");
        return 2;
    }
    if (nab) {
        if (optind < argc) {
            fprintf(stderr, "vigil detect: FILE arguments and --nab-data exclude each other\n");
            return 2;
        }
        return detect_nab(nab, results, &cfg, quiet);
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    /* A write error at the final flush of stdout is main()'s to report, as for every
     * subcommand. */
    for (int i = optind; i < argc; i++)
        if (detect_path(argv[i], stdout, &cfg, quiet) < 0)
            failed = 1;
    return failed;
}
