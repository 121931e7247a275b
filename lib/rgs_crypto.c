/* rgs_crypto: see rgs_crypto.h. */
#include "rgs_crypto.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rgs_hex(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void digest_fail(void) { rgs_die(RGS_EX_INTERNAL, "OpenSSL digest failed"); }

void rgs_sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) || len != 32)
        digest_fail();
}

void rgs_sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t md[32];
    rgs_sha256(p, n, md);
    rgs_hex(md, 32, out);
}

int rgs_sha256_file_hex(int dirfd, const char *path, char out[65])
{
    int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        digest_fail();
    uint8_t buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            EVP_MD_CTX_free(ctx);
            close(fd);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)r))
            digest_fail();
    }
    close(fd);
    uint8_t md[32];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(ctx, md, &len) || len != 32)
        digest_fail();
    EVP_MD_CTX_free(ctx);
    rgs_hex(md, 32, out);
    return 0;
}

void rgs_git_blob_hex(const void *p, size_t n, char out[41])
{
    char hdr[32];
    int hl = snprintf(hdr, sizeof hdr, "blob %zu", n);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t md[20];
    unsigned int len = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(ctx, hdr, (size_t)hl + 1) || !EVP_DigestUpdate(ctx, p, n) ||
        !EVP_DigestFinal_ex(ctx, md, &len) || len != 20)
        digest_fail();
    EVP_MD_CTX_free(ctx);
    rgs_hex(md, 20, out);
}

void rgs_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    static const uint8_t empty = 0;
    if (!HMAC(EVP_sha256(), keylen ? key : &empty, (int)keylen, p, n, out, &len) || len != 32)
        digest_fail();
}

char *rgs_b64_encode(const void *p, size_t n)
{
    size_t outlen = 4 * ((n + 2) / 3);
    char *out = rgs_xmalloc(outlen + 1);
    int w = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    if (w < 0 || (size_t)w != outlen)
        digest_fail();
    out[outlen] = '\0';
    return out;
}

uint8_t *rgs_b64_decode(const char *s, size_t n, size_t *outlen)
{
    /* EVP_DecodeBlock wants a multiple of 4 and counts padding as zero bytes,
     * so pad here and subtract the padding afterwards. */
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return NULL;
    }
    if (n % 4 == 1)
        return NULL;
    size_t full = n + (4 - n % 4) % 4;
    char *tmp = rgs_xmalloc(full + 1);
    memcpy(tmp, s, n);
    memset(tmp + n, '=', full - n);
    tmp[full] = '\0';
    uint8_t *out = rgs_xmalloc(full / 4 * 3 + 1);
    int r = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)full);
    free(tmp);
    if (r < 0) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)r - (full - n);
    return out;
}

bool rgs_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

int rgs_random(void *p, size_t n)
{
    return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}
