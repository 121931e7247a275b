/* rgs_sshkey: see rgs_sshkey.h. */
#include "rgs_sshkey.h"
#include "rgs_crypto.h"
#include "rgs_util.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEYGEN_TIMEOUT 10.0 /* seconds */
#define KEY_MAX_BYTES 65536

static char last_error[256];

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

const char *rgs_sshkey_error(void) { return last_error; }

char *rgs_sshkey_normalize(const char *text)
{
    rgs_buf b = RGS_BUF_INIT;
    rgs_buf_reserve(&b, strlen(text) + 2); /* never reallocated: no stray copies */
    const char *s = text, *e = text + strlen(text);
    while (s < e && strchr(" \t\r\n", *s))
        s++;
    while (e > s && strchr(" \t\r\n", e[-1]))
        e--;
    bool escaped = !memchr(s, '\n', (size_t)(e - s));
    for (const char *p = s; p < e; p++) {
        if (escaped && p[0] == '\\' && p + 1 < e && p[1] == 'n') {
            rgs_buf_putc(&b, '\n');
            p++;
        } else if (p[0] == '\r' && p + 1 < e && p[1] == '\n') {
            continue;
        } else {
            rgs_buf_putc(&b, *p);
        }
    }
    rgs_buf_putc(&b, '\n');
    return rgs_buf_steal(&b, NULL);
}

/* Run ssh-keygen -y on `path`; stdout into *out.  0, -1 (refused), -2. */
static int keygen_public(const char *path, rgs_buf *out)
{
    int pout[2];
    if (pipe2(pout, O_CLOEXEC) < 0) {
        set_error("pipe: %s", strerror(errno));
        return -2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        set_error("fork: %s", strerror(errno));
        close(pout[0]);
        close(pout[1]);
        return -2;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0)
            _exit(127);
        dup2(nul, 0);
        dup2(pout[1], 1);
        dup2(nul, 2); /* its messages name the temporary file; ours are clearer */
        /* none of the caller's secrets (rgs-verify holds WEBHOOK_SECRET) */
        const char *pth = getenv("PATH");
        char *envp[3] = {NULL, (char *)"LC_ALL=C", NULL};
        char pbuf[4096];
        snprintf(pbuf, sizeof pbuf, "PATH=%s", pth && *pth ? pth : "/usr/bin:/bin");
        envp[0] = pbuf;
        char *const argv[] = {(char *)"ssh-keygen", (char *)"-y", (char *)"-P", (char *)"",
                              (char *)"-f", (char *)path, NULL};
        execvpe("ssh-keygen", argv, envp);
        _exit(127);
    }
    close(pout[1]);
    double deadline = rgs_mono() + KEYGEN_TIMEOUT;
    bool timed_out = false;
    for (;;) {
        double left = deadline - rgs_mono();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {pout[0], POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(pout[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out->len < KEY_MAX_BYTES)
            rgs_buf_append(out, buf, (size_t)n);
    }
    close(pout[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        set_error("ssh-keygen did not answer within %.0f s", KEYGEN_TIMEOUT);
        return -2;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        set_error("cannot run ssh-keygen (is openssh-client installed?)");
        return -2;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        set_error("not an unencrypted private key in PEM or OpenSSH format");
        return -1;
    }
    return 0;
}

/* SSH wire encoding (RFC 4251 §5): string = uint32 length + bytes */
static void put_string(rgs_buf *b, const void *p, size_t n)
{
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    rgs_buf_append(b, len, 4);
    rgs_buf_append(b, p, n);
}

/* mpint (RFC 4251 §5): big-endian, minimal, a leading 0 byte when the high
 * bit is set (the numbers here are positive). */
static void put_mpint(rgs_buf *b, const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    unsigned char *tmp = rgs_xmalloc((size_t)n + 1);
    tmp[0] = 0;
    BN_bn2bin(bn, tmp + 1);
    bool pad = n > 0 && (tmp[1] & 0x80);
    put_string(b, pad ? tmp : tmp + 1, (size_t)n + (pad ? 1 : 0));
    free(tmp);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0; /* encrypted keys are refused, never prompted for */
}

/* PEM keys (PKCS#1 RSA, SEC1 EC, PKCS#8 any of RSA/EC/Ed25519) through
 * OpenSSL, encoded as OpenSSH public keys (RFC 4253 §6.6 ssh-rsa, RFC 5656
 * §3.1 ecdsa-sha2-[curve], RFC 8709 §4 ssh-ed25519).  0 and *type and *blob, or -1. */
static int pem_public(const char *pem, char **type, rgs_buf *blob)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (!pk) {
        set_error("not an unencrypted private key in PEM or OpenSSH format");
        return -1;
    }
    int rc = -1;
    int id = EVP_PKEY_get_base_id(pk);
    if (id == EVP_PKEY_RSA) {
        BIGNUM *n = NULL, *e = NULL;
        if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) &&
            EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e)) {
            *type = rgs_xstrdup("ssh-rsa");
            put_string(blob, "ssh-rsa", 7);
            put_mpint(blob, e);
            put_mpint(blob, n);
            rc = 0;
        }
        BN_free(n);
        BN_free(e);
    } else if (id == EVP_PKEY_ED25519) {
        unsigned char raw[32];
        size_t len = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(pk, raw, &len) && len == 32) {
            *type = rgs_xstrdup("ssh-ed25519");
            put_string(blob, "ssh-ed25519", 11);
            put_string(blob, raw, 32);
            rc = 0;
        }
    } else if (id == EVP_PKEY_EC) {
        char group[64];
        unsigned char point[200];
        size_t plen = 0;
        const char *curve = NULL;
        if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL)) {
            if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
                curve = "nistp256";
            else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
                curve = "nistp384";
            else if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521"))
                curve = "nistp521";
        }
        if (curve &&
            EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen) &&
            plen > 1 && point[0] == 0x04) {
            *type = rgs_xasprintf("ecdsa-sha2-%s", curve);
            put_string(blob, *type, strlen(*type));
            put_string(blob, curve, strlen(curve));
            put_string(blob, point, plen);
            rc = 0;
        }
    }
    EVP_PKEY_free(pk);
    if (rc < 0)
        set_error("a PEM private key of a type SSH does not use here (want RSA, ECDSA "
                  "P-256/384/521 or Ed25519)");
    return rc;
}

