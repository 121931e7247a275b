/* rgs_crypto: hashes, HMAC, base64, constant-time compare and randomness,
 * all from OpenSSL (libcrypto).  Nothing here is hand-rolled cryptography.
 */
#ifndef RGS_CRYPTO_H
#define RGS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* rgs_sha256: SHA-256 (FIPS 180-4) of the `n` bytes at `p` (caller-owned,
 * p may be NULL when n is 0) as the 32-byte digest in out[32] (caller's
 * buffer).  No errors: an OpenSSL failure ends the process (RGS_EX_INTERNAL). */
void rgs_sha256(const void *p, size_t n, uint8_t out[32]);

/* rgs_sha256_hex: SHA-256 (FIPS 180-4) of `n` bytes as 64 lower-case hex
 * digits plus NUL in out[65].  This is the hash Relay's filemeta "hash"
 * uses (relay.md §3.4) and the original's document_hashes.json values
 * (§5.6). */
void rgs_sha256_hex(const void *p, size_t n, char out[65]);

/* rgs_sha256_file_hex: the same over the contents of the file at `path`
 * (relative to dirfd; symlinks are not followed: O_NOFOLLOW).  Returns 0,
 * or -1 with errno (ENOENT when absent, ELOOP for a symlink). */
int rgs_sha256_file_hex(int dirfd, const char *path, char out[65]);

/* rgs_git_blob_hex: the Git object id of a blob with these `n` bytes:
 * SHA-1 over "blob <n>\0" followed by the bytes (gitformat-object), as 40
 * lower-case hex digits plus NUL in out[41]. */
void rgs_git_blob_hex(const void *p, size_t n, char out[41]);

/* rgs_hmac_sha256: HMAC-SHA256 (RFC 2104) of `n` bytes under `key`
 * (`keylen` bytes) into out[32]. */
void rgs_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[32]);

/* rgs_b64_encode: standard base64 with padding (RFC 4648 §4) of `n` bytes.
 * Returns a NUL-terminated string the caller frees. */
char *rgs_b64_encode(const void *p, size_t n);

/* rgs_b64_decode: decode standard base64 (RFC 4648 §4, padding required
 * when the length is not a multiple of 4 is tolerated as absent, whitespace
 * refused).  Returns a malloc'd buffer (caller frees) and its length in
 * *outlen, or NULL for input that is not base64. */
uint8_t *rgs_b64_decode(const char *s, size_t n, size_t *outlen);

/* rgs_ct_equal: true if the two buffers have equal length and bytes.  Time
 * depends only on the lengths, never on where they differ (CRYPTO_memcmp):
 * use it for secrets and signatures. */
bool rgs_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* rgs_random: `n` cryptographically strong random bytes (RAND_bytes).
 * Returns 0, or -1 when the generator fails. */
int rgs_random(void *p, size_t n);

/* rgs_hex: `n` bytes as 2n lower-case hex digits into out (2n+1 bytes). */
void rgs_hex(const void *p, size_t n, char *out);

#endif
