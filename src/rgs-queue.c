/* rgs-queue: the first and the last stage of a batch.  See rgs-queue(1) and
 * rgs-records(5).
 *
 *   rgs-queue [--startup] [--reconcile R[/F]]... : spool -> event records
 *       (coalesced per (relay, resource)), reconcile records, one tick;
 *   rgs-queue --ack : the pipeline's final stream -> spool entries acked,
 *       requeued (temporary failure) or failed (permanent, or too many
 *       attempts); records pass through.
 *
 * Durable bookkeeping besides the spool itself (both JSON objects, written
 * atomically):
 *   DATA_DIR/spool/reconcile.json  {"<relay>/<folder>": <unix seconds of the
 *                                   last reconcile emitted>}
 *   DATA_DIR/spool/retry.json      {"<entry name without .aN>": {"time":
 *                                   <last temporary failure>, "why": "..."}}
 * A requeued entry waits min(2^attempts, 300) seconds before it is part of
 * a batch again (it stays in cur/ meanwhile), unless a fresh webhook for the
 * same resource arrives, which carries it along.
 */
#include "rgs_config.h"
#include "rgs_record.h"
#include "rgs_spool.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *data_dir;
static bool dry_run;
static int exit_status = RGS_EX_OK;

static double backoff_seconds(unsigned attempts)
{
    double b = ldexp(1.0, (int)(attempts > 20 ? 20 : attempts));
    return b > 300 ? 300 : b;
}

/* ---------- small JSON files under spool/ ---------- */

static json_t *load_json(const char *name)
{
    char *p = rgs_xasprintf("%s/spool/%s", data_dir, name);
    rgs_buf b = RGS_BUF_INIT;
    json_t *j = NULL;
    if (rgs_read_file(AT_FDCWD, p, &b, 16 * 1024 * 1024) == 0) {
        json_error_t err;
        j = json_loadb(b.data, b.len, 0, &err);
        if (!json_is_object(j)) {
            rgs_warn("read '%s': not a JSON object; starting afresh", p);
            json_decref(j);
            j = NULL;
        }
    } else if (errno != ENOENT) {
        rgs_warn("read '%s': %s", p, strerror(errno));
    }
    rgs_buf_free(&b);
    free(p);
    return j ? j : json_object();
}

static int save_json(const char *name, json_t *j)
{
    if (dry_run)
        return 0;
    char *dir = rgs_xasprintf("%s/spool", data_dir);
    int rc = -1;
    if (rgs_mkdirs(dir, 0700) == 0) {
        int d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        if (d >= 0 && text && rgs_write_atomic(d, name, text, strlen(text), 0600) == 0)
            rc = 0;
        if (rc < 0)
            rgs_warn("write '%s/%s': %s", dir, name, strerror(errno));
        free(text);
        if (d >= 0)
            close(d);
    } else {
        rgs_warn("create '%s': %s", dir, strerror(errno));
    }
    free(dir);
    return rc;
}

static size_t base_len(const char *name)
{
    const char *a = strstr(name, ".a");
    /* the ".aN" suffix is the only place where ".a" occurs in a name */
    return a ? (size_t)(a - name) : strlen(name);
}

/* ---------- RFC 3339 timestamps ---------- */

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)",
 * or NAN. */
static double rfc3339(const char *s)
{
    if (!s)
        return NAN;
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n < 19)
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    double t = (double)timegm(&tm);
    const char *p = s + n;
    if (*p == '.') {
        double scale = 0.1;
        p++;
        if (*p < '0' || *p > '9')
            return NAN;
        while (*p >= '0' && *p <= '9') {
            t += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &k) != 2 || k != 5)
            return NAN;
        double off = hh * 3600.0 + mm * 60.0;
        t += *p == '+' ? -off : off;
        p += 6;
    } else {
        return NAN;
    }
    return *p ? NAN : t;
}

/* ---------- producing a batch ---------- */

