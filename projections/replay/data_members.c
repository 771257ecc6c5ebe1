/* Members of the export's `data` column read in C: the offline replay's column source
 * (projections/replay/export_columns.py) asks, in one call a batch, every row's recipient and,
 * by a code a row, its one-year amount and year or its map of years, with exactly the meaning
 * of the regular expressions it used before over the same canonical JSON text:
 *   an integer  "KEY":(-?[0-9]+)        the leftmost match; 0 where none
 *   a string    "KEY":"([^"]*)"         the first; missing where none
 *   a map       "KEY":{([^}]*)}         the first, its text split at commas, each part
 *                                       "([0-9]+)":(-?[0-9]+); a row without its map or with
 *                                       another part is a ValueError naming the row
 * A number that does not fit 64 bits is a ValueError (as Arrow's cast of the text was).
 * The keys ("KEY":) come from Python, where the members' meaning is declared.
 * The column's buffers are checked whole before any value is read (binary_column.h).
 *
 * Each row is walked once, colon to colon: every key ends in `":`, so each place a key can
 * match ends at a colon (memchr finds the few a row has, faster than a search a key), and the
 * members still wanted are compared there. Visiting the colons in order visits each key's
 * occurrences leftmost first, which is the expressions' meaning.
 */
#include "ledger/audit/binary_column.h"

#include <stdint.h>

#define VALUE_BYTES ((Py_ssize_t)sizeof(int64_t))
/* Members one call reads (the recipient, the map, the year, the amount keys): a bit each in a
 * row's wish, a uint32_t. */
#define MEMBER_LIMIT 32
#define INITIAL_POSTINGS 1024
#define INITIAL_STRING_BYTES 4096
/* The most digits an int64 has (9223372036854775807): 10^19 - 1 still fits a uint64. */
#define INT64_DIGITS 19

/* What a row asks for, its code in `reads`; a code READ_ONE_YEAR + j reads amount key j. */
enum { READ_NOTHING = 0, READ_YEAR_MAP = 1, READ_ONE_YEAR = 2 };
/* The members, as bits of a row's wish. */
enum { RECIPIENT = 0, YEAR_MAP = 1, YEAR = 2, FIRST_AMOUNT = 3 };

typedef struct {
    const char *text;
    Py_ssize_t size;
} Key;

/* Why the scan stopped, found without the GIL and reported with it. */
typedef enum {
    SCAN_OK = 0,
    SCAN_COLUMN,
    SCAN_CODE,
    SCAN_TOO_LARGE,
    SCAN_NO_MAP,
    SCAN_MEMORY,
} ScanFault;

typedef struct {
    BinaryColumn column;
    Py_buffer reads;
    Key keys[MEMBER_LIMIT];
    int key_count; /* FIRST_AMOUNT + the amount keys */
} Scan;

/* What the scan found: per row, fixed size (Python bytes, filled without the GIL), and the
 * postings and recipient strings, which grow (PyMem_Raw*, usable without the GIL). */
typedef struct {
    PyObject *counts;      /* int64 a row: its postings */
    PyObject *offsets;     /* int32 a row + 1: its recipient in `strings` */
    PyObject *found;       /* uint8 a row: whether it has a recipient */
    int64_t *years;        /* the postings, in row order */
    int64_t *amounts;
    Py_ssize_t postings;
    Py_ssize_t posting_capacity;
    char *strings;
    Py_ssize_t string_bytes;
    Py_ssize_t string_capacity;
    /* where the scan stopped, and why */
    ScanFault fault;
    Py_ssize_t fault_row;
    ColumnFault column_fault;
} Found;

/* One row's members, as the walk finds them. */
typedef struct {
    int64_t year;
    int64_t amount;
    const char *recipient; /* NULL: none */
    Py_ssize_t recipient_size;
    const char *map; /* the text between the braces; NULL: none */
    const char *map_end;
} RowMembers;

