/* Members of the export's `data` column read in C: the offline replay's column source
 * (projections/replay/export_columns.py) asks, for chosen rows, a member's integer, a member's
 * string or a member's map of years, with exactly the meaning of the regular expressions it used
 * before over the same canonical JSON text:
 *   integer_members  "KEY":(-?[0-9]+)        the leftmost match; 0 where none
 *   string_members   "KEY":"([^"]*)"         the first; missing where none
 *   year_maps        "KEY":{([^}]*)}         the first, its text split at commas, each part
 *                                            "([0-9]+)":(-?[0-9]+); a row without its map or
 *                                            with another part is a ValueError naming the row
 * A number that does not fit 64 bits is a ValueError (as Arrow's cast of the text was).
 * The column's buffers are checked whole before any value is read (binary_column.h).
 */
#include "ledger/audit/binary_column.h"

#include <stdint.h>

#define VALUE_BYTES ((Py_ssize_t)sizeof(int64_t))

/* The rows asked for: int64 indexes into the column, each checked against its length. */
typedef struct {
    BinaryColumn column;
    Py_buffer rows;
    Py_buffer key;
    Py_ssize_t count;
} Request;

static Py_ssize_t row_at(const Request *request, Py_ssize_t index) {
    int64_t row;
    memcpy(&row, (const char *)request->rows.buf + index * VALUE_BYTES, sizeof row);
    return (Py_ssize_t)row;
}

static void release_request(Request *request) {
    release_column(&request->column);
    PyBuffer_Release(&request->rows);
    PyBuffer_Release(&request->key);
}

/* (column, rows, key) from Python, checked: 0, or -1 with an error and nothing held. */
static int read_request(PyObject *args, const char *function, Request *request) {
    PyObject *column;
    char format[COLUMN_NAME_CHARS];
    PyOS_snprintf(format, sizeof format, "Oy*y*:%s", function);
    if (!PyArg_ParseTuple(args, format, &column, &request->rows, &request->key)) {
        return -1;
    }
    if (read_column(column, "data", &request->column) < 0) {
        PyBuffer_Release(&request->rows);
        PyBuffer_Release(&request->key);
        return -1;
    }
    Py_ssize_t at_row;
    ColumnFault fault = check_column(&request->column, request->column.length, &at_row);
    if (fault != COLUMN_OK) {
        raise_column_fault(fault, "data", &request->column, request->column.length, at_row);
        release_request(request);
        return -1;
    }
    if (request->rows.len % VALUE_BYTES != 0 || request->key.len == 0) {
        PyErr_SetString(PyExc_ValueError, "rows: int64 indexes; key: not empty");
        release_request(request);
        return -1;
    }
    request->count = request->rows.len / VALUE_BYTES;
    for (Py_ssize_t i = 0; i < request->count; i++) {
        Py_ssize_t row = row_at(request, i);
        if (row < 0 || row >= request->column.length) {
            PyErr_Format(PyExc_ValueError, "rows: %zd is not a row of the %zd", row,
                         request->column.length);
            release_request(request);
            return -1;
        }
    }
    return 0;
}

/* -?[0-9]+ at the start of text: the characters it takes (0: not a number; -1: it does not fit
 * 64 bits), its value in *value. */
