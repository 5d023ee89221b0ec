/* A scanner for plain CSV text of a fixed number of columns, for police.uk's street-level files.
 *
 * Ingest reads 7 of the 12 columns of files that can hold millions of rows. pyarrow's general
 * CSV reader first copies every field of every row into its own buffers and then converts the
 * columns asked for; for these files that costs about as much CPU as pandas' whole read. This
 * module reads one byte range of the file in place, in one pass, without holding the GIL, and
 * gives only the columns asked for: as text, as dictionary codes, or as float64.
 *
 * It reads only the simple shape police.uk writes (blank lines are skipped, as pyarrow skips
 * them) and declines (returns a reason as str) any other: a row with another number of fields,
 * a quote inside a value or in a column it converts, a line break inside quotes, a carriage
 * return that is not part of a line end, a number that is not plain decimal, or a column of
 * words with more than MAX_WORDS distinct values. The caller then reads the file with pyarrow,
 * which gives the same table; tests check that the two agree.
 *
 * The special bytes (comma, quote, CR, LF) are found 16 bytes at a time with SSE2 where the
 * compiler offers it, one byte at a time otherwise.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { SKIP = 0, TEXT = 1, WORDS = 2, FLOAT = 3 };

/* Distinct values of a dictionary column (pointers into the scanned text), found by a hash of
 * their length and first and last 8 bytes in a table of SLOTS entries. */
#define MAX_WORDS 256
#define SLOTS 1024

typedef struct {
    const char *ptr[MAX_WORDS];
    Py_ssize_t len[MAX_WORDS];
    int16_t slot[SLOTS]; /* word index + 1; 0 when empty */
    int n;
} Words;

typedef struct {
    int kind;
    /* TEXT: offsets (int32, rows + 1) and bytes */
    PyObject *offsets, *data;
    Py_ssize_t data_len;
    /* WORDS: codes (int32) */
    PyObject *codes;
    Words *words;
    /* FLOAT: values (float64) and validity bitmap */
    PyObject *values, *valid;
    Py_ssize_t nulls;
} Column;

static const double POW10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Parse -?D+(.D+)? exactly (the correctly rounded double, as any exact parser gives): the
 * digits as an integer below 2^53 and at most 22 decimals make one exact division. Returns 0
 * for any other text. */
static int parse_decimal(const char *s, Py_ssize_t n, double *out)
{
    Py_ssize_t i = 0;
    int negative = 0;
    if (i < n && s[i] == '-') {
        negative = 1;
        i++;
    }
    uint64_t m = 0;
    int digits = 0, decimals = 0, seen_point = 0, int_digits = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (++digits > 17)
                return 0;
            m = m * 10 + (uint64_t)(c - '0');
            if (seen_point)
                decimals++;
            else
                int_digits++;
        } else if (c == '.' && !seen_point) {
            seen_point = 1;
        } else {
            return 0;
        }
    }
    if (!int_digits || (seen_point && !decimals) || m > (1ULL << 53) || decimals > 22)
        return 0;
    double v = (double)m / POW10[decimals];
    *out = negative ? -v : v;
    return 1;
}

static inline unsigned word_hash(const char *p, Py_ssize_t n)
{
    uint64_t a = 0, b = 0;
    size_t k = n < 8 ? (size_t)n : 8;
    memcpy(&a, p, k);
    memcpy(&b, p + n - k, k);
    uint64_t h = ((a * 0x9E3779B97F4A7C15ULL) ^ b ^ (uint64_t)n) * 0xC2B2AE3D27D4EB4FULL;
    return (unsigned)(h >> 54); /* 10 bits: SLOTS */
}

