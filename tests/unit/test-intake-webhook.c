/* Unit tests for rgs_webhook (lib/rgs_webhook.h).  TAP output.
 * Independent truths: the Svix / Standard Webhooks published test vector
 * (secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id
 * msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body
 * {"test": 2432232314} -> v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=),
 * the original service's error texts (relay.md §5.2), rgs-records(5) for
 * the record shape.  End-to-end signatures from the npm svix package are
 * checked in tests/intake/test-svix.sh. */
#include "rgs_util.h"
#include "rgs_webhook.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"


/* a tiny header table */
typedef struct {
    const char *name[8];
    const char *value[8];
    int n;
} hdrs;

static const char *get(void *ctx, const char *name, unsigned *count)
{
    hdrs *h = ctx;
    const char *v = NULL;
    unsigned k = 0;
    for (int i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0) {
            if (!v)
                v = h->value[i];
            k++;
        }
    if (count)
        *count = k;
    return v;
}

static void add(hdrs *h, const char *n, const char *v)
{
    h->name[h->n] = n;
    h->value[h->n] = v;
    h->n++;
}

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSGID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS "1614265330"
#define BODY "{\"test\": 2432232314}"
#define SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static bool svix_try(const char *sig, const char *ts, double now, rgs_webhook_auth *a)
{
    hdrs h = {0};
    add(&h, "svix-id", MSGID);
    add(&h, "svix-timestamp", ts);
    add(&h, "svix-signature", sig);
    return rgs_webhook_authenticate(SECRET, get, &h, BODY, strlen(BODY), now, 300, a);
}

static void test_modes(void)
{
    ok(rgs_webhook_auth_mode(NULL) == RGS_AUTH_NONE && rgs_webhook_auth_mode("") == RGS_AUTH_NONE,
       "empty secret: mode none");
    ok(rgs_webhook_auth_mode("whsec_abc") == RGS_AUTH_SVIX, "whsec_: svix");
    ok(rgs_webhook_auth_mode("sk_abc") == RGS_AUTH_JWT, "sk_: jwt");
    ok(rgs_webhook_auth_mode("hunter2") == RGS_AUTH_BEARER, "other: bearer");
    rgs_webhook_auth a;
    hdrs h = {0};
    add(&h, "Authorization", "Bearer ");
    ok(!rgs_webhook_authenticate("", get, &h, "", 0, 0, 300, &a) &&
           !strcmp(a.error, "Authentication required"),
       "mode none refuses everything: 'Authentication required'");
    ok(!rgs_webhook_authenticate("sk_x", get, &h, "", 0, 0, 300, &a) &&
           !strncmp(a.error, "Authentication failed: ", 23),
       "jwt mode refuses");
}

static void test_bearer(void)
{
    rgs_webhook_auth a;
    hdrs h = {0};
    ok(!rgs_webhook_authenticate("s3cret", get, &h, "", 0, 0, 300, &a) &&
           !strcmp(a.error, "Authentication required"),
       "bearer: missing header");
    add(&h, "authorization", "Bearer s3cret");
    ok(rgs_webhook_authenticate("s3cret", get, &h, "", 0, 0, 300, &a) && a.ok &&
           !strcmp(a.method, "bearer"),
       "bearer: right secret");
    hdrs w = {0};
    add(&w, "Authorization", "Bearer s3creT");
    ok(!rgs_webhook_authenticate("s3cret", get, &w, "", 0, 0, 300, &a) &&
           !strcmp(a.error, "Authentication failed: Invalid shared secret"),
       "bearer: wrong secret");
    hdrs l = {0};
    add(&l, "Authorization", "bearer s3cret");
    ok(!rgs_webhook_authenticate("s3cret", get, &l, "", 0, 0, 300, &a), "bearer: 'bearer' lower case refused");
    hdrs s = {0};
    add(&s, "Authorization", "Bearer  s3cret");
    ok(!rgs_webhook_authenticate("s3cret", get, &s, "", 0, 0, 300, &a), "bearer: two spaces refused");
    hdrs p = {0};
    add(&p, "Authorization", "Bearer s3cre");
    ok(!rgs_webhook_authenticate("s3cret", get, &p, "", 0, 0, 300, &a), "bearer: prefix of the secret refused");
    hdrs d = {0};
    add(&d, "Authorization", "Bearer s3cret");
    add(&d, "Authorization", "Bearer other");
    ok(!rgs_webhook_authenticate("s3cret", get, &d, "", 0, 0, 300, &a), "bearer: two Authorization fields refused");
    ok(strstr(a.error, "s3cret") == NULL, "error text never holds the secret");
}

