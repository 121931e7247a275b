/* Unit tests for rgs_util, rgs_record and rgs_crypto.  TAP output.
 * Independent truths: RFC 4231 HMAC vectors, FIPS 180-4 SHA-256 vectors,
 * RFC 4648 base64 vectors, `git hash-object` for blob ids. */
#include "rgs_crypto.h"
#include "rgs_record.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"


static void test_uuid(void)
{
    char r[37], x[37];
    ok(rgs_uuid_valid("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"), "uuid valid");
    ok(!rgs_uuid_valid("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5"), "uuid short");
    ok(!rgs_uuid_valid("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5bb"), "uuid long");
    ok(!rgs_uuid_valid("0f8c1a2b+3c4d-4e5f-8a9b-0c1d2e3f4a5b"), "uuid bad dash");
    ok(!rgs_uuid_valid("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5g"), "uuid bad hex");
    ok(rgs_docid_split("0F8C1A2B-3C4D-4E5F-8A9B-0C1D2E3F4A5B-11111111-2222-3333-4444-555555555555",
                       r, x) &&
           !strcmp(r, "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b") &&
           !strcmp(x, "11111111-2222-3333-4444-555555555555"),
       "docid 2-uuid lower-cased");
    ok(rgs_docid_split("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-"
                       "11111111-2222-3333-4444-555555555555",
                       r, x) &&
           !strcmp(x, "11111111-2222-3333-4444-555555555555"),
       "docid 3-uuid takes last");
    ok(!rgs_docid_split("../../../etc-11111111-2222-3333-4444-555555555555", r, x),
       "docid traversal refused");
    ok(!rgs_docid_split("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", r, x), "docid one uuid refused");
    ok(!rgs_docid_split("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b_11111111-2222-3333-4444-555555555555",
                        r, x),
       "docid bad separator refused");
}

static void test_crypto(void)
{
    char hex[65];
    rgs_sha256_hex("abc", 3, hex);
    ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
       "sha256 abc (FIPS 180-4)");
    uint8_t mac[32];
    char machex[65];
    /* RFC 4231 test case 2 */
    rgs_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    rgs_hex(mac, 32, machex);
    ok(!strcmp(machex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
       "hmac-sha256 RFC 4231 case 2");
    static const char *b64in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *b64out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    int all = 1;
    for (int i = 0; i < 7; i++) {
        char *e = rgs_b64_encode(b64in[i], strlen(b64in[i]));
        size_t dl = 0;
        uint8_t *d = rgs_b64_decode(b64out[i], strlen(b64out[i]), &dl);
        if (strcmp(e, b64out[i]) || !d || dl != strlen(b64in[i]) || memcmp(d, b64in[i], dl))
            all = 0;
        free(e);
        free(d);
    }
    ok(all, "base64 RFC 4648 §10 vectors");
    size_t dl;
    ok(rgs_b64_decode("Zm9v!", 5, &dl) == NULL, "base64 rejects junk");
    char blob[41];
    rgs_git_blob_hex("hello\n", 6, blob);
    ok(!strcmp(blob, "ce013625030ba8dba906f756967f9e9ca394464a"), "git blob id of hello\\n");
    ok(rgs_ct_equal("abc", 3, "abc", 3) && !rgs_ct_equal("abc", 3, "abd", 3) &&
           !rgs_ct_equal("abc", 3, "ab", 2),
       "constant-time equal");
}

