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
#include "binary_column.h"

#include <openssl/evp.h>

#define DIGEST_BYTES 32

typedef struct {
    int is_column;
    Py_buffer literal;
    BinaryColumn column;
} Piece;

static void release_pieces(Piece *pieces, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        if (pieces[i].is_column) {
            release_column(&pieces[i].column);
        } else {
            PyBuffer_Release(&pieces[i].literal);
        }
    }
    PyMem_Free(pieces);
}

/* One piece from Python: bytes, or a column. 0, or -1 with an error naming the piece. */
static int read_piece(PyObject *item, const char *name, Piece *piece) {
    if (PyBytes_Check(item)) {
        piece->is_column = 0;
        return PyObject_GetBuffer(item, &piece->literal, PyBUF_SIMPLE);
    }
    if (!PyTuple_Check(item)) {
        PyErr_Format(PyExc_TypeError,
                     "%s: expected bytes or (offsets, data, offset, length), got %.80s", name,
                     Py_TYPE(item)->tp_name);
        return -1;
    }
    if (read_column(item, name, &piece->column) < 0) {
        return -1;
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
                Py_ssize_t size;
                const char *value = column_value(&piece->column, row, &size);
                ok = EVP_DigestUpdate(context, value, (size_t)size);
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
    char name[COLUMN_NAME_CHARS];
    for (; read < count; read++) {
        PyOS_snprintf(name, sizeof name, "piece %zd", read);
        if (read_piece(PyTuple_GET_ITEM(items, read), name, &pieces[read]) < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t at_row;
        ColumnFault fault =
            pieces[i].is_column ? check_column(&pieces[i].column, rows, &at_row) : COLUMN_OK;
        if (fault != COLUMN_OK) {
            PyOS_snprintf(name, sizeof name, "piece %zd", i);
            raise_column_fault(fault, name, &pieces[i].column, rows, at_row);
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