static void test_svix(void)
{
    rgs_webhook_auth a;
    double now = 1614265330 + 10;
    ok(svix_try(SIG, TS, now, &a) && !strcmp(a.method, "svix") && !strcmp(a.msg_id, MSGID) &&
           a.timestamp == 1614265330,
       "svix: published test vector verifies");
    ok(svix_try("v1,bm9wZQ== " SIG, TS, now, &a), "svix: any of several signatures");
    ok(svix_try("v2,abc v1a,xyz " SIG, TS, now, &a), "svix: other versions ignored");
    ok(!svix_try("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", TS, now, &a) &&
           !strcmp(a.error, "Authentication failed: Signature validation failed: No matching signature found"),
       "svix: right signature under another version refused");
    ok(!svix_try("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ2OE=", TS, now, &a),
       "svix: one changed character refused");
    ok(!svix_try(SIG, TS, 1614265330 + 301, &a) &&
           !strcmp(a.error, "Authentication failed: Signature validation failed: Message timestamp too old"),
       "svix: 301 s old refused");
    ok(svix_try(SIG, TS, 1614265330 + 299, &a), "svix: 299 s old accepted");
    ok(!svix_try(SIG, TS, 1614265330 - 301, &a) &&
           !strcmp(a.error, "Authentication failed: Signature validation failed: Message timestamp too new"),
       "svix: 301 s in the future refused");
    ok(!svix_try(SIG, "16142653x0", now, &a) &&
           !strcmp(a.error, "Authentication failed: Signature validation failed: Invalid Signature Headers"),
       "svix: bad timestamp refused");
    ok(!svix_try(SIG, "inf", now, &a), "svix: infinite timestamp refused");
    ok(svix_try(SIG, "1614265330.9", now, &a) && a.timestamp == 1614265330,
       "svix: fractional timestamp floors (as the svix library)");

    /* webhook-* names, and the fallback only when a svix-* one is missing */
    hdrs h = {0};
    add(&h, "webhook-id", MSGID);
    add(&h, "webhook-timestamp", TS);
    add(&h, "webhook-signature", SIG);
    ok(rgs_webhook_authenticate(SECRET, get, &h, BODY, strlen(BODY), now, 300, &a),
       "svix: webhook-* headers");
    add(&h, "svix-id", "msg_other");
    ok(rgs_webhook_authenticate(SECRET, get, &h, BODY, strlen(BODY), now, 300, &a) &&
           !strcmp(a.msg_id, MSGID),
       "svix: incomplete svix-* set falls back to webhook-*");
    hdrs m = {0};
    add(&m, "svix-id", MSGID);
    add(&m, "svix-signature", SIG);
    ok(!rgs_webhook_authenticate(SECRET, get, &m, BODY, strlen(BODY), now, 300, &a) &&
           !strcmp(a.error, "Authentication required"),
       "svix: missing timestamp -> Authentication required");
    ok(!rgs_webhook_authenticate(SECRET, get, &h, BODY "x", strlen(BODY) + 1, now, 300, &a),
       "svix: changed body refused");
    ok(!rgs_webhook_authenticate("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", get, &h, BODY,
                                 strlen(BODY), now, 300, &a),
       "svix: wrong secret refused");
    ok(!rgs_webhook_authenticate("whsec_!!!", get, &h, BODY, strlen(BODY), now, 300, &a),
       "svix: secret that is not base64 refuses, no crash");
    hdrs d = {0};
    add(&d, "svix-id", MSGID);
    add(&d, "svix-timestamp", TS);
    add(&d, "svix-signature", SIG);
    add(&d, "svix-signature", SIG);
    ok(!rgs_webhook_authenticate(SECRET, get, &d, BODY, strlen(BODY), now, 300, &a),
       "svix: repeated signature field refused");
}

#define DOC "0F8C1A2B-3C4D-4E5F-8A9B-0C1D2E3F4A5B-11111111-2222-3333-4444-555555555555"

static enum rgs_envelope_result env(const char *body, json_t **rec)
{
    char why[300];
    return rgs_webhook_envelope(body, strlen(body), "bearer", 1772575128.5, rec, why, sizeof why);
}

