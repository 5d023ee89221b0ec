/* BLAKE2b (RFC 7693) of many short messages in one call, without holding the GIL.
 *
 * Ingest derives an id for each distinct police.uk row without a Crime ID (ASB) by hashing its
 * fields: tens of thousands of messages of about 80 bytes per file. hashlib spends about a
 * microsecond of interpreter work on each and holds the GIL throughout, which stalls the other
 * threads of the read. This module gives, for each message data[offsets[i]:offsets[i + 1]],
 * the digest hashlib.blake2b(message, digest_size=n, person=p).digest() gives, written from the
 * RFC's description of the algorithm. It is optional: without a C compiler the package installs
 * without it and ingest hashes with hashlib (tests check the two agree).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* The message word order of each round (rounds 10 and 11 repeat rows 0 and 1). */
static const uint8_t SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint64_t rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = (w << 8) | p[i];
    return w;
}

#define MIX(a, b, c, d, x, y)            \
    do {                                 \
        v[a] = v[a] + v[b] + (x);        \
        v[d] = rotr(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);        \
        v[d] = rotr(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 63);    \
    } while (0)

#define ROUND(r)                                                    \
    do {                                                            \
        MIX(0, 4, 8, 12, m[SIGMA[r][0]], m[SIGMA[r][1]]);           \
        MIX(1, 5, 9, 13, m[SIGMA[r][2]], m[SIGMA[r][3]]);           \
        MIX(2, 6, 10, 14, m[SIGMA[r][4]], m[SIGMA[r][5]]);          \
        MIX(3, 7, 11, 15, m[SIGMA[r][6]], m[SIGMA[r][7]]);          \
        MIX(0, 5, 10, 15, m[SIGMA[r][8]], m[SIGMA[r][9]]);          \
        MIX(1, 6, 11, 12, m[SIGMA[r][10]], m[SIGMA[r][11]]);        \
        MIX(2, 7, 8, 13, m[SIGMA[r][12]], m[SIGMA[r][13]]);         \
        MIX(3, 4, 9, 14, m[SIGMA[r][14]], m[SIGMA[r][15]]);         \
    } while (0)

/* Fold one 128-byte block into the state h; `count` is the number of message bytes so far
 * (this block included), `last` marks the final block. */
static void compress(uint64_t h[8], const uint8_t block[128], uint64_t count, int last)
{
    uint64_t m[16], v[16];
    for (int i = 0; i < 16; i++)
        m[i] = load64(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= count; /* the high word of the 128-bit counter stays 0: messages are < 2^64 bytes */
    if (last)
        v[14] = ~v[14];
    /* The rounds written out, so that every message index is a constant. */
    ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4); ROUND(5);
    ROUND(6); ROUND(7); ROUND(8); ROUND(9); ROUND(0); ROUND(1);
    for (int i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[i + 8];
}

static void digest_one(const uint64_t start[8], const uint8_t *msg, size_t len, uint8_t *out,
                       size_t out_len)
{
    uint64_t h[8];
    uint8_t block[128];
    memcpy(h, start, sizeof h);
    size_t done = 0;
    while (len - done > 128) {
        compress(h, msg + done, (uint64_t)(done + 128), 0);
        done += 128;
    }
    memset(block, 0, sizeof block);
    memcpy(block, msg + done, len - done);
    compress(h, block, (uint64_t)len, 1);
    for (size_t i = 0; i < out_len; i++)
        out[i] = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
}

static PyObject *blake2b_many(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"data", "offsets", "digest_size", "person", NULL};
    Py_buffer data, offsets, person;
    Py_ssize_t size;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*ny*", names, &data, &offsets, &size,
                                     &person))
        return NULL;
    PyObject *result = NULL;
    if (size < 1 || size > 64) {
        PyErr_SetString(PyExc_ValueError, "digest_size must be 1 to 64");
        goto done;
    }
    if (person.len > 16) {
        PyErr_SetString(PyExc_ValueError, "person must be at most 16 bytes");
        goto done;
    }
    if (offsets.len % 4 != 0 || offsets.len < 4) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold n + 1 int32 values");
        goto done;
    }
    Py_ssize_t n = offsets.len / 4 - 1;
    const int32_t *off = (const int32_t *)offsets.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (off[i] < 0 || off[i + 1] < off[i] || off[i + 1] > data.len) {
            PyErr_Format(PyExc_ValueError, "offsets %zd and %zd do not bound a message", i, i + 1);
            goto done;
        }
    }
    /* The parameter block: digest length, no key, fanout 1, depth 1, no salt, `person`. */
    uint64_t start[8];
    uint8_t pers[16] = {0};
    memcpy(pers, person.buf, (size_t)person.len);
    memcpy(start, IV, sizeof start);
    start[0] ^= 0x01010000ULL ^ (uint64_t)size;
    start[6] ^= load64(pers);
    start[7] ^= load64(pers + 8);

    result = PyBytes_FromStringAndSize(NULL, n * size);
    if (result == NULL)
        goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *bytes = (const uint8_t *)data.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        digest_one(start, bytes + off[i], (size_t)(off[i + 1] - off[i]), out + i * size,
                   (size_t)size);
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&person);
    return result;
}

static PyMethodDef methods[] = {
    {"blake2b_many", (PyCFunction)(void (*)(void))blake2b_many, METH_VARARGS | METH_KEYWORDS,
     "blake2b_many(data, offsets, digest_size, person) -> bytes\n\n"
     "The BLAKE2b digests of data[offsets[i]:offsets[i + 1]] (offsets: n + 1 int32), each\n"
     "`digest_size` bytes, back to back; as hashlib.blake2b(digest_size=..., person=...)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rowhash", "Many BLAKE2b digests in one call, without the GIL.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__rowhash(void) { return PyModule_Create(&module); }