static Py_ssize_t parse_integer(const char *text, Py_ssize_t size, int signed_ok, int64_t *value) {
    Py_ssize_t at = 0;
    int negative = signed_ok && size > 0 && text[0] == '-';
    at += negative;
    Py_ssize_t digits_from = at;
    uint64_t magnitude = 0;
    int overflow = 0;
    for (; at < size && text[at] >= '0' && text[at] <= '9'; at++) {
        uint64_t digit = (uint64_t)(text[at] - '0');
        overflow |= magnitude > (UINT64_MAX - digit) / 10;
        magnitude = magnitude * 10 + digit;
    }
    if (at == digits_from) {
        return 0;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (overflow || magnitude > limit) {
        return -1;
    }
    *value = negative ? (magnitude == 0 ? 0 : -(int64_t)(magnitude - 1) - 1) : (int64_t)magnitude;
    return at;
}

static const char *find(const char *text, Py_ssize_t size, const Request *request) {
    return memmem(text, (size_t)size, request->key.buf, (size_t)request->key.len);
}

static PyObject *number_too_large(Py_ssize_t row) {
    PyErr_Format(PyExc_ValueError, "data of row %zd: a number does not fit 64 bits", row);
    return NULL;
}

static PyObject *integer_members(PyObject *module, PyObject *args) {
    Request request;
    (void)module;
    if (read_request(args, "integer_members", &request) < 0) {
        return NULL;
    }
    PyObject *values = PyBytes_FromStringAndSize(NULL, request.count * VALUE_BYTES);
    for (Py_ssize_t i = 0; values != NULL && i < request.count; i++) {
        Py_ssize_t row = row_at(&request, i), size, from = 0;
        const char *text = column_value(&request.column, row, &size);
        int64_t value = 0;
        const char *found;
        while ((found = find(text + from, size - from, &request)) != NULL) {
            Py_ssize_t after = found - text + request.key.len;
            Py_ssize_t taken = parse_integer(text + after, size - after, 1, &value);
            if (taken < 0) {
                Py_CLEAR(values);
                number_too_large(row);
                break;
            }
            if (taken > 0) {
                break;
            }
            from = found - text + 1; /* the regular expression tries the next start */
        }
        if (values != NULL) {
            memcpy(PyBytes_AS_STRING(values) + i * VALUE_BYTES, &value, sizeof value);
        }
    }
    release_request(&request);
    return values;
}

/* The first member's string (up to the next quote): its start, or NULL with none. */
static const char *first_string(const char *text, Py_ssize_t size, const Request *request,
                                Py_ssize_t *length) {
    const char *found = find(text, size, request);
    if (found == NULL) {
        return NULL;
    }
    const char *start = found + request->key.len;
    const char *end = memchr(start, '"', (size_t)(text + size - start));
    *length = end == NULL ? 0 : end - start;
    return end == NULL ? NULL : start;
}

static PyObject *string_members(PyObject *module, PyObject *args) {
    Request request;
    (void)module;
    if (read_request(args, "string_members", &request) < 0) {
        return NULL;
    }
    Py_ssize_t total = 0, length;
    for (Py_ssize_t i = 0; i < request.count; i++) {
        Py_ssize_t size;
        const char *text = column_value(&request.column, row_at(&request, i), &size);
        total += first_string(text, size, &request, &length) != NULL ? length : 0;
    }
    if (total > INT32_MAX) {
        release_request(&request);
        PyErr_SetString(PyExc_ValueError, "data: the strings found exceed 2 GiB");
        return NULL;
    }
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (request.count + 1) * 4);
    PyObject *strings = PyBytes_FromStringAndSize(NULL, total);
    PyObject *found = PyBytes_FromStringAndSize(NULL, request.count);
    PyObject *result = NULL;
    if (offsets != NULL && strings != NULL && found != NULL) {
        int32_t end = 0;
        memcpy(PyBytes_AS_STRING(offsets), &end, sizeof end);
        for (Py_ssize_t i = 0; i < request.count; i++) {
            Py_ssize_t size;
            const char *text = column_value(&request.column, row_at(&request, i), &size);
            const char *start = first_string(text, size, &request, &length);
            PyBytes_AS_STRING(found)[i] = start != NULL;
            if (start != NULL) {
                memcpy(PyBytes_AS_STRING(strings) + end, start, (size_t)length);
                end += (int32_t)length;
            }
            memcpy(PyBytes_AS_STRING(offsets) + (i + 1) * 4, &end, sizeof end);
        }
        result = PyTuple_Pack(3, offsets, strings, found);
    }
    Py_XDECREF(offsets);
    Py_XDECREF(strings);
    Py_XDECREF(found);
    release_request(&request);
    return result;
}

/* The pairs of a row's map of years, written to years/amounts when not NULL: how many (>= 1),
 * -1 when the row has no map or a part is not "YYYY":amount, -2 when a number does not fit. */