static void test_envelope(void)
{
    json_t *rec = NULL;
    const char *full = "{\"eventType\":\"document.updated\",\"eventId\":\"evt_abc\",\"payload\":"
                       "{\"doc_id\":\"" DOC "\",\"metadata\":{\"channel\":\"x\"},"
                       "\"timestamp\":\"2026-03-03T21:58:48.123456789+00:00\",\"user\":null,"
                       "\"extra\":1},\"other\":2}";
    ok(env(full, &rec) == RGS_ENVELOPE_OK, "full envelope accepted");
    char *s = rec ? json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    ok(s && !strcmp(s, "{\"v\":1,\"type\":\"webhook\",\"relay\":\"0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
                       "\"resource\":\"11111111-2222-3333-4444-555555555555\",\"doc_id\":\"" DOC "\","
                       "\"event_type\":\"document.updated\",\"event_id\":\"evt_abc\","
                       "\"timestamp\":\"2026-03-03T21:58:48.123456789+00:00\",\"user\":null,"
                       "\"metadata\":{\"channel\":\"x\"},\"received\":1772575128.5,\"auth\":\"bearer\"}"),
       "record as rgs-records(5) says, ids lower-cased, doc_id as sent");
    free(s);
    json_decref(rec);

    ok(env("{\"payload\":{\"doc_id\":\"" DOC "\"}}", &rec) == RGS_ENVELOPE_OK &&
           !json_object_get(rec, "timestamp") && !json_object_get(rec, "user") &&
           !json_object_get(rec, "event_id"),
       "minimal envelope (no timestamp) accepted, absent fields absent");
    json_decref(rec);
    ok(env("{\"payload\":{\"doc_id\":\"0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-aaaaaaaa-bbbb-cccc-dddd-"
           "eeeeeeeeeeee-11111111-2222-3333-4444-555555555555\"}}",
           &rec) == RGS_ENVELOPE_OK &&
           !strcmp(json_string_value(json_object_get(rec, "resource")),
                   "11111111-2222-3333-4444-555555555555"),
       "3-UUID form: resource is the last UUID");
    json_decref(rec);
    ok(env("{\"payload\":{\"doc_id\":\"" DOC "\",\"user\":5,\"metadata\":[]}}", &rec) ==
               RGS_ENVELOPE_OK &&
           !json_object_get(rec, "user") && !json_object_get(rec, "metadata"),
       "wrongly typed optional fields are dropped, not fatal");
    json_decref(rec);

    struct { const char *body; enum rgs_envelope_result want; const char *name; } bad[] = {
        {"", RGS_ENVELOPE_BAD_JSON, "empty body"},
        {"{", RGS_ENVELOPE_BAD_JSON, "truncated JSON"},
        {"{\"payload\":{\"doc_id\":\"" DOC "\"}} x", RGS_ENVELOPE_BAD_JSON, "trailing garbage"},
        {"{\"a\":1,\"a\":2,\"payload\":{\"doc_id\":\"" DOC "\"}}", RGS_ENVELOPE_BAD_JSON, "duplicate keys"},
        {"{\"payload\":{\"doc_id\":\"\xff\"}}", RGS_ENVELOPE_BAD_JSON, "invalid UTF-8"},
        {"[]", RGS_ENVELOPE_BAD_PAYLOAD, "array body"},
        {"{}", RGS_ENVELOPE_BAD_PAYLOAD, "no payload"},
        {"{\"payload\":[]}", RGS_ENVELOPE_BAD_PAYLOAD, "payload not an object"},
        {"{\"payload\":{}}", RGS_ENVELOPE_BAD_PAYLOAD, "no doc_id"},
        {"{\"payload\":{\"doc_id\":7}}", RGS_ENVELOPE_BAD_PAYLOAD, "doc_id a number"},
        {"{\"payload\":{\"doc_id\":\"0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\"}}", RGS_ENVELOPE_BAD_PAYLOAD, "one UUID"},
        {"{\"payload\":{\"doc_id\":\"../../../../../etc/passwd-11111111-2222-3333-4444-555555555555\"}}",
         RGS_ENVELOPE_BAD_PAYLOAD, "path traversal in the relay id"},
        {"{\"payload\":{\"doc_id\":\"0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-../../../../../../../../tmp/x\"}}",
         RGS_ENVELOPE_BAD_PAYLOAD, "path traversal in the resource id"},
        {"{\"payload\":{\"doc_id\":\"0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-11111111-2222-3333-4444-55555555555\\u0000\"}}",
         RGS_ENVELOPE_BAD_PAYLOAD, "NUL inside doc_id"},
        {"{\"payload\":{\"doc_id\":\"0g8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-11111111-2222-3333-4444-555555555555\"}}",
         RGS_ENVELOPE_BAD_PAYLOAD, "non-hex digit"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rec = (json_t *)1;
        enum rgs_envelope_result r = env(bad[i].body, &rec);
        char name[120];
        snprintf(name, sizeof name, "refused: %s", bad[i].name);
        ok(r == bad[i].want && rec == NULL, name);
    }
    /* nesting: 64 levels fine, 65 refused before jansson sees it */
    rgs_buf b = RGS_BUF_INIT;
    rgs_buf_puts(&b, "{\"payload\":{\"doc_id\":\"" DOC "\",\"metadata\":{\"x\":");
    for (int i = 0; i < 61; i++)
        rgs_buf_putc(&b, '[');
    for (int i = 0; i < 61; i++)
        rgs_buf_putc(&b, ']');
    rgs_buf_puts(&b, "}}}");
    ok(env(b.data, &rec) == RGS_ENVELOPE_OK, "nesting depth 64 accepted");
    json_decref(rec);
    rgs_buf_reset(&b);
    rgs_buf_puts(&b, "{\"payload\":{\"doc_id\":\"" DOC "\",\"metadata\":{\"x\":");
    for (int i = 0; i < 62; i++)
        rgs_buf_putc(&b, '[');
    for (int i = 0; i < 62; i++)
        rgs_buf_putc(&b, ']');
    rgs_buf_puts(&b, "}}}");
    ok(env(b.data, &rec) == RGS_ENVELOPE_BAD_JSON, "nesting depth 65 refused");
    rgs_buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        rgs_buf_putc(&b, '[');
    ok(env(b.data, &rec) == RGS_ENVELOPE_BAD_JSON, "100000 open brackets refused, no crash");
    rgs_buf_reset(&b);
    rgs_buf_puts(&b, "{\"payload\":{\"doc_id\":\"" DOC "\",\"metadata\":{\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[\"}}}");
    ok(env(b.data, &rec) == RGS_ENVELOPE_OK, "brackets inside strings do not count as nesting");
    json_decref(rec);
    rgs_buf_free(&b);
}

/* claim; a new id is committed at once (stored) */
static int claim_store(const char *dir, const char *id, long long ts, double now)
{
    rgs_replay_ticket t;
    int rc = rgs_replay_claim(dir, id, ts, now, 300, 5, &t);
    if (rc == 0 && rgs_replay_commit(&t) < 0)
        return -2;
    return rc;
}

/* run claim(id) in a child; it reports on `note` after claiming, waits
 * for a byte on `gate`, then commits ('c'), releases ('r') or exits
 * holding the ticket ('x'); exit status = claim result */
static pid_t holder(const char *dir, const char *id, int note, int gate)
{
    pid_t p = fork();
    if (p != 0)
        return p;
    rgs_replay_ticket t;
    int rc = rgs_replay_claim(dir, id, 1772575100, 1772575128, 300, 5, &t);
    char c = (char)('0' + rc);
    if (write(note, &c, 1) != 1 || read(gate, &c, 1) != 1)
        _exit(99);
    if (rc == 0 && c == 'c')
        rgs_replay_commit(&t);
    else if (rc == 0 && c == 'r')
        rgs_replay_release(&t);
    _exit(rc); /* 'x': the ticket's lock goes with the process */
}

/* claim(id) in a child, waiting up to `wait`; a new id is committed;
 * exit status = claim result */
static pid_t claimer(const char *dir, const char *id, double wait)
{
    pid_t p = fork();
    if (p != 0)
        return p;
    rgs_replay_ticket t;
    int rc = rgs_replay_claim(dir, id, 1772575100, 1772575129, 300, wait, &t);
    if (rc == 0)
        rgs_replay_commit(&t);
    _exit(rc < 0 ? 100 : rc);
}

static int exit_of(pid_t p)
{
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* true when child `p` is still running after ~1 s */
static bool still_running(pid_t p)
{
    for (int i = 0; i < 50; i++) {
        if (waitpid(p, NULL, WNOHANG) != 0)
            return false;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

static void test_replay(const char *dir)
{
    double now = 1772575128;
    ok(claim_store(dir, "msg_1", 1772575100, now) == 0, "replay: first sighting: new");
    ok(claim_store(dir, "msg_1", 1772575100, now + 1) == 1, "replay: the same id again: stored before");
    ok(claim_store(dir, "msg_1", 1772575250, now + 2) == 1,
       "replay: same id with another timestamp: stored before too");
    rgs_replay_ticket t;
    ok(rgs_replay_claim(dir, "msg_2", 1772575100, now, 300, 5, &t) == 0 && t.fd >= 0,
       "replay: another id: new, with a ticket");
    ok(rgs_replay_release(&t) == 0 && t.fd == -1 && claim_store(dir, "msg_2", 1772575100, now) == 0,
       "replay: a released id is new again");
    ok(rgs_replay_commit(&t) == 0 && rgs_replay_release(&t) == 0, "replay: ending no ticket is harmless");
    char *m = rgs_xasprintf("%s/spool/seen/%lld.tab", dir, 1772575100LL / 60);
    struct stat st;
    ok(stat(m, &st) == 0 && S_ISREG(st.st_mode), "replay: a table per minute, spool/seen/<minute>.tab");

    /* a resend while the first copy is being stored (Standard Webhooks:
     * duplicates get 2xx, but only once the first copy is durable) */
    int note[2], gate[2];
    if (pipe(note) < 0 || pipe(gate) < 0) {
        ok(0, "replay: pipes");
        return;
    }
    char c;
    pid_t h = holder(dir, "msg_p", note[1], gate[0]);
    ok(read(note[0], &c, 1) == 1 && c == '0', "pending: the first copy claimed the id (storing it)");
    ok(rgs_replay_claim(dir, "msg_p", 1772575100, now + 1, 300, 0.3, &t) == 2,
       "pending: a resend that cannot wait longer: busy (2), not 'stored'");
    pid_t w = claimer(dir, "msg_p", 30);
    ok(still_running(w), "pending: a resend is not answered while the first copy is not durable");
    c = 'c';
    ok(write(gate[1], &c, 1) == 1 && exit_of(h) == 0, "pending: the first copy is stored, committed");
    ok(exit_of(w) == 1, "pending: then the waiting resend learns it was stored (1)");

    h = holder(dir, "msg_r", note[1], gate[0]);
    ok(read(note[0], &c, 1) == 1 && c == '0', "release: the first copy claimed the id");
    w = claimer(dir, "msg_r", 30);
    ok(still_running(w), "release: the resend waits");
    c = 'r';
    ok(write(gate[1], &c, 1) == 1 && exit_of(h) == 0, "release: storing the first copy failed, released");
    ok(exit_of(w) == 0, "release: the waiting resend gets the id and stores it itself (0)");
    ok(claim_store(dir, "msg_r", 1772575100, now + 2) == 1, "release: its copy counts as stored");

    h = holder(dir, "msg_x", note[1], gate[0]);
    ok(read(note[0], &c, 1) == 1 && c == '0', "abandoned: the first copy claimed the id");
    c = 'x';
    ok(write(gate[1], &c, 1) == 1 && exit_of(h) == 0, "abandoned: its process died holding it");
    ok(claim_store(dir, "msg_x", 1772575100, now + 3) == 0,
       "abandoned: the next copy takes the id over (0), it does not get a 200 for nothing");
    ok(claim_store(dir, "msg_x", 1772575100, now + 4) == 1, "abandoned: then it counts as stored");
    close(note[0]);
    close(note[1]);
    close(gate[0]);
    close(gate[1]);

    /* 20 minutes later the old minutes are expired, then pruned */
    ok(claim_store(dir, "msg_3", 1772575128 + 1200, now + 1200) == 0 && stat(m, &st) == 0,
       "replay: claiming does not prune");
    rgs_replay_prune(dir, now + 1200, 300);
    ok(stat(m, &st) < 0, "replay: prune removes expired minutes");
    char *cur = rgs_xasprintf("%s/spool/seen/%lld.tab", dir, (1772575128LL + 1200) / 60);
    ok(stat(cur, &st) == 0, "replay: prune keeps live minutes");
    free(cur);
    ok(claim_store(dir, "msg_1", 1772575128 + 1200, now + 1201) == 0,
       "replay: id new again once its window has passed");
    free(m);
    /* many ids in one minute: all recorded, all found again */
    bool first = true, again = true;
    for (int i = 0; i < 20000; i++) {
        char id[40];
        snprintf(id, sizeof id, "msg_many_%d", i);
        first = first && claim_store(dir, id, 1772575500, 1772575500) == 0;
    }
    for (int i = 0; i < 20000; i++) {
        char id[40];
        snprintf(id, sizeof id, "msg_many_%d", i);
        again = again && claim_store(dir, id, 1772575510, 1772575510) == 1;
    }
    ok(first, "replay: 20000 distinct ids new");
    ok(again, "replay: all 20000 found stored the second time (from another minute too)");
    ok(rgs_replay_claim("/proc/version", "msg_x", 1772575100, now, 300, 1, &t) == -1 && t.fd == -1,
       "replay: error when the table cannot be created");
}

int main(int argc, char **argv)
{
    (void)argc;
    rgs_set_progname(argv[0]);
    const char *tmp = getenv("RGS_TMP");
    char root[4096];
    snprintf(root, sizeof root, "%s/test-intake-webhook.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_modes();
    test_bearer();
    test_svix();
    test_envelope();
    test_replay(root);
    printf("1..%d\n", n_test);
    char *cmd = rgs_xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    free(cmd);
    return n_fail ? 1 : 0;
}