int rgs_sshkey_public(const char *private_key_text, char **public_line, char **key_type)
{
    *public_line = NULL;
    *key_type = NULL;
    last_error[0] = '\0';
    if (!private_key_text || !*private_key_text) {
        set_error("the private key is empty");
        return -1;
    }
    if (strlen(private_key_text) > KEY_MAX_BYTES) {
        set_error("the private key is longer than %d bytes", KEY_MAX_BYTES);
        return -1;
    }
    if (strstr(private_key_text, "-----BEGIN") && !strstr(private_key_text, "OPENSSH PRIVATE KEY")) {
        char *pem = rgs_sshkey_normalize(private_key_text);
        rgs_buf blob = RGS_BUF_INIT;
        char *type = NULL;
        int prc = pem_public(pem, &type, &blob);
        explicit_bzero(pem, strlen(pem));
        free(pem);
        if (prc == 0) {
            char *b64 = rgs_b64_encode(blob.data, blob.len);
            *public_line = rgs_xasprintf("%s %s", type, b64);
            free(b64);
            *key_type = rgs_xstrdup(!strcmp(type, "ssh-rsa") || !strcmp(type, "ssh-ed25519") ? type
                                    : "ecdsa");
        }
        free(type);
        rgs_buf_free(&blob);
        return prc;
    }
    char *dir = rgs_sshkey_private_dir("rgs-sshkey");
    if (!dir) {
        set_error("cannot create a private temporary directory: %s", strerror(errno));
        return -2;
    }
    char *path = rgs_xasprintf("%s/key", dir);
    char *key = rgs_sshkey_normalize(private_key_text);
    int rc = -2;
    rgs_buf out = RGS_BUF_INIT;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || rgs_write_all(fd, key, strlen(key)) < 0 || close(fd) < 0) {
        set_error("cannot write a temporary key file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    } else {
        rc = keygen_public(path, &out);
    }
    explicit_bzero(key, strlen(key));
    free(key);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
    if (rc != 0) {
        rgs_buf_free(&out);
        return rc;
    }
    /* "<type> <base64>[ <comment>]\n" -> "<type> <base64>" */
    char *line = out.data ? out.data : "";
    size_t t = strcspn(line, " \n");
    size_t b = line[t] == ' ' ? strcspn(line + t + 1, " \n") : 0;
    if (t == 0 || b == 0) {
        set_error("ssh-keygen printed no public key");
        rgs_buf_free(&out);
        return -1;
    }
    *public_line = rgs_xstrndup(line, t + 1 + b);
    char *type = rgs_xstrndup(line, t);
    if (!strcmp(type, "ssh-rsa") || !strcmp(type, "ssh-ed25519"))
        *key_type = type;
    else {
        *key_type = rgs_xstrdup(!strncmp(type, "ecdsa-sha2-", 11) ? "ecdsa" : "unknown");
        free(type);
    }
    rgs_buf_free(&out);
    return 0;
}

/* ---- private runtime copies ---- */

#define KEY_FILE "git_sync_key"

/* a base directory for rgs_sshkey_private_dir; i = 0, 1, 2; NULL: skip */
static const char *private_base(int i)
{
    struct stat st;
    if (i == 0) {
        const char *x = getenv("XDG_RUNTIME_DIR");
        if (!x || x[0] != '/' || strlen(x) > 3000 || lstat(x, &st) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid() || (st.st_mode & 022))
            return NULL;
        return x;
    }
    if (i == 1)
        return lstat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK | X_OK) == 0
                   ? "/dev/shm"
                   : NULL;
    return "/tmp";
}

