/* rgs_sshkey: the deploy key given in SSH_PRIVATE_KEY (relay.md §5.12):
 * derive its OpenSSH public key line (the original's `cli.py ssh
 * show-pubkey` and GET /api/pubkey, §5.2) and write it to a private file
 * for ssh -i.  The key itself is parsed by the OpenSSH tools
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
 * fresh 0700 directory under $TMPDIR (or /tmp) and `ssh-keygen -y -P ""
 * -f FILE` derives the public key (10 s time limit), then both are
 * removed.
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
 * LF, surrounding whitespace removed, one final LF.  Caller frees. */
char *rgs_sshkey_normalize(const char *private_key_text);

/* rgs_sshkey_write: store the normalised key as `dir`/`name` with mode
 * 0600 (atomically: temp file, fsync, rename; `dir` is created 0700 and
 * chmod'ed to 0700 if it exists with wider permissions).  An unchanged file
 * is not rewritten.  Returns 0, or -1 with errno (message printed, without
 * key material). */
int rgs_sshkey_write(const char *dir, const char *name, const char *private_key_text);

#endif
