/* rgs-ssh: SSH helpers of relay-git-sync (the original's `cli.py ssh ...`).
 *   rgs-ssh show-pubkey   print the OpenSSH public key of SSH_PRIVATE_KEY
 * See rgs-ssh(1). */
#include "rgs_sshkey.h"
#include "rgs_util.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: rgs-ssh [-v] [-q] show-pubkey\n"
          "\n"
          "show-pubkey  print the OpenSSH public key (\"<type> <base64>\") derived from\n"
          "             the deploy key in SSH_PRIVATE_KEY (PEM or OpenSSH format,\n"
          "             unencrypted), or from the file named by SSH_PRIVATE_KEY_FILE;\n"
          "             add it to the Git host as a deploy key with write access.\n"
          "  -t         print the key type as /api/pubkey reports it instead\n"
          "             (ssh-rsa, ssh-ed25519, ecdsa, unknown)\n"
          "\n"
          "-v more messages, -q fewer, -h this help.\n"
          "Exit status: 0 ok, 100 no key or not a usable key, 111 ssh-keygen failed.\n",
          f);
}

/* The key text: SSH_PRIVATE_KEY, else the file SSH_PRIVATE_KEY_FILE.
 * NULL when neither is set (message printed). Caller frees. */
static char *key_text(void)
{
    const char *k = getenv("SSH_PRIVATE_KEY");
    if (k && *k)
        return rgs_xstrdup(k);
    const char *f = getenv("SSH_PRIVATE_KEY_FILE");
    if (f && *f) {
        rgs_buf b = RGS_BUF_INIT;
        if (rgs_read_file(AT_FDCWD, f, &b, 1 << 20) < 0) {
            rgs_error("read key file '%s': %m", f);
            rgs_buf_free(&b);
            return NULL;
        }
        return rgs_buf_steal(&b, NULL);
    }
    rgs_error("SSH_PRIVATE_KEY environment variable not configured");
    return NULL;
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'}, {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'}, {"type", no_argument, NULL, 't'},
        {NULL, 0, NULL, 0}};
    bool want_type = false;
    int c;
    while ((c = getopt_long(argc, argv, "+hvqt", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return RGS_EX_OK;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 't': want_type = true; break;
        default: usage(stderr); return RGS_EX_PERM;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return RGS_EX_PERM;
    }
    const char *cmd = argv[optind++];
    /* options may also follow the subcommand: rgs-ssh show-pubkey -t */
    for (; optind < argc; optind++) {
        if (!strcmp(argv[optind], "-t") || !strcmp(argv[optind], "--type"))
            want_type = true;
        else {
            rgs_error("unexpected argument '%s' (see --help)", argv[optind]);
            return RGS_EX_PERM;
        }
    }
    if (strcmp(cmd, "show-pubkey") != 0) {
        rgs_error("unknown command '%s' (see --help)", cmd);
        return RGS_EX_PERM;
    }
    char *key = key_text();
    if (!key)
        return RGS_EX_PERM;
    char *line, *type;
    int rc = rgs_sshkey_public(key, &line, &type);
    explicit_bzero(key, strlen(key));
    free(key);
    if (rc < 0) {
        rgs_error("derive public key 'SSH_PRIVATE_KEY': %s", rgs_sshkey_error());
        return rc == -1 ? RGS_EX_PERM : RGS_EX_TEMP;
    }
    printf("%s\n", want_type ? type : line);
    free(line);
    free(type);
    return fflush(stdout) == 0 ? RGS_EX_OK : RGS_EX_TEMP;
}