typedef struct {
    char relay[37], resource[37];
    json_t *timestamp; /* newest (string) or null */
    double ts;         /* its value, NAN when unknown */
    json_t *users, *event_ids, *spool;
    long count;
    bool ready;        /* carries at least one entry due now */
} coalesced;

static void add_entry(json_t *index, coalesced **cs, size_t *n, size_t *cap,
                      const rgs_spool_entry *e, bool ready)
{
    const char *relay = rgs_rec_uuid(e->record, "relay");
    const char *res = rgs_rec_uuid(e->record, "resource");
    char key[80];
    snprintf(key, sizeof key, "%s:%s", relay, res);
    json_t *ix = json_object_get(index, key);
    coalesced *c;
    if (ix) {
        c = &(*cs)[json_integer_value(ix)];
    } else {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *cs = rgs_xrealloc(*cs, *cap * sizeof **cs);
        }
        c = &(*cs)[*n];
        memset(c, 0, sizeof *c);
        memcpy(c->relay, relay, 37);
        memcpy(c->resource, res, 37);
        c->timestamp = json_null();
        c->ts = NAN;
        c->users = json_array();
        c->event_ids = json_array();
        c->spool = json_array();
        json_object_set_new(index, key, json_integer((json_int_t)*n));
        (*n)++;
    }
    c->ready |= ready;
    c->count++;
    json_array_append_new(c->spool, json_string(e->name));
    const char *ts = rgs_rec_str(e->record, "timestamp");
    if (ts) {
        double v = rfc3339(ts);
        /* newest wins; an unparsable timestamp only wins over none */
        if (json_is_null(c->timestamp) || (!isnan(v) && (isnan(c->ts) || v >= c->ts))) {
            json_decref(c->timestamp);
            c->timestamp = json_string(ts);
            c->ts = v;
        }
    }
    const char *user = rgs_rec_str(e->record, "user");
    if (user) {
        bool seen = false;
        for (size_t i = 0; i < json_array_size(c->users) && !seen; i++)
            seen = !strcmp(json_string_value(json_array_get(c->users, i)), user);
        if (!seen)
            json_array_append_new(c->users, json_string(user));
    }
    const char *eid = rgs_rec_str(e->record, "event_id");
    if (eid) {
        bool seen = false;
        for (size_t i = 0; i < json_array_size(c->event_ids) && !seen; i++)
            seen = !strcmp(json_string_value(json_array_get(c->event_ids, i)), eid);
        if (!seen)
            json_array_append_new(c->event_ids, json_string(eid));
    }
}

static bool folder_matches(const rgs_connector *k, const char *target)
{
    char relay[37], folder[37];
    size_t n = strlen(target);
    if (n == 36 && rgs_uuid_norm(target, 36, relay))
        return !strcmp(k->relay, relay);
    if (n == 73 && target[36] == '/' && rgs_uuid_norm(target, 36, relay) &&
        rgs_uuid_norm(target + 37, 36, folder))
        return !strcmp(k->relay, relay) && !strcmp(k->folder, folder);
    return false;
}

static int emit_reconcile(const rgs_connector *k, const char *reason, json_t *seen, json_t *times,
                          double now)
{
    char key[80];
    snprintf(key, sizeof key, "%s/%s", k->relay, k->folder);
    if (json_object_get(seen, key))
        return 0;
    json_object_set_new(seen, key, json_true());
    json_t *r = rgs_record_new("reconcile");
    char *ref = rgs_xasprintf("rc:%s:%s", k->relay, k->folder);
    json_object_set_new(r, "ref", json_string(ref));
    free(ref);
    json_object_set_new(r, "relay", json_string(k->relay));
    json_object_set_new(r, "folder", json_string(k->folder));
    json_object_set_new(r, "reason", json_string(reason));
    int rc = rgs_emit(stdout, r);
    json_decref(r);
    json_object_set_new(times, key, json_real(now));
    return rc;
}

typedef struct {
    bool startup, no_spool, final;
    double interval; /* <0: no periodic reconcile */
    size_t max_entries;
    const char **targets;
    size_t n_targets;
    rgs_config *cfg;
} produce_opts;

