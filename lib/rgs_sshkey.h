/* rgs_sshkey: the deploy key given in SSH_PRIVATE_KEY (relay.md §5.12):
 * derive its OpenSSH public key line (the original's `cli.py ssh
 * show-pubkey` and GET /api/pubkey, §5.2) and keep a private copy for
 * ssh -i while the process runs.  The key itself is parsed by the OpenSSH tools
 * (ssh-keygen -y, ssh-keygen(1)), never by this project; the key bytes are
 * never logged.
 */
#ifndef RGS_SSHKEY_H
#define RGS_SSHKEY_H

#include <stddef.h>

/* rgs_sshkey_public: the public key of an unencrypted private key in PEM
 * ("-----BEGIN RSA/EC/PRIVATE KEY-----") or OpenSSH ("-----BEGIN OPENSSH
 * PRIVATE KEY-----") format.
 * Input: the key text as found in the environment: LF or CRLF line ends,
 * or all on one line with literal "\n" escapes (as .env files and some
 * container platforms pass it); surrounding whitespace ignored.
 * Method: PEM keys (PKCS#1, SEC1, PKCS#8: RSA, ECDSA P-256/384/521,
 * Ed25519) are read with OpenSSL and encoded per RFC 4253 §6.6, RFC 5656
 * §3.1, RFC 8709 §4; OpenSSH-format keys are written to a 0600 file in a
 * fresh rgs_sshkey_private_dir("rgs-sshkey") and `ssh-keygen -y -P ""
 * -f FILE` derives the public key (10 s time limit; its environment is
 * PATH and LC_ALL=C only, so it sees none of the caller's secrets), then
 * both are removed.
 * Outputs (caller frees both): *public_line = "<type> <base64>" without
 * comment or newline, exactly as OpenSSH writes public keys (the
 * original's cryptography public_bytes(OpenSSH, OpenSSH)); *key_type as
 * the original /api/pubkey reports it: "ssh-rsa", "ssh-ed25519", "ecdsa"
 * (for every ecdsa-sha2-*), otherwise "unknown".
 * Returns 0; -1 when the text is not such a key (encrypted, malformed,
 * empty); -2 when ssh-keygen could not be run or timed out (temporary).
 * On error both outputs are NULL and rgs_sshkey_error() says why (text
 * safe to show: it never contains key material). */
int rgs_sshkey_public(const char *private_key_text, char **public_line, char **key_type);

/* rgs_sshkey_error: why the last rgs_sshkey_* call failed ("" if it did
 * not).  Static storage, overwritten by the next call. */
const char *rgs_sshkey_error(void);

/* rgs_sshkey_normalize: the key text as OpenSSH reads it: literal "\n"
 * escapes turned into newlines when the text has no real newline, CRLF to
 * LF, surrounding whitespace removed, one final LF.  Caller frees, after
 * explicit_bzero(3) (the buffer is allocated once: no partial copies are
 * left in freed memory). */
char *rgs_sshkey_normalize(const char *private_key_text);

/* ---- key material that lives only as long as the process ----
 *
 * The deploy key is never kept on the data volume (relay.md §8: the
 * original left it in DATA_DIR/ssh/git_sync_key, and so in every backup,
 * after the variable was removed).  A copy that ssh(1) can read lives in a
 * private runtime directory while the process runs and is removed when it
 * ends (exit, or a terminating signal); a crash (SIGKILL) leaves it in a
 * tmpfs, where rgs_sshkey_sweep finds it at the next start and the next
 * boot clears it. */

/* rgs_sshkey_private_dir: create a fresh directory for secrets, mode 0700,
 * named "<tag>.XXXXXX" (mkdtemp(3)), in the first of these that works:
 * $XDG_RUNTIME_DIR (absolute, a directory owned by this user and writable
 * by nobody else: the XDG Base Directory Specification's per-user runtime
 * directory, a tmpfs), /dev/shm (a tmpfs on Linux), /tmp.  Returns the
 * path (caller frees), or NULL with errno. */
char *rgs_sshkey_private_dir(const char *tag);

/* rgs_sshkey_install: write the normalised key (rgs_sshkey_normalize) to
 * "<dir>/git_sync_key", mode 0600, in a fresh rgs_sshkey_private_dir(tag),
 * for ssh -i.  The directory is flock(2)ed while this process lives (so
 * rgs_sshkey_sweep can tell it from a crashed process's).  Removal is
 * arranged for every normal end: atexit(3), and a handler for SIGHUP,
 * SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 and SIGALRM (only those still
 * at their default action) that removes the file and the directory, then
 * lets the signal take its default action.  At most one key per process:
 * a second call replaces the first.  Returns 0 and *path (the key file,
 * borrowed: valid until rgs_sshkey_uninstall), or -1 (message printed,
 * never with key material; errno set). */
int rgs_sshkey_install(const char *private_key_text, const char *tag, const char **path);

/* rgs_sshkey_uninstall: remove the installed key file and its directory
 * (nothing when none, or when called in a forked child).
 * Async-signal-safe. */
void rgs_sshkey_uninstall(void);

/* rgs_sshkey_sweep: remove the key directories "<tag>.XXXXXX" that crashed
 * processes left in the places rgs_sshkey_private_dir uses: owned by this
 * user, not flock(2)ed by a live process, and holding a git_sync_key file
 * (or empty and older than a minute).  Returns the number removed. */
int rgs_sshkey_sweep(const char *tag);

#endif
