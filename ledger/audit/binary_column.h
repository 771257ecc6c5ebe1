/* An Arrow binary (or string) column as Python hands it to C: (offsets, data, offset, length),
 * its int32 offsets buffer, its data buffer (both through the buffer protocol), the array's
 * offset into the offsets and its length. The buffers may come from a forged export: a column
 * is checked whole (offsets inside their buffer, never decreasing, inside the data) before a
 * value is read, and what does not hold is a ValueError naming the column.
 *
 * Shared by the C extensions that read export columns (ledger/audit/row_digests.c,
 * projections/replay/data_members.c); each includes it once.
 */
#ifndef GRANT_LEDGER_BINARY_COLUMN_H
#define GRANT_LEDGER_BINARY_COLUMN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define COLUMN_OFFSET_BYTES ((Py_ssize_t)sizeof(int32_t))
#define COLUMN_FIELDS 4
#define COLUMN_NAME_CHARS 64

typedef struct {
    Py_buffer offsets;
    Py_buffer data;
    Py_ssize_t first; /* the array's offset into its offsets buffer, in values */
    Py_ssize_t length;
} BinaryColumn;

/* Why a column cannot be read, found without the GIL and reported with it. */
typedef enum {
    COLUMN_OK = 0,
    COLUMN_LENGTH,
    COLUMN_OFFSETS_SHORT,
    COLUMN_NEGATIVE_START,
    COLUMN_DECREASING,
    COLUMN_PAST_DATA,
} ColumnFault;

/* The value's offset at `index` of the array (0..length): only after check_column passed. */
static inline int32_t column_offset(const BinaryColumn *column, Py_ssize_t index) {
    int32_t value;
    /* The offsets buffer need not be aligned (any object with the buffer protocol). */
    memcpy(&value,
           (const char *)column->offsets.buf + (column->first + index) * COLUMN_OFFSET_BYTES,
           sizeof value);
    return value;
}

static inline const char *column_value(const BinaryColumn *column, Py_ssize_t row,
                                       Py_ssize_t *size) {
    int32_t start = column_offset(column, row);
    *size = (Py_ssize_t)(column_offset(column, row + 1) - start);
    return (const char *)column->data.buf + start;
}

/* Whether the column holds `rows` values whose every byte lies inside its buffers. */
static ColumnFault check_column(const BinaryColumn *column, Py_ssize_t rows, Py_ssize_t *at_row) {
    *at_row = 0;
    if (column->length != rows || column->first < 0) {
        return COLUMN_LENGTH;
    }
    if (rows == 0) {
        return COLUMN_OK; /* nothing is read: an empty array may come without buffers */
    }
    Py_ssize_t offset_count = column->offsets.len / COLUMN_OFFSET_BYTES;
    if (offset_count < 1 || column->first > offset_count - 1 - rows) {
        return COLUMN_OFFSETS_SHORT;
    }
    int32_t previous = column_offset(column, 0);
    if (previous < 0) {
        return COLUMN_NEGATIVE_START;
    }
    for (Py_ssize_t row = 0; row < rows; row++) {
        int32_t next = column_offset(column, row + 1);
        if (next < previous) {
            *at_row = row;
            return COLUMN_DECREASING;
        }
        previous = next;
    }
    if ((Py_ssize_t)previous > column->data.len) {
        *at_row = rows;
        return COLUMN_PAST_DATA;
    }
    return COLUMN_OK;
}

static void raise_column_fault(ColumnFault fault, const char *name, const BinaryColumn *column,
                               Py_ssize_t rows, Py_ssize_t at_row) {
    switch (fault) {
    case COLUMN_LENGTH:
        PyErr_Format(PyExc_ValueError,
                     "%s: %zd values from offset %zd, expected %zd (one a row)", name,
                     column->length, column->first, rows);
        break;
    case COLUMN_OFFSETS_SHORT:
        PyErr_Format(PyExc_ValueError,
                     "%s: its offsets buffer holds %zd bytes, too few for %zd values "
                     "from offset %zd",
                     name, column->offsets.len, rows, column->first);
        break;
    case COLUMN_NEGATIVE_START:
        PyErr_Format(PyExc_ValueError, "%s: its first offset is negative", name);
        break;
    case COLUMN_DECREASING:
        PyErr_Format(PyExc_ValueError, "%s: its offsets decrease at row %zd", name, at_row);
        break;
    case COLUMN_PAST_DATA:
        PyErr_Format(PyExc_ValueError, "%s: its offsets run past its data buffer (%zd bytes)",
                     name, column->data.len);
        break;
    case COLUMN_OK:
        break;
    }
}

/* The error being raised, its message prefixed with the column it is about (a number that does
 * not fit is a bad value like any other). Always -1. */
static int name_the_column(const char *name) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    PyObject *raised = PyErr_GivenExceptionMatches(type, PyExc_OverflowError) ? PyExc_ValueError
                                                                              : type;
    PyErr_Format(raised, "%s: %S", name, value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return -1;
}

static void release_column(BinaryColumn *column) {
    PyBuffer_Release(&column->offsets);
    PyBuffer_Release(&column->data);
}

/* A column from Python's (offsets, data, offset, length): 0 with both buffers held (release
 * them with release_column), or -1 with an error naming the column and nothing held. */
static int read_column(PyObject *item, const char *name, BinaryColumn *column) {
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != COLUMN_FIELDS) {
        PyErr_Format(PyExc_TypeError, "%s: expected (offsets, data, offset, length), got %.80s",
                     name, Py_TYPE(item)->tp_name);
        return -1;
    }
    column->first = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 2));
    if (column->first == -1 && PyErr_Occurred()) {
        return name_the_column(name);
    }
    column->length = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 3));
    if (column->length == -1 && PyErr_Occurred()) {
        return name_the_column(name);
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, 0), &column->offsets, PyBUF_SIMPLE) < 0) {
        return name_the_column(name);
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, 1), &column->data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&column->offsets);
        return name_the_column(name);
    }
    return 0;
}

#endif