static int produce(const produce_opts *o)
{
    double now = rgs_now();
    rgs_spool_entry *es = NULL;
    size_t n = 0;
    int out = 0;
    if (!o->no_spool) {
        /* -n: what a claim would take (cur/, new/ and the batch log
         * log/current, in arrival order) without moving anything */
        int rc = dry_run ? rgs_spool_peek(data_dir, &es, &n)
                         : rgs_spool_claim(data_dir, o->max_entries, &es, &n);
        if (rc < 0) {
            rgs_error("claim spool entries in '%s/spool': %s", data_dir, strerror(errno));
            return RGS_EX_TEMP;
        }
    }
    json_t *retry = load_json("retry.json");
    json_t *index = json_object();
    coalesced *cs = NULL;
    size_t nc = 0, cap = 0;
    /* entries that wait for their retry time: coalesce them only with a
     * resource that has a due entry */
    bool *due = rgs_xcalloc(n ? n : 1, sizeof *due);
    for (size_t i = 0; i < n; i++) {
        const rgs_spool_entry *e = &es[i];
        if (!rgs_rec_uuid(e->record, "relay") || !rgs_rec_uuid(e->record, "resource")) {
            rgs_warn("spool entry '%s': no valid relay/resource ids", e->name);
            if (!dry_run)
                rgs_spool_fail(data_dir, e->name, "webhook record without valid relay/resource ids");
            continue;
        }
        due[i] = true;
        if (e->attempts > 0) {
            char *b = rgs_xstrndup(e->name, base_len(e->name));
            json_t *r = json_object_get(retry, b);
            free(b);
            double last = json_number_value(json_object_get(r, "time"));
            if (r && now < last + backoff_seconds(e->attempts))
                due[i] = false;
        }
    }
    /* resources with a due entry; then every entry in arrival order that
     * is due or whose resource has one */
    json_t *has_due = json_object();
    for (size_t i = 0; i < n; i++)
        if (due[i]) {
            char key[80];
            snprintf(key, sizeof key, "%s:%s", rgs_rec_uuid(es[i].record, "relay"),
                     rgs_rec_uuid(es[i].record, "resource"));
            json_object_set_new(has_due, key, json_true());
        }
    for (size_t i = 0; i < n; i++) {
        const char *relay = rgs_rec_uuid(es[i].record, "relay");
        const char *res = rgs_rec_uuid(es[i].record, "resource");
        if (!relay || !res)
            continue;
        char key[80];
        snprintf(key, sizeof key, "%s:%s", relay, res);
        if (due[i] || json_object_get(has_due, key))
            add_entry(index, &cs, &nc, &cap, &es[i], due[i]);
        else
            rgs_debug("spool entry '%s': retry not due yet", es[i].name);
    }
    json_decref(has_due);
    for (size_t i = 0; i < nc && out == 0; i++) {
        coalesced *c = &cs[i];
        json_t *r = rgs_record_new("event");
        char *ref = rgs_xasprintf("ev:%s:%s", c->relay, c->resource);
        json_object_set_new(r, "ref", json_string(ref));
        free(ref);
        json_object_set_new(r, "relay", json_string(c->relay));
        json_object_set_new(r, "resource", json_string(c->resource));
        json_object_set(r, "timestamp", c->timestamp);
        json_object_set(r, "users", c->users);
        json_object_set(r, "event_ids", c->event_ids);
        json_object_set_new(r, "count", json_integer(c->count));
        json_object_set(r, "spool", c->spool);
        out = rgs_emit(stdout, r);
        json_decref(r);
    }
    for (size_t i = 0; i < nc; i++) {
        json_decref(cs[i].timestamp);
        json_decref(cs[i].users);
        json_decref(cs[i].event_ids);
        json_decref(cs[i].spool);
    }
    free(cs);
    free(due);
    json_decref(index);
    json_decref(retry);
    rgs_spool_entries_free(es, n);

    /* reconciles */
    json_t *times = load_json("reconcile.json");
    json_t *seen = json_object();
    bool times_changed = false;
    const rgs_config *cfg = o->cfg;
    for (size_t t = 0; t < o->n_targets && out == 0; t++) {
        bool any = false;
        for (size_t i = 0; i < cfg->n_connectors && out == 0; i++)
            if (folder_matches(&cfg->connectors[i], o->targets[t])) {
                any = true;
                out = emit_reconcile(&cfg->connectors[i], "manual", seen, times, now);
                times_changed = true;
            }
        if (!any)
            rgs_warn("reconcile '%s': no configured folder matches", o->targets[t]);
    }
    for (size_t i = 0; i < cfg->n_connectors && out == 0; i++) {
        const rgs_connector *k = &cfg->connectors[i];
        if (o->startup) {
            out = emit_reconcile(k, "startup", seen, times, now);
            times_changed = true;
            continue;
        }
        if (o->no_spool || o->interval < 0)
            continue;
        char key[80];
        snprintf(key, sizeof key, "%s/%s", k->relay, k->folder);
        json_t *last = json_object_get(times, key);
        if (!json_is_number(last) || now - json_number_value(last) >= o->interval ||
            json_number_value(last) > now + 60 /* clock went back */) {
            out = emit_reconcile(k, "interval", seen, times, now);
            times_changed = true;
        }
    }
    json_decref(seen);
    if (times_changed && out == 0)
        save_json("reconcile.json", times);
    json_decref(times);

    if (out == 0) {
        json_t *tick = rgs_record_new("tick");
        json_object_set_new(tick, "time", json_real(rgs_now()));
        json_object_set_new(tick, "final", json_boolean(o->final));
        out = rgs_emit(stdout, tick);
        json_decref(tick);
    }
    return out < 0 ? RGS_EX_TEMP : RGS_EX_OK;
}

