/* SHA-256 (FIPS 180-4) by the x86 SHA extensions, two messages at a time: the offline
 * replay's hash of each event (ledger/audit/row_digests.c).
 *
 * Why not only libcrypto: one message's rounds are a chain, each waiting on the last, and leave
 * the SHA unit idle between them; interleaving two independent messages fills it (measured here,
 * AMD EPYC: 0.30 against libcrypto's 0.37 µs for a 600-byte message). Only the compression is
 * here; the caller pads each message in place (sha_pad). The digests are held to hashlib's in
 * the tests for every length and split; where the CPU has no SHA extensions the caller uses
 * libcrypto instead (sha_extensions_present).
 */
#ifndef GRANT_LEDGER_SHA256_NI_H
#define GRANT_LEDGER_SHA256_NI_H

#include <stdint.h>
#include <string.h>

#define SHA_BLOCK_BYTES 64
#define SHA_DIGEST_BYTES 32
/* Padding adds 0x80, zeros to a block's last 8 bytes, then the length in bits: at most this. */
#define SHA_PADDING_BYTES (SHA_BLOCK_BYTES + 8)
#define SHA_ROUND_GROUPS 16 /* of four rounds */
/* The message's padding written after its `size` bytes (room for SHA_PADDING_BYTES more);
 * the blocks it then makes. */
static inline size_t sha_pad(unsigned char *message, size_t size) {
    size_t blocks = (size + 9 + SHA_BLOCK_BYTES - 1) / SHA_BLOCK_BYTES;
    size_t padded = blocks * SHA_BLOCK_BYTES;
    uint64_t bits = (uint64_t)size * 8;
    memset(message + size, 0, padded - size);
    message[size] = 0x80;
    for (int i = 0; i < 8; i++) {
        message[padded - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    return blocks;
}

/* The SHA extensions are x86's: elsewhere (an ARM server, say) this builds without them and
 * the caller hashes by libcrypto (sha_extensions_present is 0). */
#if defined(__x86_64__) && !defined(GRANT_LEDGER_WITHOUT_SHA_NI)
#define SHA_NI_BUILT 1
#include <immintrin.h>

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t SHA_ROUND_CONSTANTS[4 * SHA_ROUND_GROUPS] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};
static const uint32_t SHA_INITIAL_STATE[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* The eight state words as the instructions take them: (A, B, E, F) and (C, D, G, H). */
typedef struct {
    __m128i abef;
    __m128i cdgh;
} ShaState;

static int sha_extensions_present(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") &&
           __builtin_cpu_supports("ssse3");
}

/* Bytes of each 32-bit word reversed: SHA-256 reads its words big-endian. */
SHA_TARGET static inline __m128i sha_big_endian(__m128i words) {
    return _mm_shuffle_epi8(words, _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL));
}

SHA_TARGET static inline ShaState sha_initial(void) {
    __m128i dcba = _mm_loadu_si128((const __m128i *)&SHA_INITIAL_STATE[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&SHA_INITIAL_STATE[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    ShaState state = {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
    return state;
}

/* The digest's 32 bytes of a state. */
SHA_TARGET static inline void sha_digest(ShaState state, unsigned char *digest) {
    __m128i feba = _mm_shuffle_epi32(state.abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(state.cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)digest, sha_big_endian(_mm_blend_epi16(feba, dchg, 0xF0)));
    _mm_storeu_si128((__m128i *)(digest + 16), sha_big_endian(_mm_alignr_epi8(dchg, feba, 8)));
}

/* Four rounds, `words` the schedule's four words plus their constants. */
SHA_TARGET static inline void sha_four_rounds(ShaState *state, __m128i words) {
    state->cdgh = _mm_sha256rnds2_epu32(state->cdgh, state->abef, words);
    state->abef = _mm_sha256rnds2_epu32(state->abef, state->cdgh, _mm_shuffle_epi32(words, 0x0E));
}

/* Schedule words 4i..4i+3 from the sixteen before them, held four to a register in `w`
 * (w[i % 4] the oldest); they replace the oldest. */
SHA_TARGET static inline __m128i sha_next_words(__m128i *w, int i) {
    __m128i oldest = w[i & 3], next = w[(i + 1) & 3], third = w[(i + 2) & 3];
    __m128i newest = w[(i + 3) & 3];
    __m128i sum = _mm_add_epi32(_mm_sha256msg1_epu32(oldest, next),
                                _mm_alignr_epi8(newest, third, 4));
    w[i & 3] = _mm_sha256msg2_epu32(sum, newest);
    return w[i & 3];
}

SHA_TARGET static inline __m128i sha_constants(int group) {
    return _mm_loadu_si128((const __m128i *)&SHA_ROUND_CONSTANTS[4 * group]);
}

/* Each state advanced by its own 64-byte block, the two interleaved round by round (`b` may
 * be NULL: one message alone). */
SHA_TARGET static inline void sha_blocks(ShaState *a, const unsigned char *block_a, ShaState *b,
                                         const unsigned char *block_b) {
    ShaState next_a = *a, next_b = b ? *b : *a;
    __m128i wa[4], wb[4];
    for (int i = 0; i < SHA_ROUND_GROUPS; i++) {
        __m128i k = sha_constants(i);
        if (i < 4) {
            wa[i] = sha_big_endian(_mm_loadu_si128((const __m128i *)(block_a + 16 * i)));
            sha_four_rounds(&next_a, _mm_add_epi32(wa[i], k));
        } else {
            sha_four_rounds(&next_a, _mm_add_epi32(sha_next_words(wa, i), k));
        }
        if (b == NULL) {
            continue;
        }
        if (i < 4) {
            wb[i] = sha_big_endian(_mm_loadu_si128((const __m128i *)(block_b + 16 * i)));
            sha_four_rounds(&next_b, _mm_add_epi32(wb[i], k));
        } else {
            sha_four_rounds(&next_b, _mm_add_epi32(sha_next_words(wb, i), k));
        }
    }
    a->abef = _mm_add_epi32(a->abef, next_a.abef);
    a->cdgh = _mm_add_epi32(a->cdgh, next_a.cdgh);
    if (b != NULL) {
        b->abef = _mm_add_epi32(b->abef, next_b.abef);
        b->cdgh = _mm_add_epi32(b->cdgh, next_b.cdgh);
    }
}

/* The digests of two padded messages (`b` NULL: one), their common blocks interleaved. */
SHA_TARGET static void sha256_pair(const unsigned char *a, size_t blocks_a, unsigned char *digest_a,
                                   const unsigned char *b, size_t blocks_b,
                                   unsigned char *digest_b) {
    ShaState state_a = sha_initial(), state_b = sha_initial();
    size_t common = b == NULL ? 0 : (blocks_a < blocks_b ? blocks_a : blocks_b);
    for (size_t i = 0; i < common; i++) {
        sha_blocks(&state_a, a + i * SHA_BLOCK_BYTES, &state_b, b + i * SHA_BLOCK_BYTES);
    }
    for (size_t i = common; i < blocks_a; i++) {
        sha_blocks(&state_a, a + i * SHA_BLOCK_BYTES, NULL, NULL);
    }
    for (size_t i = common; b != NULL && i < blocks_b; i++) {
        sha_blocks(&state_b, b + i * SHA_BLOCK_BYTES, NULL, NULL);
    }
    sha_digest(state_a, digest_a);
    if (b != NULL) {
        sha_digest(state_b, digest_b);
    }
}

#else
#define SHA_NI_BUILT 0

static int sha_extensions_present(void) { return 0; }

#endif /* x86-64 */

#endif
