/* SHA-256 of each row of pieces joined, in one pass: the offline replay's hot loop.
 *
 * A row is its 32-byte prev hash, then each piece in order: a literal (the same bytes every
 * row) or the row's value of an Arrow binary column, given by its buffers (int32 offsets,
 * data) and the array's offset and length. No Python object is made a row, the GIL is released
 * while hashing, and OpenSSL's libcrypto (the library hashlib uses, SHA-NI where the CPU has
 * it) does the hashing. The buffers come from an export, which may be forged: every offset is
 * checked against its buffers before a byte is read, and a bad piece is a ValueError naming it.
 *
 * What the pieces are (the chain's canonical bytes) is decided in Python, in one place
 * (ledger/audit/batch_proof.py); this only concatenates and hashes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#define DIGEST_BYTES 32
#define OFFSET_BYTES ((Py_ssize_t)sizeof(int32_t))
#define COLUMN_FIELDS 4

typedef struct {
    int is_column;
    Py_buffer literal;
    Py_buffer offsets;
    Py_buffer data;
    Py_ssize_t first; /* the array's offset into its offsets buffer, in values */
    Py_ssize_t length;
} Piece;

/* Why a column piece cannot be read, found without the GIL and reported with it. */
typedef enum {
    PIECE_OK = 0,
    PIECE_LENGTH,
    PIECE_OFFSETS_SHORT,
    PIECE_NEGATIVE_START,
    PIECE_DECREASING,
    PIECE_PAST_DATA,
} PieceFault;

static int32_t offset_at(const Piece *piece, Py_ssize_t index) {
    int32_t value;
    /* The offsets buffer need not be aligned (any object with the buffer protocol). */
    memcpy(&value, (const char *)piece->offsets.buf + (piece->first + index) * OFFSET_BYTES,
           sizeof value);
    return value;
}

static PieceFault check_column(const Piece *piece, Py_ssize_t rows, Py_ssize_t *at_row) {
    *at_row = 0;
    if (piece->length != rows || piece->first < 0) {
        return PIECE_LENGTH;
    }
    if (rows == 0) {
        return PIECE_OK; /* nothing is read: an empty array may come without buffers */
    }
    Py_ssize_t offset_count = piece->offsets.len / OFFSET_BYTES;
    if (offset_count < 1 || piece->first > offset_count - 1 - rows) {
        return PIECE_OFFSETS_SHORT;
    }
    int32_t previous = offset_at(piece, 0);
    if (previous < 0) {
        return PIECE_NEGATIVE_START;
    }
    for (Py_ssize_t row = 0; row < rows; row++) {
        int32_t next = offset_at(piece, row + 1);
        if (next < previous) {
            *at_row = row;
            return PIECE_DECREASING;
        }
        previous = next;
    }
    if ((Py_ssize_t)previous > piece->data.len) {
        *at_row = rows;
        return PIECE_PAST_DATA;
    }
    return PIECE_OK;
}

static void raise_fault(PieceFault fault, Py_ssize_t index, const Piece *piece, Py_ssize_t rows,
                        Py_ssize_t at_row) {
    switch (fault) {
    case PIECE_LENGTH:
        PyErr_Format(PyExc_ValueError,
                     "piece %zd: %zd values from offset %zd, expected %zd (one a row)", index,
                     piece->length, piece->first, rows);
        break;
    case PIECE_OFFSETS_SHORT:
        PyErr_Format(PyExc_ValueError,
                     "piece %zd: its offsets buffer holds %zd bytes, too few for %zd values "
                     "from offset %zd",
                     index, piece->offsets.len, rows, piece->first);
        break;
    case PIECE_NEGATIVE_START:
        PyErr_Format(PyExc_ValueError, "piece %zd: its first offset is negative", index);
        break;
    case PIECE_DECREASING:
        PyErr_Format(PyExc_ValueError, "piece %zd: its offsets decrease at row %zd", index,
                     at_row);
        break;
    case PIECE_PAST_DATA:
        PyErr_Format(PyExc_ValueError,
                     "piece %zd: its offsets run past its data buffer (%zd bytes)", index,
                     piece->data.len);
        break;
    case PIECE_OK:
        break;
    }
}

static void release_pieces(Piece *pieces, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        if (pieces[i].is_column) {
            PyBuffer_Release(&pieces[i].offsets);
            PyBuffer_Release(&pieces[i].data);
        } else {
            PyBuffer_Release(&pieces[i].literal);
        }
    }
    PyMem_Free(pieces);
}

/* The error being raised, its message prefixed with the piece it is about (a number that does
 * not fit is a bad value like any other). */
static int name_the_piece(Py_ssize_t index) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    PyObject *raised = PyErr_GivenExceptionMatches(type, PyExc_OverflowError) ? PyExc_ValueError
                                                                              : type;
    PyErr_Format(raised, "piece %zd: %S", index, value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return -1;
}