char *rgs_sshkey_private_dir(const char *tag)
{
    int e = ENOENT;
    for (int i = 0; i < 3; i++) {
        const char *base = private_base(i);
        if (!base)
            continue;
        char *dir = rgs_xasprintf("%s/%s.XXXXXX", base, tag);
        if (mkdtemp(dir) && chmod(dir, 0700) == 0)
            return dir;
        e = errno;
        rmdir(dir);
        free(dir);
    }
    errno = e;
    return NULL;
}

/* the installed copy: static storage, so the signal handler needs no
 * allocation */
static char inst_dir[4096], inst_file[4200];
static pid_t inst_pid;
static int inst_lock = -1;
static bool inst_hooked;

void rgs_sshkey_uninstall(void)
{
    if (!inst_dir[0] || inst_pid != getpid())
        return;
    int e = errno;
    if (inst_file[0])
        unlink(inst_file);
    rmdir(inst_dir);
    inst_file[0] = '\0';
    inst_dir[0] = '\0';
    if (inst_lock >= 0)
        close(inst_lock);
    inst_lock = -1;
    errno = e;
}

static void on_signal(int sig)
{
    rgs_sshkey_uninstall();
    raise(sig); /* SA_RESETHAND: the default action, once this handler returns */
}

static void hook_exit(void)
{
    if (inst_hooked)
        return;
    inst_hooked = true;
    atexit(rgs_sshkey_uninstall);
    static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESETHAND;
        sigfillset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

int rgs_sshkey_install(const char *private_key_text, const char *tag, const char **path)
{
    *path = NULL;
    last_error[0] = '\0';
    rgs_sshkey_uninstall();
    hook_exit();
    char *dir = rgs_sshkey_private_dir(tag);
    if (!dir || strlen(dir) >= sizeof inst_dir - 20) {
        int e = dir ? ENAMETOOLONG : errno;
        if (dir)
            rmdir(dir);
        free(dir);
        set_error("cannot create a private directory for the key: %s", strerror(e));
        rgs_error("ssh key: %s", last_error);
        errno = e;
        return -1;
    }
    /* known to the handlers before anything is written into it */
    inst_pid = getpid();
    snprintf(inst_dir, sizeof inst_dir, "%s", dir);
    snprintf(inst_file, sizeof inst_file, "%s/" KEY_FILE, dir);
    free(dir);
    int e = 0;
    int dfd = open(inst_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 || flock(dfd, LOCK_EX | LOCK_NB) < 0) {
        e = errno;
        if (dfd >= 0)
            close(dfd);
    } else {
        inst_lock = dfd;
        char *key = rgs_sshkey_normalize(private_key_text);
        size_t n = strlen(key);
        int fd = openat(dfd, KEY_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || rgs_write_all(fd, key, n) < 0 || fchmod(fd, 0600) < 0)
            e = errno;
        if (fd >= 0 && close(fd) < 0 && !e)
            e = errno;
        explicit_bzero(key, n);
        free(key);
    }
    if (e) {
        set_error("cannot write the key into '%s': %s", inst_dir, strerror(e));
        rgs_error("ssh key: %s", last_error);
        rgs_sshkey_uninstall();
        errno = e;
        return -1;
    }
    *path = inst_file;
    return 0;
}

int rgs_sshkey_sweep(const char *tag)
{
    int removed = 0;
    size_t tl = strlen(tag);
    double now = rgs_now();
    for (int i = 0; i < 3; i++) {
        const char *base = private_base(i);
        DIR *d = base ? opendir(base) : NULL;
        if (!d)
            continue;
        struct dirent *ent;
        while ((ent = readdir(d))) {
            const char *name = ent->d_name;
            if (strlen(name) != tl + 7 || strncmp(name, tag, tl) || name[tl] != '.')
                continue;
            int dfd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            struct stat st;
            if (dfd < 0)
                continue;
            if (fstat(dfd, &st) < 0 || st.st_uid != geteuid() || flock(dfd, LOCK_EX | LOCK_NB) < 0) {
                close(dfd); /* another user's, or a live process's */
                continue;
            }
            struct stat kst;
            bool has_key = fstatat(dfd, KEY_FILE, &kst, AT_SYMLINK_NOFOLLOW) == 0;
            double age = now - ((double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
            if (has_key || age > 60) {
                /* only what rgs_sshkey_install puts there */
                unlinkat(dfd, KEY_FILE, 0);
                if (unlinkat(dirfd(d), name, AT_REMOVEDIR) == 0)
                    removed++;
            }
            close(dfd);
        }
        closedir(d);
    }
    return removed;
}