static Py_ssize_t map_pairs(const char *text, Py_ssize_t size, const Request *request,
                            int64_t *years, int64_t *amounts) {
    const char *found = find(text, size, request);
    if (found == NULL) {
        return -1;
    }
    const char *at = found + request->key.len;
    const char *end = memchr(at, '}', (size_t)(text + size - at));
    if (end == NULL) {
        return -1;
    }
    Py_ssize_t pairs = 0;
    for (;;) {
        int64_t year, amount;
        if (at >= end || *at++ != '"') {
            return -1;
        }
        Py_ssize_t taken = parse_integer(at, end - at, 0, &year);
        if (taken <= 0) {
            return taken < 0 ? -2 : -1;
        }
        at += taken;
        if (end - at < 2 || at[0] != '"' || at[1] != ':') {
            return -1;
        }
        at += 2;
        taken = parse_integer(at, end - at, 1, &amount);
        if (taken <= 0) {
            return taken < 0 ? -2 : -1;
        }
        at += taken;
        if (years != NULL) {
            years[pairs] = year;
            amounts[pairs] = amount;
        }
        pairs++;
        if (at == end) {
            return pairs;
        }
        if (*at++ != ',') {
            return -1;
        }
    }
}

static PyObject *year_maps(PyObject *module, PyObject *args) {
    Request request;
    (void)module;
    if (read_request(args, "year_maps", &request) < 0) {
        return NULL;
    }
    PyObject *counts = PyBytes_FromStringAndSize(NULL, request.count * VALUE_BYTES);
    PyObject *years = NULL, *amounts = NULL, *result = NULL;
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; counts != NULL && i < request.count; i++) {
        Py_ssize_t row = row_at(&request, i), size;
        const char *text = column_value(&request.column, row, &size);
        int64_t pairs = map_pairs(text, size, &request, NULL, NULL);
        if (pairs < 0) {
            Py_CLEAR(counts);
            if (pairs == -2) {
                number_too_large(row);
            } else {
                PyErr_Format(PyExc_ValueError,
                             "data of row %zd: no map of years after %R (\"YYYY\":amount,...})",
                             row, request.key.obj);
            }
            break;
        }
        memcpy(PyBytes_AS_STRING(counts) + i * VALUE_BYTES, &pairs, sizeof pairs);
        total += pairs;
    }
    if (counts != NULL) {
        years = PyBytes_FromStringAndSize(NULL, total * VALUE_BYTES);
        amounts = PyBytes_FromStringAndSize(NULL, total * VALUE_BYTES);
    }
    if (years != NULL && amounts != NULL) {
        Py_ssize_t written = 0;
        for (Py_ssize_t i = 0; i < request.count; i++) {
            Py_ssize_t size;
            const char *text = column_value(&request.column, row_at(&request, i), &size);
            written += map_pairs(text, size, &request,
                                 (int64_t *)PyBytes_AS_STRING(years) + written,
                                 (int64_t *)PyBytes_AS_STRING(amounts) + written);
        }
        assert(written == total);
        result = PyTuple_Pack(3, counts, years, amounts);
    }
    Py_XDECREF(counts);
    Py_XDECREF(years);
    Py_XDECREF(amounts);
    release_request(&request);
    return result;
}

static PyMethodDef methods[] = {
    {"integer_members", integer_members, METH_VARARGS,
     "integer_members(data, rows, key) -> bytes: int64 of `KEY-?[0-9]+` in each row (0: none)."},
    {"string_members", string_members, METH_VARARGS,
     "string_members(data, rows, key) -> (offsets, strings, found): `KEY[^\"]*\"` in each row."},
    {"year_maps", year_maps, METH_VARARGS,
     "year_maps(data, rows, key) -> (counts, years, amounts): int64, each row's map of years."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    "projections.replay.data_members",
    "Members of the export's `data` column read in C (the offline replay's column source).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit_data_members(void) { return PyModule_Create(&module_definition); }