/* ---------- the end of a batch ---------- */

static int ack(unsigned max_attempts)
{
    json_t *events = json_object(); /* ref -> spool array */
    json_t *temp = json_object();   /* ref -> first temporary reason */
    json_t *perm = json_object();   /* ref -> first permanent reason */
    rgs_reader *r = rgs_reader_new(stdin, "stdin", 0);
    json_t *rec;
    const char *type;
    int rc, out = 0;
    while ((rc = rgs_reader_next(r, &rec, &type)) != 0) {
        if (rc < 0) {
            if (rgs_reader_bad_v(r)) {
                rgs_reader_free(r);
                json_decref(events);
                json_decref(temp);
                json_decref(perm);
                return RGS_EX_PERM;
            }
            continue;
        }
        const char *ref = rgs_rec_str(rec, "ref");
        if (!strcmp(type, "event") && ref) {
            json_t *sp = json_object_get(rec, "spool");
            json_t *have = json_object_get(events, ref);
            if (!have) {
                have = json_array();
                json_object_set_new(events, ref, have);
            }
            for (size_t i = 0; json_is_array(sp) && i < json_array_size(sp); i++)
                if (json_is_string(json_array_get(sp, i)))
                    json_array_append(have, json_array_get(sp, i));
        } else if (!strcmp(type, "failed")) {
            const char *why = rgs_rec_str(rec, "reason");
            const char *stage = rgs_rec_str(rec, "stage");
            char *text = rgs_xasprintf("%s: %s", stage ? stage : "?", why ? why : "failed");
            if (!ref) {
                rgs_debug("failed record without ref (%s): no spool entry to act on", text);
            } else {
                json_t *into = rgs_rec_bool(rec, "temporary", true) ? temp : perm;
                if (!json_object_get(into, ref))
                    json_object_set_new(into, ref, json_string(text));
            }
            free(text);
        }
        if (out == 0 && rgs_emit(stdout, rec) < 0)
            out = -1;
        json_decref(rec);
    }
    rgs_reader_free(r);

    json_t *retry = load_json("retry.json");
    bool retry_changed = false;
    double now = rgs_now();
    const char *ref;
    json_t *names;
    json_object_foreach(events, ref, names)
    {
        const char *t = json_string_value(json_object_get(temp, ref));
        const char *p = json_string_value(json_object_get(perm, ref));
        for (size_t i = 0; i < json_array_size(names); i++) {
            const char *name = json_string_value(json_array_get(names, i));
            unsigned attempts = 0;
            if (!rgs_spool_name_valid(name, &attempts)) {
                rgs_warn("event '%s': '%s' is not a spool entry name", ref, name);
                continue;
            }
            char *base = rgs_xstrndup(name, base_len(name));
            int res = 0;
            if (t && attempts + 1 >= max_attempts) {
                char *why = rgs_xasprintf("gave up after %u attempts: %s", attempts + 1, t);
                rgs_warn("spool entry '%s': %s", name, why);
                res = dry_run ? 0 : rgs_spool_fail(data_dir, name, why);
                free(why);
                json_object_del(retry, base);
                retry_changed = true;
            } else if (t) {
                rgs_info("spool entry '%s' requeued (attempt %u): %s", name, attempts + 1, t);
                res = dry_run ? 0 : rgs_spool_requeue(data_dir, name, t);
                json_object_set_new(retry, base, json_pack("{sfss}", "time", now, "why", t));
                retry_changed = true;
            } else if (p) {
                rgs_warn("spool entry '%s' failed permanently: %s", name, p);
                res = dry_run ? 0 : rgs_spool_fail(data_dir, name, p);
                if (json_object_get(retry, base))
                    json_object_del(retry, base), retry_changed = true;
            } else {
                rgs_debug("spool entry '%s' done", name);
                res = dry_run ? 0 : rgs_spool_ack(data_dir, name);
                if (json_object_get(retry, base))
                    json_object_del(retry, base), retry_changed = true;
            }
            if (res < 0 && errno != ENOENT) {
                rgs_error("spool entry '%s': %s", name, strerror(errno));
                exit_status = RGS_EX_TEMP;
            }
            free(base);
        }
    }
    if (retry_changed)
        save_json("retry.json", retry);
    json_decref(retry);
    json_decref(events);
    json_decref(temp);
    json_decref(perm);
    if (out < 0)
        return RGS_EX_TEMP;
    return exit_status;
}