static int word_code(Words *w, const char *p, Py_ssize_t n)
{
    for (unsigned i = word_hash(p, n);; i = (i + 1) & (SLOTS - 1)) {
        int at = w->slot[i] - 1;
        if (at < 0) {
            if (w->n == MAX_WORDS)
                return -1;
            w->ptr[w->n] = p;
            w->len[w->n] = n;
            w->slot[i] = (int16_t)(w->n + 1);
            return w->n++;
        }
        if (w->len[at] == n && memcmp(w->ptr[at], p, (size_t)n) == 0)
            return at;
    }
}

/* Byte classes: 1 comma, 2 quote, 3 carriage return, 4 line feed. */
static unsigned char CLASS[256];

/* The positions of the special bytes (comma, quote, CR, LF) of data[start:stop], in order: a
 * 16-byte block at a time, its specials as a bit mask. */
typedef struct {
    const char *block, *stop;
    unsigned mask;
} Specials;

static inline void load_block(Specials *sp)
{
    const char *b = sp->block;
    unsigned m = 0;
#ifdef __SSE2__
    if (sp->stop - b >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)b);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))));
        sp->mask = (unsigned)_mm_movemask_epi8(hit);
        return;
    }
#endif
    Py_ssize_t n = sp->stop - b < 16 ? sp->stop - b : 16;
    for (Py_ssize_t i = 0; i < n; i++)
        if (CLASS[(unsigned char)b[i]])
            m |= 1u << i;
    sp->mask = m;
}

/* The next special byte, or stop. */
static inline const char *next_special(Specials *sp)
{
    while (sp->mask == 0) {
        if (sp->stop - sp->block <= 16)
            return sp->stop;
        sp->block += 16;
        load_block(sp);
    }
    const char *at = sp->block + __builtin_ctz(sp->mask);
    sp->mask &= sp->mask - 1;
    return at;
}

static void free_columns(Column *cols, int n)
{
    for (int i = 0; i < n; i++) {
        Py_XDECREF(cols[i].offsets);
        Py_XDECREF(cols[i].data);
        Py_XDECREF(cols[i].codes);
        Py_XDECREF(cols[i].values);
        Py_XDECREF(cols[i].valid);
        PyMem_RawFree(cols[i].words);
    }
    PyMem_RawFree(cols);
}

/* Convert the fields fs[i]:fe[i] of one row into the columns; NULL or the reason to decline. */
static inline const char *convert_row(Column *cols, int ncols, Py_ssize_t row, const char **fs,
                                      const char **fe)
{
    for (int i = 0; i < ncols; i++) {
        Column *col = &cols[i];
        Py_ssize_t n = fe[i] - fs[i];
        switch (col->kind) {
        case TEXT: {
            int32_t *off = (int32_t *)PyByteArray_AS_STRING(col->offsets);
            if (col->data_len + n > INT32_MAX)
                return "a column of more than 2 GB";
            memcpy(PyByteArray_AS_STRING(col->data) + col->data_len, fs[i], (size_t)n);
            col->data_len += n;
            off[row + 1] = (int32_t)col->data_len;
            break;
        }
        case WORDS: {
            int code = word_code(col->words, fs[i], n);
            if (code < 0)
                return "a column of words has too many distinct values";
            ((int32_t *)PyByteArray_AS_STRING(col->codes))[row] = code;
            break;
        }
        case FLOAT: {
            double v = 0.0;
            unsigned char *bits = (unsigned char *)PyByteArray_AS_STRING(col->valid);
            if ((row & 7) == 0)
                bits[row >> 3] = 0;
            if (n == 0)
                col->nulls++;
            else if (parse_decimal(fs[i], n, &v))
                bits[row >> 3] |= (unsigned char)(1u << (row & 7));
            else
                return "a number that is not plain decimal";
            ((double *)PyByteArray_AS_STRING(col->values))[row] = v;
            break;
        }
        default:
            break;
        }
    }
    return NULL;
}

/* Scan the rows of data[start:end] into the columns (room for `room` rows); return NULL or the
 * reason to decline. */