static void test_buf_and_files(void)
{
    rgs_buf b = RGS_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        rgs_buf_printf(&b, "%d,", i);
    ok(b.len == 3890 && b.data[b.len] == '\0', "buf grows and stays NUL-terminated");
    rgs_buf_free(&b);

    char dir[] = "/tmp/rgs-unit-XXXXXX";
    ok(mkdtemp(dir) != NULL, "mkdtemp");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ok(rgs_write_atomic(dfd, "f.json", "{}\n", 3, 0644) == 0, "atomic write");
    rgs_buf r = RGS_BUF_INIT;
    ok(rgs_read_file(dfd, "f.json", &r, 0) == 0 && r.len == 3 && !memcmp(r.data, "{}\n", 3),
       "read back");
    rgs_buf_free(&r);
    ok(rgs_read_file(dfd, "f.json", &r, 2) < 0 && errno == EFBIG, "read limit");
    rgs_buf_free(&r);
    ok(symlinkat("/etc/passwd", dfd, "link") == 0 &&
           rgs_write_atomic(dfd, "link", "x", 1, 0644) == 0,
       "atomic write replaces a symlink");
    char target[64];
    ok(readlinkat(dfd, "link", target, sizeof target) < 0, "symlink is gone, not followed");
    ok(rgs_write_atomic(dfd, "a/b", "x", 1, 0644) < 0 && errno == EINVAL, "name with slash refused");

    char *sub = rgs_xasprintf("%s/x/y/z", dir);
    ok(rgs_mkdirs(sub, 0755) == 0 && rgs_mkdirs(sub, 0755) == 0, "mkdirs twice");
    free(sub);
    int l1 = rgs_lock_repo(dir, "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                           "11111111-2222-3333-4444-555555555555", 0);
    ok(l1 >= 0, "lock taken");
    pid_t pid = fork();
    if (pid == 0) {
        int l2 = rgs_lock_repo(dir, "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                               "11111111-2222-3333-4444-555555555555", 0.1);
        _exit(l2 < 0 && errno == EWOULDBLOCK ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "lock busy in another process");
    ok(rgs_lock_repo(dir, "../../etc", "x", 0) < 0 && errno == EINVAL, "lock refuses non-uuid");
    close(l1);
    close(dfd);
    char *cmd = rgs_xasprintf("rm -rf '%s'", dir);
    ok(system(cmd) == 0, "cleanup");
    free(cmd);
}

static void test_redact(void)
{
    char *a = rgs_redact_url("https://user:s3cret@relay.example/d/x?token=abc&z=1");
    ok(!strcmp(a, "https://***@relay.example/d/x?token=***&z=1"), "redact userinfo and token");
    free(a);
    char *b = rgs_redact_url("https://s3.example/b?X-Amz-Signature=f00&X-Amz-Date=1");
    ok(!strstr(b, "f00"), "redact presigned signature");
    free(b);
    char *d = rgs_redact_url("ssh://git@host:2222/x.git");
    ok(!strcmp(d, "ssh://git@host:2222/x.git"), "ssh user name kept");
    free(d);
    char *e = rgs_redact_url("ssh://git:pw@host/x.git");
    ok(!strcmp(e, "ssh://***@host/x.git"), "ssh password hidden");
    free(e);
    char *f = rgs_redact_url("https://ghp_token123@github.com/o/r.git");
    ok(!strstr(f, "ghp_token123"), "https token user hidden");
    free(f);
    char *c = rgs_redact_url("git@github.com:org/repo.git");
    ok(!strcmp(c, "git@github.com:org/repo.git"), "scp-like url unchanged");
    free(c);
}

static void test_utf8(void)
{
    ok(rgs_utf8_valid("h\xc3\xa9\xf0\x9f\x98\x80", 7), "utf8 valid");
    ok(!rgs_utf8_valid("\xc0\x80", 2), "utf8 overlong refused");
    ok(!rgs_utf8_valid("\xed\xa0\x80", 3), "utf8 surrogate refused");
    ok(!rgs_utf8_valid("\xf4\x90\x80\x80", 4), "utf8 above U+10FFFF refused");
    ok(!rgs_utf8_valid("\xe2\x82", 2), "utf8 truncated refused");
}

static void test_records(void)
{
    const char *input = "{\"v\":1,\"type\":\"event\",\"relay\":\"x\"}\n"
                        "\n"
                        "not json\n"
                        "{\"v\":2,\"type\":\"event\"}\n"
                        "{\"v\":1,\"type\":\"a\",\"type\":\"b\"}\n"
                        "[1,2]\n"
                        "{\"v\":1,\"type\":\"tick\",\"s\":\"a\\u0000b\"}";
    FILE *f = fmemopen((void *)input, strlen(input), "r");
    rgs_reader *r = rgs_reader_new(f, "mem", 0);
    json_t *rec;
    const char *type;
    int saved = rgs_verbosity;
    rgs_verbosity = -1; /* the bad lines print errors; keep TAP output clean */
    ok(rgs_reader_next(r, &rec, &type) == 1 && !strcmp(type, "event"), "record 1");
    json_decref(rec);
    ok(rgs_reader_next(r, &rec, &type) == -1 && !rgs_reader_bad_v(r), "invalid JSON refused");
    ok(rgs_reader_next(r, &rec, &type) == -1 && rgs_reader_bad_v(r), "unknown v refused");
    ok(rgs_reader_next(r, &rec, &type) == -1, "duplicate key refused");
    ok(rgs_reader_next(r, &rec, &type) == -1, "non-object refused");
    ok(rgs_reader_next(r, &rec, &type) == 1 && rgs_reader_line(r) == 7 &&
           json_string_length(json_object_get(rec, "s")) == 3,
       "NUL in string kept, line counted");
    json_decref(rec);
    ok(rgs_reader_next(r, &rec, &type) == 0, "EOF");
    rgs_verbosity = saved;
    rgs_reader_free(r);
    fclose(f);

    char *out = NULL;
    size_t outlen = 0;
    FILE *o = open_memstream(&out, &outlen);
    json_t *x = rgs_record_new("tick");
    json_object_set_new(x, "time", json_integer(5));
    rgs_emit(o, x);
    fclose(o);
    ok(!strcmp(out, "{\"v\":1,\"type\":\"tick\",\"time\":5}\n"), "emit compact, ordered");
    json_t *fl = rgs_failed_new(x, true, "because %d", 7);
    ok(!strcmp(rgs_rec_str(fl, "reason"), "because 7") && rgs_rec_bool(fl, "temporary", false),
       "failed record");
    json_decref(fl);
    json_decref(x);
    free(out);
}

int main(int argc, char **argv)
{
    (void)argc;
    rgs_set_progname(argv[0]);
    test_uuid();
    test_crypto();
    test_buf_and_files();
    test_redact();
    test_utf8();
    test_records();
    return tap_done();
}