static void usage(FILE *f)
{
    fputs("Usage: rgs-queue [-d DATA_DIR] [--git-config-file FILE] [-n] [-v|-q]\n"
          "                 [--startup] [--reconcile RELAY[/FOLDER]]... [--reconcile-interval SECS]\n"
          "                 [--no-spool] [--final] [--max-entries N]\n"
          "       rgs-queue --ack [-d DATA_DIR] [--max-attempts N] [-n] [-v|-q]\n"
          "\n"
          "First form: drain the spool into event records (one per relay and resource,\n"
          "coalesced), emit reconcile records (all configured folders with --startup,\n"
          "those due by --reconcile-interval, those named by --reconcile), then one tick.\n"
          "Second form (--ack, the last stage of a batch): pass the final stream through\n"
          "and acknowledge, requeue or fail the spool entries of each event.\n"
          "\n"
          "  -d, --data-dir DIR          data directory [RELAY_GIT_DATA_DIR] (.)\n"
          "      --git-config-file F     connectors (DATA_DIR/git_connectors.toml)\n"
          "      --startup               reconcile every configured folder\n"
          "      --reconcile R[/F]       reconcile relay R (all its folders) or folder F\n"
          "      --reconcile-interval S  reconcile each folder every S seconds (900; 0: each batch)\n"
          "      --no-spool              leave the spool alone; no periodic reconciles\n"
          "      --final                 the tick says final (commit everything now)\n"
          "      --max-entries N         claim at most N spool entries (100000)\n"
          "      --ack                   end-of-batch mode\n"
          "      --max-attempts N        --ack: temporary failures before an entry goes\n"
          "                              to spool/failed/ (10)\n"
          "  -n, --dry-run               move nothing, write nothing\n"
          "  -v, --verbose / -q, --quiet\n"
          "  -h, --help\n"
          "\n"
          "Exit status: 0 ok, 100 bad usage or configuration, 111 spool or output\n"
          "I/O error, 101 internal error.  See rgs-queue(1).\n",
          f);
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    const char *dopt = NULL, *copt = getenv("RGS_GIT_CONFIG_FILE");
    produce_opts o = {.interval = 900, .max_entries = 100000};
    bool do_ack = false;
    unsigned max_attempts = 10;
    o.targets = rgs_xcalloc((size_t)argc, sizeof *o.targets);
    static const struct option lo[] = {{"data-dir", required_argument, 0, 'd'},
                                       {"git-config-file", required_argument, 0, 'c'},
                                       {"startup", no_argument, 0, 'S'},
                                       {"reconcile", required_argument, 0, 'R'},
                                       {"reconcile-interval", required_argument, 0, 'I'},
                                       {"no-spool", no_argument, 0, 'N'},
                                       {"final", no_argument, 0, 'F'},
                                       {"max-entries", required_argument, 0, 'E'},
                                       {"ack", no_argument, 0, 'A'},
                                       {"max-attempts", required_argument, 0, 'T'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {"version", no_argument, 0, 'V'},
                                       {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "d:nvqh", lo, NULL)) != -1) {
        switch (c) {
        case 'd': dopt = optarg; break;
        case 'c': copt = optarg; break;
        case 'S': o.startup = true; break;
        case 'R': {
            char a[37], b[37];
            size_t n = strlen(optarg);
            if (!((n == 36 && rgs_uuid_norm(optarg, 36, a)) ||
                  (n == 73 && optarg[36] == '/' && rgs_uuid_norm(optarg, 36, a) &&
                   rgs_uuid_norm(optarg + 37, 36, b)))) {
                rgs_error("bad --reconcile '%s': want RELAY_ID or RELAY_ID/FOLDER_ID (UUIDs)", optarg);
                free(o.targets);
                return RGS_EX_PERM;
            }
            o.targets[o.n_targets++] = optarg;
            break;
        }
        case 'I':
            if (!rgs_parse_seconds(optarg, &o.interval)) {
                rgs_error("bad --reconcile-interval '%s': want seconds", optarg);
                free(o.targets);
                return RGS_EX_PERM;
            }
            break;
        case 'N': o.no_spool = true; break;
        case 'F': o.final = true; break;
        case 'E':
            errno = 0;
            o.max_entries = strtoul(optarg, &end, 10);
            if (errno || *end || !*optarg) {
                rgs_error("bad --max-entries '%s'", optarg);
                free(o.targets);
                return RGS_EX_PERM;
            }
            break;
        case 'A': do_ack = true; break;
        case 'T': {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 1000000) {
                rgs_error("bad --max-attempts '%s': want 1..1000000", optarg);
                free(o.targets);
                return RGS_EX_PERM;
            }
            max_attempts = (unsigned)v;
            break;
        }
        case 'n': dry_run = true; break;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 'h': usage(stdout); free(o.targets); return 0;
        case 'V': puts("rgs-queue " RGS_VERSION); free(o.targets); return 0;
        default: usage(stderr); free(o.targets); return RGS_EX_PERM;
        }
    }
    if (optind < argc) {
        rgs_error("unexpected argument '%s' (see --help)", argv[optind]);
        free(o.targets);
        return RGS_EX_PERM;
    }
    data_dir = rgs_data_dir(dopt);
    int rc;
    if (do_ack) {
        rc = ack(max_attempts);
    } else {
        char *cpath = rgs_config_path(copt, data_dir);
        if (rgs_config_load(cpath, &o.cfg) < 0) {
            rgs_error("configuration '%s' is not valid", cpath);
            free(cpath);
            free(o.targets);
            return RGS_EX_PERM;
        }
        free(cpath);
        rc = produce(&o);
        rgs_config_free(o.cfg);
    }
    free(o.targets);
    return rc;
}