static const char *scan_rows(const char *data, Py_ssize_t start, Py_ssize_t end, int ncols,
                             const unsigned char *kinds, Column *cols, Py_ssize_t room,
                             Py_ssize_t *rows_out)
{
    Py_ssize_t row = 0;
    const char *stop = data + end;
    const char **fs = PyMem_RawMalloc(sizeof(char *) * (size_t)ncols * 2);
    if (fs == NULL)
        return "out of memory";
    const char **fe = fs + ncols;
    const char *why = NULL;
    Specials sp = {data + start, stop, 0};
    if (start < end)
        load_block(&sp);
    int f = 0;
    fs[0] = data + start;
    for (;;) {
        const char *at = next_special(&sp);
        char c = at < stop ? *at : '\n';
        if (c == ',') {
            fe[f] = at;
            if (++f == ncols) {
                why = "a row has more fields than the header";
                break;
            }
            fs[f] = at + 1;
            continue;
        }
        if (c == '"') {
            if (at != fs[f] || kinds[f] != SKIP) {
                why = "a quote inside a value, or in a column that is converted";
                break;
            }
            /* A quoted value: to its closing quote ("" is a quote inside it). */
            for (;;) {
                at = next_special(&sp);
                if (at == stop || *at == '\n' || *at == '\r') {
                    why = "a line break inside a quoted value";
                    break;
                }
                if (*at != '"')
                    continue;
                if (at + 1 < stop && at[1] == '"') {
                    next_special(&sp); /* the second quote of the pair */
                    continue;
                }
                break;
            }
            if (why != NULL)
                break;
            if (at + 1 < stop && at[1] != ',' && at[1] != '\r' && at[1] != '\n') {
                why = "text after a closing quote";
                break;
            }
            continue;
        }
        /* A line end: LF, CR LF, or the end of the range. */
        const char *q = at;
        if (c == '\r') {
            if (at + 1 < stop && at[1] == '\n')
                at = next_special(&sp); /* the LF */
            else if (at + 1 < stop) {
                why = "a carriage return inside a line";
                break;
            }
        }
        if (f == 0 && q == fs[0]) {
            /* a blank line, skipped as the reader skips it */
        } else {
            fe[f] = q;
            if (f != ncols - 1) {
                why = "a row has fewer fields than the header";
                break;
            }
            if (row == room) {
                why = "more rows than expected";
                break;
            }
            if ((why = convert_row(cols, ncols, row, fs, fe)) != NULL)
                break;
            row++;
        }
        if (at >= stop)
            break;
        f = 0;
        fs[0] = at + 1;
    }
    PyMem_RawFree(fs);
    *rows_out = row;
    return why;
}