static int read_key(PyObject *item, Key *key) {
    if (!PyBytes_Check(item) || PyBytes_GET_SIZE(item) < 3 || PyBytes_AS_STRING(item)[0] != '"' ||
        memcmp(PyBytes_AS_STRING(item) + PyBytes_GET_SIZE(item) - 2, "\":", 2) != 0) {
        PyErr_Format(PyExc_ValueError, "keys: each is bytes \"NAME\":, not %R", item);
        return -1;
    }
    key->text = PyBytes_AS_STRING(item);
    key->size = PyBytes_GET_SIZE(item);
    return 0;
}

/* (data, reads, recipient_key, map_key, year_key, amount_keys) from Python, checked: 0, or -1
 * with an error and nothing held. The keys stay alive in the caller's arguments. */
static int read_scan(PyObject *args, Scan *scan) {
    PyObject *column, *recipient, *map, *year, *amounts;
    if (!PyArg_ParseTuple(args, "Oy*OOOO!:row_members", &column, &scan->reads, &recipient, &map,
                          &year, &PyTuple_Type, &amounts)) {
        return -1;
    }
    Py_ssize_t amount_keys = PyTuple_GET_SIZE(amounts);
    if (amount_keys > MEMBER_LIMIT - FIRST_AMOUNT) {
        PyErr_Format(PyExc_ValueError, "amount_keys: %zd, at most %d", amount_keys,
                     MEMBER_LIMIT - FIRST_AMOUNT);
        PyBuffer_Release(&scan->reads);
        return -1;
    }
    scan->key_count = FIRST_AMOUNT + (int)amount_keys;
    int failed = read_key(recipient, &scan->keys[RECIPIENT]) < 0 ||
                 read_key(map, &scan->keys[YEAR_MAP]) < 0 || read_key(year, &scan->keys[YEAR]) < 0;
    for (Py_ssize_t i = 0; !failed && i < amount_keys; i++) {
        failed = read_key(PyTuple_GET_ITEM(amounts, i), &scan->keys[FIRST_AMOUNT + i]) < 0;
    }
    if (failed || read_column(column, "data", &scan->column) < 0) {
        PyBuffer_Release(&scan->reads);
        return -1;
    }
    if (scan->reads.len != scan->column.length) {
        PyErr_Format(PyExc_ValueError, "reads: %zd codes for %zd rows (one a row)",
                     scan->reads.len, scan->column.length);
        release_column(&scan->column);
        PyBuffer_Release(&scan->reads);
        return -1;
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
    int significant = 0, started = 0;
    for (; at < size && text[at] >= '0' && text[at] <= '9'; at++) {
        /* No overflow test a digit (it was the parse's main cost): past INT64_DIGITS digits
         * after the leading zeros the number cannot fit, whatever the wrapped sum says. */
        started |= text[at] != '0';
        significant += started;
        magnitude = magnitude * 10 + (uint64_t)(text[at] - '0');
    }
    if (at == digits_from) {
        return 0;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (significant > INT64_DIGITS || magnitude > limit) {
        return -1;
    }
    *value = negative ? (magnitude == 0 ? 0 : -(int64_t)(magnitude - 1) - 1) : (int64_t)magnitude;
    return at;
}

/* The value of `member` where one of its keys ends (text: after the colon): whether this
 * occurrence settles the member (a match, or the first that can decide: a string or map
 * without its closing character has none later either), or SCAN_TOO_LARGE via *fault. */
static int read_value(int member, const char *text, Py_ssize_t size, RowMembers *row,
                      ScanFault *fault) {
    if (member == RECIPIENT || member == YEAR_MAP) {
        char opening = member == RECIPIENT ? '"' : '{';
        if (size < 1 || text[0] != opening) {
            return 0;
        }
        const char *end = memchr(text + 1, member == RECIPIENT ? '"' : '}', (size_t)(size - 1));
        if (member == RECIPIENT) {
            row->recipient = end == NULL ? NULL : text + 1;
            row->recipient_size = end == NULL ? 0 : end - (text + 1);
        } else {
            row->map = end == NULL ? NULL : text + 1;
            row->map_end = end;
        }
        return 1;
    }
    int64_t value = 0;
    Py_ssize_t taken = parse_integer(text, size, 1, &value);
    if (taken < 0) {
        *fault = SCAN_TOO_LARGE;
    }
    if (taken <= 0) {
        return taken < 0;
    }
    *(member == YEAR ? &row->year : &row->amount) = value;
    return 1;
}

/* The members `wanted` (bits) of one row, in one walk over its colons: SCAN_OK or the fault. */
static ScanFault read_row(const Scan *scan, const char *text, Py_ssize_t size, uint32_t wanted,
                          RowMembers *row) {
    ScanFault fault = SCAN_OK;
    const char *colon;
    Py_ssize_t at = 0;
    while (wanted != 0 && fault == SCAN_OK &&
           (colon = memchr(text + at, ':', (size_t)(size - at))) != NULL) {
        at = colon - text + 1; /* where a value would start */
        if (at < 2 || colon[-1] != '"') {
            continue;
        }
        for (uint32_t pending = wanted; pending != 0; pending &= pending - 1) {
            int member = __builtin_ctz(pending);
            const Key *key = &scan->keys[member];
            /* The name's first and last characters first: most colons end another member, and
             * this spares them the call to memcmp. */
            if (key->size <= at && text[at - key->size + 1] == key->text[1] &&
                colon[-2] == key->text[key->size - 3] &&
                memcmp(text + at - key->size, key->text, (size_t)key->size) == 0 &&
                read_value(member, text + at, size - at, row, &fault)) {
                wanted &= ~(UINT32_C(1) << member);
            }
        }
    }
    return fault;
}

/* Room for `more` postings: 0, or -1 when memory runs out (no GIL needed: PyMem_Raw*). */
static int reserve_postings(Found *found, Py_ssize_t more) {
    if (found->postings + more <= found->posting_capacity) {
        return 0;
    }
    Py_ssize_t capacity = found->posting_capacity * 2;
    capacity = capacity < found->postings + more ? found->postings + more : capacity;
    int64_t *years = PyMem_RawRealloc(found->years, (size_t)capacity * sizeof(int64_t));
    if (years != NULL) {
        found->years = years;
    }
    int64_t *amounts = years == NULL ? NULL
                                     : PyMem_RawRealloc(found->amounts,
                                                        (size_t)capacity * sizeof(int64_t));
    if (amounts == NULL) {
        return -1;
    }
    found->amounts = amounts;
    found->posting_capacity = capacity;
    return 0;
}

/* The pairs of a map's text (between its braces) appended to the postings: how many (>= 1), or
 * the fault (a part that is not "YYYY":amount is SCAN_NO_MAP: the expressions find no map). */
static ScanFault map_pairs(const char *at, const char *end, Found *found, int64_t *pairs) {
    for (*pairs = 0;; (*pairs)++) {
        int64_t year, amount;
        if (at >= end || *at++ != '"') {
            return SCAN_NO_MAP;
        }
        Py_ssize_t taken = parse_integer(at, end - at, 0, &year);
        if (taken <= 0) {
            return taken < 0 ? SCAN_TOO_LARGE : SCAN_NO_MAP;
        }
        at += taken;
        if (end - at < 2 || at[0] != '"' || at[1] != ':') {
            return SCAN_NO_MAP;
        }
        at += 2;
        taken = parse_integer(at, end - at, 1, &amount);
        if (taken <= 0) {
            return taken < 0 ? SCAN_TOO_LARGE : SCAN_NO_MAP;
        }
        at += taken;
        if (reserve_postings(found, *pairs + 1) < 0) {
            return SCAN_MEMORY;
        }
        found->years[found->postings + *pairs] = year;
        found->amounts[found->postings + *pairs] = amount;
        if (at == end) {
            (*pairs)++;
            return SCAN_OK;
        }
        if (*at++ != ',') {
            return SCAN_NO_MAP;
        }
    }
}

/* A row's members stored: its postings (by its code) and its recipient. */
static ScanFault store_row(const RowMembers *members, int code, Py_ssize_t row, Found *found) {
    int64_t count = 0;
    if (code == READ_YEAR_MAP) {
        if (members->map == NULL) {
            return SCAN_NO_MAP;
        }
        ScanFault fault = map_pairs(members->map, members->map_end, found, &count);
        if (fault != SCAN_OK) {
            return fault;
        }
    } else if (code >= READ_ONE_YEAR) {
        if (reserve_postings(found, 1) < 0) {
            return SCAN_MEMORY;
        }
        found->years[found->postings] = members->year;
        found->amounts[found->postings] = members->amount;
        count = 1;
    }
    found->postings += count;
    memcpy(PyBytes_AS_STRING(found->counts) + row * VALUE_BYTES, &count, sizeof count);
    Py_ssize_t size = members->recipient == NULL ? 0 : members->recipient_size;
    if (found->string_bytes + size > INT32_MAX) {
        return SCAN_MEMORY; /* cannot happen: the rows' texts, disjoint, fit int32 offsets */
    }
    if (found->string_bytes + size > found->string_capacity) {
        Py_ssize_t capacity = (found->string_bytes + size) * 2;
        char *strings = PyMem_RawRealloc(found->strings, (size_t)capacity);
        if (strings == NULL) {
            return SCAN_MEMORY;
        }
        found->strings = strings;
        found->string_capacity = capacity;
    }
    if (members->recipient != NULL) {
        /* not memcpy from NULL: undefined even for 0 bytes (the compiler then drops checks) */
        memcpy(found->strings + found->string_bytes, members->recipient, (size_t)size);
    }
    found->string_bytes += size;
    int32_t end = (int32_t)found->string_bytes;
    memcpy(PyBytes_AS_STRING(found->offsets) + (row + 1) * COLUMN_OFFSET_BYTES, &end, sizeof end);
    PyBytes_AS_STRING(found->found)[row] = members->recipient != NULL;
    return SCAN_OK;
}

/* Every row, without the GIL: the column checked whole, then each row walked once. Each code
 * and each row's offsets are checked as read (the buffers are the caller's, maybe writable). */
static void scan_rows(const Scan *scan, Found *found) {
    found->column_fault = check_column(&scan->column, scan->column.length, &found->fault_row);
    if (found->column_fault != COLUMN_OK) {
        found->fault = SCAN_COLUMN;
        return;
    }
    const unsigned char *codes = scan->reads.buf;
    int code_limit = READ_ONE_YEAR + scan->key_count - FIRST_AMOUNT;
    int32_t zero = 0;
    memcpy(PyBytes_AS_STRING(found->offsets), &zero, sizeof zero);
    for (Py_ssize_t row = 0; row < scan->column.length; row++) {
        int code = codes[row];
        int32_t start = column_offset(&scan->column, row);
        int32_t end = column_offset(&scan->column, row + 1);
        found->fault_row = row;
        if (code >= code_limit) {
            found->fault = SCAN_CODE;
            return;
        }
        if (start < 0 || end < start || end > scan->column.data.len) {
            found->fault = SCAN_COLUMN;
            found->column_fault = COLUMN_DECREASING;
            return;
        }
        uint32_t wanted = UINT32_C(1) << RECIPIENT;
        if (code == READ_YEAR_MAP) {
            wanted |= UINT32_C(1) << YEAR_MAP;
        } else if (code >= READ_ONE_YEAR) {
            wanted |= UINT32_C(1) << YEAR | UINT32_C(1) << (FIRST_AMOUNT + code - READ_ONE_YEAR);
        }
        RowMembers members = {0, 0, NULL, 0, NULL, NULL};
        const char *text = (const char *)scan->column.data.buf + start;
        found->fault = read_row(scan, text, end - start, wanted, &members);
        if (found->fault == SCAN_OK) {
            found->fault = store_row(&members, code, row, found);
        }
        if (found->fault != SCAN_OK) {
            return;
        }
    }
}

static void raise_scan_fault(const Scan *scan, const Found *found) {
    Py_ssize_t row = found->fault_row;
    switch (found->fault) {
    case SCAN_COLUMN:
        raise_column_fault(found->column_fault, "data", &scan->column, scan->column.length, row);
        break;
    case SCAN_CODE:
        PyErr_Format(PyExc_ValueError, "reads: code %d of row %zd is not one of 0..%d",
                     ((const unsigned char *)scan->reads.buf)[row], row,
                     READ_ONE_YEAR + scan->key_count - FIRST_AMOUNT - 1);
        break;
    case SCAN_TOO_LARGE:
        PyErr_Format(PyExc_ValueError, "data of row %zd: a number does not fit 64 bits", row);
        break;
    case SCAN_NO_MAP:
        PyErr_Format(PyExc_ValueError,
                     "data of row %zd: no map of years after %s{ (\"YYYY\":amount,...})", row,
                     scan->keys[YEAR_MAP].text);
        break;
    case SCAN_MEMORY:
        PyErr_NoMemory();
        break;
    case SCAN_OK:
        break;
    }
}

static PyObject *row_members(PyObject *module, PyObject *args) {
    Scan scan;
    Found found;
    (void)module;
    memset(&found, 0, sizeof found);
    if (read_scan(args, &scan) < 0) {
        return NULL;
    }
    Py_ssize_t rows = scan.column.length;
    PyObject *result = NULL;
    found.counts = PyBytes_FromStringAndSize(NULL, rows * VALUE_BYTES);
    found.offsets = PyBytes_FromStringAndSize(NULL, (rows + 1) * COLUMN_OFFSET_BYTES);
    found.found = PyBytes_FromStringAndSize(NULL, rows);
    found.strings = PyMem_RawMalloc(INITIAL_STRING_BYTES);
    found.string_capacity = INITIAL_STRING_BYTES;
    if (found.counts == NULL || found.offsets == NULL || found.found == NULL ||
        found.strings == NULL || reserve_postings(&found, INITIAL_POSTINGS) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    scan_rows(&scan, &found);
    Py_END_ALLOW_THREADS
    if (found.fault != SCAN_OK) {
        raise_scan_fault(&scan, &found);
        goto done;
    }
    result = Py_BuildValue("(Oy#y#OOy#)", found.counts, (const char *)found.years,
                           found.postings * VALUE_BYTES, (const char *)found.amounts,
                           found.postings * VALUE_BYTES, found.offsets, found.found,
                           found.strings, found.string_bytes);
done:
    Py_XDECREF(found.counts);
    Py_XDECREF(found.offsets);
    Py_XDECREF(found.found);
    PyMem_RawFree(found.years);
    PyMem_RawFree(found.amounts);
    PyMem_RawFree(found.strings);
    release_column(&scan.column);
    PyBuffer_Release(&scan.reads);
    return result;
}

static PyMethodDef methods[] = {
    {"row_members", row_members, METH_VARARGS,
     "row_members(data, reads, recipient_key, map_key, year_key, amount_keys) -> (counts, "
     "years, amounts, recipient_offsets, recipient_found, recipient_strings): each row's "
     "postings by its code in `reads` and its recipient, in one walk over each row."},
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

PyMODINIT_FUNC PyInit_data_members(void) {
    PyObject *module = PyModule_Create(&module_definition);
    if (module != NULL && (PyModule_AddIntConstant(module, "READ_NOTHING", READ_NOTHING) < 0 ||
                           PyModule_AddIntConstant(module, "READ_YEAR_MAP", READ_YEAR_MAP) < 0 ||
                           PyModule_AddIntConstant(module, "READ_ONE_YEAR", READ_ONE_YEAR) < 0)) {
        Py_CLEAR(module);
    }
    return module;
}