/* One piece from Python: bytes, or (offsets, data, offset, length). 0, or -1 with an error. */
static int read_piece(PyObject *item, Py_ssize_t index, Piece *piece) {
    if (PyBytes_Check(item)) {
        piece->is_column = 0;
        return PyObject_GetBuffer(item, &piece->literal, PyBUF_SIMPLE);
    }
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != COLUMN_FIELDS) {
        PyErr_Format(PyExc_TypeError,
                     "piece %zd: expected bytes or (offsets, data, offset, length), got %.80s",
                     index, Py_TYPE(item)->tp_name);
        return -1;
    }
    piece->first = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 2));
    if (piece->first == -1 && PyErr_Occurred()) {
        return name_the_piece(index);
    }
    piece->length = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 3));
    if (piece->length == -1 && PyErr_Occurred()) {
        return name_the_piece(index);
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, 0), &piece->offsets, PyBUF_SIMPLE) < 0) {
        return name_the_piece(index);
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, 1), &piece->data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&piece->offsets);
        return name_the_piece(index);
    }
    piece->is_column = 1;
    return 0;
}

/* Every row's digest into `out`; 0, or -1 when libcrypto fails (no Python calls: no GIL). */
static int hash_rows(const unsigned char *prev, const Piece *pieces, Py_ssize_t count,
                     Py_ssize_t rows, unsigned char *out) {
    EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    int ok = sha256 != NULL && context != NULL;
    for (Py_ssize_t row = 0; ok && row < rows; row++) {
        ok = EVP_DigestInit_ex2(context, sha256, NULL) &&
             EVP_DigestUpdate(context, prev + row * DIGEST_BYTES, DIGEST_BYTES);
        for (Py_ssize_t i = 0; ok && i < count; i++) {
            const Piece *piece = &pieces[i];
            if (piece->is_column) {
                int32_t start = offset_at(piece, row);
                int32_t end = offset_at(piece, row + 1);
                ok = EVP_DigestUpdate(context, (const char *)piece->data.buf + start,
                                      (size_t)(end - start));
            } else {
                ok = EVP_DigestUpdate(context, piece->literal.buf, (size_t)piece->literal.len);
            }
        }
        ok = ok && EVP_DigestFinal_ex(context, out + row * DIGEST_BYTES, NULL);
    }
    EVP_MD_CTX_free(context);
    EVP_MD_free(sha256);
    return ok ? 0 : -1;
}

static PyObject *sha256_rows(PyObject *module, PyObject *args) {
    Py_buffer prev;
    PyObject *given;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*O:sha256_rows", &prev, &given)) {
        return NULL;
    }
    PyObject *items = PySequence_Tuple(given); /* our own references: the list may change */
    if (items == NULL) {
        PyBuffer_Release(&prev);
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(items);
    Piece *pieces = PyMem_Calloc((size_t)(count > 0 ? count : 1), sizeof(Piece));
    PyObject *digests = NULL;
    Py_ssize_t read = 0;
    if (pieces == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (prev.len % DIGEST_BYTES != 0) {
        PyErr_Format(PyExc_ValueError, "prev hashes: %zd bytes, not %d a row", prev.len,
                     DIGEST_BYTES);
        goto done;
    }
    Py_ssize_t rows = prev.len / DIGEST_BYTES;
    for (; read < count; read++) {
        if (read_piece(PyTuple_GET_ITEM(items, read), read, &pieces[read]) < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t at_row;
        PieceFault fault = pieces[i].is_column ? check_column(&pieces[i], rows, &at_row) : PIECE_OK;
        if (fault != PIECE_OK) {
            raise_fault(fault, i, &pieces[i], rows, at_row);
            goto done;
        }
    }
    digests = PyBytes_FromStringAndSize(NULL, rows * DIGEST_BYTES);
    if (digests == NULL) {
        goto done;
    }
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = hash_rows(prev.buf, pieces, count, rows, (unsigned char *)PyBytes_AS_STRING(digests));
    Py_END_ALLOW_THREADS
    if (failed) {
        Py_CLEAR(digests);
        PyErr_SetString(PyExc_RuntimeError, "libcrypto's SHA-256 failed");
    }
done:
    if (pieces != NULL) {
        release_pieces(pieces, read);
    }
    Py_DECREF(items);
    PyBuffer_Release(&prev);
    return digests;
}

static PyMethodDef methods[] = {
    {"sha256_rows", sha256_rows, METH_VARARGS,
     "sha256_rows(prev_hashes, pieces) -> bytes: SHA-256 of each row (its 32-byte prev hash, "
     "then each piece: literal bytes, or (offsets, data, offset, length) of an Arrow binary "
     "column), 32 bytes a row."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    "ledger.audit.row_digests",
    "SHA-256 of each row of pieces joined (libcrypto, no Python object a row).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit_row_digests(void) { return PyModule_Create(&module_definition); }