static PyObject *scan(PyObject *self, PyObject *args)
{
    Py_buffer buf, kinds_buf;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "y*nny*", &buf, &start, &end, &kinds_buf))
        return NULL;
    PyObject *result = NULL;
    Column *cols = NULL;
    int ncols = (int)kinds_buf.len;
    const unsigned char *kinds = (const unsigned char *)kinds_buf.buf;
    if (start < 0 || end > buf.len || start > end || ncols < 1) {
        PyErr_SetString(PyExc_ValueError, "bad byte range or no columns");
        goto out;
    }
    const char *data = (const char *)buf.buf;
    /* Each row takes at least len(kinds) bytes: its commas and its line end. */
    Py_ssize_t lines = (end - start) / ncols + 1;
    cols = PyMem_RawCalloc((size_t)ncols, sizeof(Column));
    if (cols == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (int i = 0; i < ncols; i++) {
        Column *col = &cols[i];
        col->kind = kinds[i];
        if (col->kind == TEXT) {
            col->offsets = PyByteArray_FromStringAndSize(NULL, (lines + 1) * 4);
            col->data = PyByteArray_FromStringAndSize(NULL, end - start + 1);
            if (col->offsets == NULL || col->data == NULL)
                goto out;
            ((int32_t *)PyByteArray_AS_STRING(col->offsets))[0] = 0;
        } else if (col->kind == WORDS) {
            col->codes = PyByteArray_FromStringAndSize(NULL, lines * 4);
            col->words = PyMem_RawCalloc(1, sizeof(Words));
            if (col->codes == NULL || col->words == NULL) {
                if (col->words == NULL)
                    PyErr_NoMemory();
                goto out;
            }
        } else if (col->kind == FLOAT) {
            col->values = PyByteArray_FromStringAndSize(NULL, lines * 8);
            col->valid = PyByteArray_FromStringAndSize(NULL, (lines + 7) / 8);
            if (col->values == NULL || col->valid == NULL)
                goto out;
        } else if (col->kind != SKIP) {
            PyErr_Format(PyExc_ValueError, "unknown column kind %d", col->kind);
            goto out;
        }
    }
    const char *why;
    Py_ssize_t rows = 0;
    Py_BEGIN_ALLOW_THREADS
    why = scan_rows(data, start, end, ncols, kinds, cols, lines, &rows);
    Py_END_ALLOW_THREADS
    if (why != NULL) {
        result = PyUnicode_FromString(why);
        goto out;
    }
    PyObject *out_cols = PyList_New(0);
    if (out_cols == NULL)
        goto out;
    for (int i = 0; i < ncols; i++) {
        Column *col = &cols[i];
        PyObject *item = NULL;
        if (col->kind == TEXT) {
            if (PyByteArray_Resize(col->offsets, (rows + 1) * 4) < 0
                || PyByteArray_Resize(col->data, col->data_len) < 0)
                goto fail;
            item = Py_BuildValue("(iOO)", TEXT, col->offsets, col->data);
        } else if (col->kind == WORDS) {
            if (PyByteArray_Resize(col->codes, rows * 4) < 0)
                goto fail;
            PyObject *words = PyList_New(col->words->n);
            if (words == NULL)
                goto fail;
            for (int w = 0; w < col->words->n; w++) {
                PyObject *b = PyBytes_FromStringAndSize(col->words->ptr[w], col->words->len[w]);
                if (b == NULL) {
                    Py_DECREF(words);
                    goto fail;
                }
                PyList_SET_ITEM(words, w, b);
            }
            item = Py_BuildValue("(iON)", WORDS, col->codes, words);
        } else if (col->kind == FLOAT) {
            if (PyByteArray_Resize(col->values, rows * 8) < 0
                || PyByteArray_Resize(col->valid, (rows + 7) / 8) < 0)
                goto fail;
            item = Py_BuildValue("(iOOn)", FLOAT, col->values, col->valid, col->nulls);
        } else {
            continue;
        }
        if (item == NULL || PyList_Append(out_cols, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    result = Py_BuildValue("(nN)", rows, out_cols);
    goto out;
fail:
    Py_DECREF(out_cols);
out:
    if (cols != NULL)
        free_columns(cols, ncols);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&kinds_buf);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, start, end, kinds) -> (rows, columns) | str\n\n"
     "Read the CSV rows of data[start:end] (start at a line start, no header), each with\n"
     "len(kinds) fields. kinds[i] says what to make of field i: 0 skip it, 1 text (int32\n"
     "offsets and bytes), 2 dictionary codes (int32 codes and the distinct values as bytes),\n"
     "3 float64 (values, validity bitmap, count of empty fields). Blank lines are skipped.\n"
     "Returns the row count and, per converted field, (kind, ...) as above; or, for text\n"
     "this scanner does not read, a str saying why."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_csvscan", "A scanner for police.uk's plain CSV text.", -1, methods,
};

PyMODINIT_FUNC PyInit__csvscan(void)
{
    CLASS[(unsigned char)','] = 1;
    CLASS[(unsigned char)'"'] = 2;
    CLASS[(unsigned char)'\r'] = 3;
    CLASS[(unsigned char)'\n'] = 4;
    return PyModule_Create(&module);
}
