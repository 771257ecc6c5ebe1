/* Each event's canonical bytes, joined, hashed and held to its claimed hash from its columns in
 * one pass: the offline replay's hot loop.
 *
 * A row is its prev_hash's 32 bytes, then each piece in order: a literal (the same bytes every
 * row), a text column's value as it stands, or a value this file spells: an integer in decimal,
 * a day as YYYY-MM-DD, an instant as YYYY-MM-DDTHH:MM:SS.ffffff, a nullable string as `null` or
 * quoted. Rows are assembled a block at a time and hashed two at a time by the x86 SHA
 * extensions (sha256_ni.h: two messages interleaved keep the SHA unit busy), or one at a time by
 * OpenSSL's libcrypto (the library hashlib uses) where the CPU has no SHA extensions; each digest
 * is compared with the row's claimed hash as text. Both hashes must be 64 lower-case hex digits, as the chain spells
 * them. No Python object is made a row and the GIL is released.
 *
 * What this cannot spell as JSON would, it flags instead of guessing: a string JSON must escape
 * (a quote, a backslash, a control character) sends its row to Python's exact encoder; a year
 * outside 1..9999 cannot be an envelope's (Python's dates end there), and the row fails as
 * altered. The buffers come from an export, which may be forged: every offset and length is
 * checked against its buffers before a byte is read, and a bad column or piece is a ValueError
 * naming it.
 *
 * Which pieces make the canonical bytes, in which order, is decided in Python, in one place
 * (ledger/audit/batch_proof.py); this joins, spells, hashes and compares.
 */
#include "binary_column.h"
#include "sha256_ni.h"

#include <openssl/evp.h>

#define DIGEST_BYTES 32
/* The piece kinds Python names (exported as module constants of the same names). */
#define PIECE_TEXT 1            /* a text column, verbatim (JSON already: `data`) */
#define PIECE_STRING 2          /* a string column, verbatim, flagged if JSON must escape it */
#define PIECE_NULLABLE_STRING 3 /* `null`, or the string quoted (flagged likewise) */
#define PIECE_INTEGER 4         /* int64, decimal */
#define PIECE_DAY 5             /* int32 days since 1970-01-01, YYYY-MM-DD */
#define PIECE_INSTANT 6         /* int64 microseconds since 1970-01-01, without the `Z` */
/* What a row's flags say. */
#define ROW_NEEDS_ESCAPING 1
#define ROW_IMPOSSIBLE 2
#define ROW_DIFFERS 4 /* the row's digest is not its claimed hash (or a hash is not hex) */
#define HASH_HEX_CHARS (2 * DIGEST_BYTES)
#define INTEGER_CHARS 20 /* -9223372036854775808 */
#define DAY_CHARS 10
#define INSTANT_CHARS 26
#define NULL_CHARS 4
#define FIRST_YEAR 1
#define LAST_YEAR 9999
#define MICROS_PER_DAY 86400000000LL
#define MICROS_PER_SECOND 1000000LL
#define DAYS_PER_ERA 146097LL
#define DAYS_0000_03_01_TO_EPOCH 719468LL

typedef struct {
    int kind; /* 0: a literal */
    Py_buffer literal;
    BinaryColumn column; /* TEXT, STRING, NULLABLE_STRING (a dictionary's values: `indices`) */
    Py_buffer validity;  /* NULLABLE_STRING: Arrow's bitmap, or none (len 0: no nulls) */
    int has_indices;     /* STRING, NULLABLE_STRING of a dictionary array: a row's value is */
    Py_buffer indices;   /* column's value at indices[indices_first + row] (int32) */
    Py_ssize_t indices_first;
    Py_buffer values;    /* INTEGER, DAY, INSTANT */
    Py_ssize_t first;    /* INTEGER, DAY, INSTANT: the array's offset into `values` */
    Py_ssize_t width;    /* bytes a value */
} Piece;

static void release_piece(Piece *piece) {
    switch (piece->kind) {
    case 0:
        PyBuffer_Release(&piece->literal);
        break;
    case PIECE_TEXT:
    case PIECE_STRING:
    case PIECE_NULLABLE_STRING:
        release_column(&piece->column);
        if (piece->kind == PIECE_NULLABLE_STRING) {
            PyBuffer_Release(&piece->validity);
        }
        if (piece->has_indices) {
            PyBuffer_Release(&piece->indices);
        }
        break;
    default:
        PyBuffer_Release(&piece->values);
    }
}

static void release_pieces(Piece *pieces, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        release_piece(&pieces[i]);
    }
    PyMem_Free(pieces);
}

/* (kind, values, offset) of a fixed-width column: 0, or -1 with an error naming the piece. */
static int read_values(PyObject *item, const char *name, Piece *piece) {
    PyObject *values = NULL;
    if (!PyArg_ParseTuple(item, "iOn", &piece->kind, &values, &piece->first)) {
        return name_the_column(name);
    }
    piece->width = piece->kind == PIECE_DAY ? 4 : 8;
    if (PyObject_GetBuffer(values, &piece->values, PyBUF_SIMPLE) < 0) {
        return name_the_column(name);
    }
    return 0;
}

/* A string piece's dictionary indices, (indices, offset) at `at` of the tuple: 0, or -1 with
 * an error naming the piece and nothing held. */
static int read_indices(PyObject *item, Py_ssize_t at, const char *name, Piece *piece) {
    piece->indices_first = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, at + 1));
    if (piece->indices_first == -1 && PyErr_Occurred()) {
        return name_the_column(name);
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, at), &piece->indices, PyBUF_SIMPLE) < 0) {
        return name_the_column(name);
    }
    piece->has_indices = 1;
    return 0;
}

/* One piece from Python: bytes, or (kind, ...). 0, or -1 with an error naming the piece. */
static int read_piece(PyObject *item, const char *name, Piece *piece) {
    if (PyBytes_Check(item)) {
        piece->kind = 0;
        return PyObject_GetBuffer(item, &piece->literal, PyBUF_SIMPLE);
    }
    long kind = PyTuple_Check(item) && PyTuple_GET_SIZE(item) > 0
                    ? PyLong_AsLong(PyTuple_GET_ITEM(item, 0))
                    : -1;
    if (kind == -1 && PyErr_Occurred()) {
        PyErr_Clear();
    }
    if (kind == PIECE_INTEGER || kind == PIECE_DAY || kind == PIECE_INSTANT) {
        return read_values(item, name, piece);
    }
    /* (kind, column[, validity]) and, for a dictionary array, two more: (indices, offset). */
    Py_ssize_t size = kind == PIECE_NULLABLE_STRING ? 3 : 2;
    Py_ssize_t given = PyTuple_Check(item) ? PyTuple_GET_SIZE(item) : 0;
    int dictionary = kind != PIECE_TEXT && given == size + 2;
    if ((kind != PIECE_TEXT && kind != PIECE_STRING && kind != PIECE_NULLABLE_STRING) ||
        (given != size && !dictionary)) {
        PyErr_Format(PyExc_TypeError,
                     "%s: expected bytes or (kind, ...) of a known kind, got %.80s", name,
                     Py_TYPE(item)->tp_name);
        return -1;
    }
    if (read_column(PyTuple_GET_ITEM(item, 1), name, &piece->column) < 0) {
        return -1;
    }
    if (kind == PIECE_NULLABLE_STRING &&
        PyObject_GetBuffer(PyTuple_GET_ITEM(item, 2), &piece->validity, PyBUF_SIMPLE) < 0) {
        release_column(&piece->column);
        return name_the_column(name);
    }
    if (dictionary && read_indices(item, size, name, piece) < 0) {
        if (kind == PIECE_NULLABLE_STRING) {
            PyBuffer_Release(&piece->validity);
        }
        release_column(&piece->column);
        return -1;
    }
    piece->kind = (int)kind;
    return 0;
}

/* The int32 dictionary index of a row (only after check_indices passed). */
static inline Py_ssize_t index_at(const Piece *piece, Py_ssize_t row) {
    int32_t index;
    memcpy(&index, (const char *)piece->indices.buf + (piece->indices_first + row) * 4,
           sizeof index);
    return index;
}

static int is_valid(const Piece *piece, Py_ssize_t row);

/* A dictionary piece's indices: inside their buffer, and each valid row's naming a value of
 * the dictionary. 0, or -1 with a ValueError naming the piece. */
static int check_indices(const Piece *piece, const char *name, Py_ssize_t rows) {
    if (piece->indices_first < 0 || piece->indices.len / 4 - piece->indices_first < rows) {
        PyErr_Format(PyExc_ValueError, "%s: its indices hold too few for %zd rows from %zd",
                     name, rows, piece->indices_first);
        return -1;
    }
    for (Py_ssize_t row = 0; row < rows; row++) {
        Py_ssize_t index = index_at(piece, row);
        if (is_valid(piece, row) && (index < 0 || index >= piece->column.length)) {
            PyErr_Format(PyExc_ValueError, "%s: row %zd names value %zd of a dictionary of %zd",
                         name, row, index, piece->column.length);
            return -1;
        }
    }
    return 0;
}

/* Whether the piece holds `rows` values inside its buffers: 0, or -1 with a ValueError. */
static int check_piece(const Piece *piece, const char *name, Py_ssize_t rows) {
    Py_ssize_t at_row;
    ColumnFault fault;
    switch (piece->kind) {
    case 0:
        return 0;
    case PIECE_TEXT:
    case PIECE_STRING:
    case PIECE_NULLABLE_STRING: {
        /* A dictionary's values are checked whole; the rows are its indices. */
        Py_ssize_t values = piece->has_indices ? piece->column.length : rows;
        fault = check_column(&piece->column, values, &at_row);
        if (fault != COLUMN_OK) {
            raise_column_fault(fault, name, &piece->column, values, at_row);
            return -1;
        }
        /* Bit (first + row) of the bitmap is read for every row. */
        Py_ssize_t first = piece->has_indices ? piece->indices_first : piece->column.first;
        if (piece->kind == PIECE_NULLABLE_STRING && piece->validity.len != 0 && rows > 0 &&
            piece->validity.len < (first + rows + 7) / 8) {
            PyErr_Format(PyExc_ValueError, "%s: its validity bitmap is too short for %zd rows",
                         name, rows);
            return -1;
        }
        return piece->has_indices ? check_indices(piece, name, rows) : 0;
    }
    default:
        if (piece->first < 0 || piece->values.len / piece->width - piece->first < rows) {
            PyErr_Format(PyExc_ValueError,
                         "%s: %zd bytes of values hold too few for %zd rows from offset %zd",
                         name, piece->values.len, rows, piece->first);
            return -1;
        }
        return 0;
    }
}

/* Rows are assembled a block at a time, piece by piece: one tight loop a piece over the block's
 * rows instead of a switch a piece a row; the block's bytes (~150 KB) stay in cache until they
 * are hashed. */
#define BLOCK_ROWS 256

/* A block of rows under assembly: each row's bytes from starts[row], written up to ends[row]. */
typedef struct {
    char *bytes;
    size_t capacity;
    size_t starts[BLOCK_ROWS];
    size_t ends[BLOCK_ROWS];
    unsigned char flags[BLOCK_ROWS];
} Block;

/* Room for `size` bytes: 0, or -1 out of memory (the block keeps what it had). */
static int reserve(Block *block, size_t size) {
    if (size <= block->capacity) {
        return 0;
    }
    size_t capacity = block->capacity ? block->capacity : 1 << 16;
    while (capacity < size) {
        capacity *= 2;
    }
    char *bytes = realloc(block->bytes, capacity);
    if (bytes == NULL) {
        return -1;
    }
    block->bytes = bytes;
    block->capacity = capacity;
    return 0;
}

/* Each byte's value as a lower-case hex digit, or 0x80 if it is none (the chain spells hashes in
 * lower case only). A table, filled at import: random digits make branches mispredict. */
static unsigned char HEX_VALUE[256];

static void fill_hex_values(void) {
    memset(HEX_VALUE, 0x80, sizeof HEX_VALUE);
    for (int digit = 0; digit < 16; digit++) {
        HEX_VALUE[(unsigned char)"0123456789abcdef"[digit]] = (unsigned char)digit;
    }
}

static void put_digits(char *at, int64_t value, int count) {
    for (int i = count - 1; i >= 0; i--) {
        at[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

static size_t spell_integer(char *at, int64_t value) {
    char digits[INTEGER_CHARS];
    int count = 0;
    /* Negated in unsigned arithmetic: INT64_MIN has no positive twin. */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[INTEGER_CHARS - 1 - count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    size_t size = 0;
    if (value < 0) {
        at[size++] = '-';
    }
    memcpy(at + size, digits + INTEGER_CHARS - count, (size_t)count);
    return size + (size_t)count;
}

static int64_t floor_divide(int64_t value, int64_t by) {
    int64_t quotient = value / by;
    return quotient - ((value % by) < 0);
}

/* YYYY-MM-DD of days since 1970-01-01 (H. Hinnant's civil_from_days); 0 if the year is
 * outside 1..9999 (no envelope's). */
static int spell_day(char *at, int64_t days) {
    /* Days past ±2^40 are no calendar's: refused before the arithmetic can overflow. */
    if (days < -((int64_t)1 << 40) || days > ((int64_t)1 << 40)) {
        return 0;
    }
    int64_t shifted = days + DAYS_0000_03_01_TO_EPOCH;
    int64_t era = floor_divide(shifted, DAYS_PER_ERA);
    int64_t day_of_era = shifted - era * DAYS_PER_ERA;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;
    int64_t day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    int64_t month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    int64_t year = year_of_era + era * 400 + (month <= 2);
    if (year < FIRST_YEAR || year > LAST_YEAR) {
        return 0;
    }
    put_digits(at, year, 4);
    at[4] = '-';
    put_digits(at + 5, month, 2);
    at[7] = '-';
    put_digits(at + 8, day, 2);
    return 1;
}

/* `THH:MM:SS.ffffff` of the microseconds into a day, after the day's 10 characters. */
static void spell_time_of_day(char *at, int64_t micro_of_day) {
    int64_t second_of_day = micro_of_day / MICROS_PER_SECOND;
    at[DAY_CHARS] = 'T';
    put_digits(at + 11, second_of_day / 3600, 2);
    at[13] = ':';
    put_digits(at + 14, second_of_day / 60 % 60, 2);
    at[16] = ':';
    put_digits(at + 17, second_of_day % 60, 2);
    at[19] = '.';
    put_digits(at + 20, micro_of_day % MICROS_PER_SECOND, 6);
}

/* Whether JSON must escape some byte of the string (orjson: a quote, a backslash, anything
 * below 0x20; any other byte, UTF-8 included, stands as it is). Eight bytes a step (the
 * classic has-zero-byte and has-less-than tests: exact for whether such a byte exists); the
 * byte loop decides the word that has one and the tail. */
static int needs_escaping(const char *value, Py_ssize_t size) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    Py_ssize_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t word, quote, backslash;
        memcpy(&word, value + i, sizeof word);
        quote = word ^ (ones * '"');
        backslash = word ^ (ones * '\\');
        uint64_t below_space = (word - ones * 0x20) & ~word;
        uint64_t is_quote = (quote - ones) & ~quote;
        uint64_t is_backslash = (backslash - ones) & ~backslash;
        if ((below_space | is_quote | is_backslash) & highs) {
            break; /* one is in this word: the byte loop finds it */
        }
    }
    for (; i < size; i++) {
        unsigned char byte = (unsigned char)value[i];
        if (byte < 0x20 || byte == '"' || byte == '\\') {
            return 1;
        }
    }
    return 0;
}

static int64_t value_at(const Piece *piece, Py_ssize_t row) {
    const char *at = (const char *)piece->values.buf + (piece->first + row) * piece->width;
    if (piece->width == 4) {
        int32_t value;
        memcpy(&value, at, sizeof value);
        return value;
    }
    int64_t value;
    memcpy(&value, at, sizeof value);
    return value;
}

static int is_valid(const Piece *piece, Py_ssize_t row) {
    if (piece->kind != PIECE_NULLABLE_STRING || piece->validity.len == 0) {
        return 1;
    }
    Py_ssize_t bit = (piece->has_indices ? piece->indices_first : piece->column.first) + row;
    return (((const unsigned char *)piece->validity.buf)[bit / 8] >> (bit % 8)) & 1;
}

/* A string piece's value of a row: the column's, or its dictionary's by the row's index. */
static inline const char *string_value(const Piece *piece, Py_ssize_t row, Py_ssize_t *size) {
    return column_value(&piece->column, piece->has_indices ? index_at(piece, row) : row, size);
}

/* Each row's room in the block: `prefix` bytes, then every piece's bound (a literal's length, a
 * number's widest spelling, a column value's size with quotes or `null`), then SHA-256's
 * padding (the rows are padded in place). 0, or -1 out of memory. */
static int lay_out_block(const Piece *pieces, Py_ssize_t count, Py_ssize_t first, int rows,
                         size_t prefix, Block *block) {
    size_t fixed = prefix + SHA_PADDING_BYTES;
    for (int row = 0; row < rows; row++) {
        block->starts[row] = 0;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        const Piece *piece = &pieces[i];
        switch (piece->kind) {
        case 0:
            fixed += (size_t)piece->literal.len;
            break;
        case PIECE_INTEGER:
            fixed += INTEGER_CHARS;
            break;
        case PIECE_DAY:
            fixed += DAY_CHARS;
            break;
        case PIECE_INSTANT:
            fixed += INSTANT_CHARS;
            break;
        default:
            fixed += 2 + NULL_CHARS;
            for (int row = 0; row < rows; row++) {
                Py_ssize_t size = 0;
                if (is_valid(piece, first + row)) {
                    string_value(piece, first + row, &size);
                }
                block->starts[row] += (size_t)size;
            }
        }
    }
    size_t at = 0;
    for (int row = 0; row < rows; row++) {
        size_t bound = fixed + block->starts[row];
        block->starts[row] = block->ends[row] = at;
        block->flags[row] = 0;
        at += bound;
    }
    return reserve(block, at);
}

/* Column pieces: each row's value copied (quoted, or `null`, for a nullable string). */
static void append_column(const Piece *piece, Py_ssize_t first, int rows, Block *block) {
    int quoted = piece->kind == PIECE_NULLABLE_STRING;
    int checked = piece->kind != PIECE_TEXT;
    for (int row = 0; row < rows; row++) {
        char *at = block->bytes + block->ends[row];
        if (quoted && !is_valid(piece, first + row)) {
            memcpy(at, "null", NULL_CHARS);
            block->ends[row] += NULL_CHARS;
            continue;
        }
        Py_ssize_t size;
        const char *value = string_value(piece, first + row, &size);
        at[0] = '"';
        memcpy(at + quoted, value, (size_t)size);
        at[quoted + size] = '"';
        block->ends[row] += (size_t)(size + 2 * quoted);
        if (checked && needs_escaping(value, size)) {
            block->flags[row] |= ROW_NEEDS_ESCAPING;
        }
    }
}

/* Days and instants: spelled, the last day's text reused (a batch's rows share few days; the
 * arithmetic of a date is most of an instant's cost). */
static void append_dates(const Piece *piece, Py_ssize_t first, int rows, Block *block) {
    size_t width = piece->kind == PIECE_DAY ? DAY_CHARS : INSTANT_CHARS;
    int64_t last_day = 0;
    char last_text[DAY_CHARS];
    int have_last = 0;
    for (int row = 0; row < rows; row++) {
        char *at = block->bytes + block->ends[row];
        int64_t value = value_at(piece, first + row);
        int64_t day = piece->kind == PIECE_DAY ? value : floor_divide(value, MICROS_PER_DAY);
        int spelled = 1;
        if (have_last && day == last_day) {
            memcpy(at, last_text, DAY_CHARS);
        } else if ((spelled = spell_day(at, day))) {
            memcpy(last_text, at, DAY_CHARS);
            last_day = day;
            have_last = 1;
        }
        if (spelled && piece->kind == PIECE_INSTANT) {
            spell_time_of_day(at, value - day * MICROS_PER_DAY);
        }
        if (!spelled) {
            memset(at, '?', width); /* the same bytes every time: the row fails anyway */
            block->flags[row] |= ROW_IMPOSSIBLE;
        }
        block->ends[row] += width;
    }
}

/* One piece's bytes appended to every row of the block (room laid out). */
static void append_piece(const Piece *piece, Py_ssize_t first, int rows, Block *block) {
    switch (piece->kind) {
    case 0:
        for (int row = 0; row < rows; row++) {
            memcpy(block->bytes + block->ends[row], piece->literal.buf,
                   (size_t)piece->literal.len);
            block->ends[row] += (size_t)piece->literal.len;
        }
        break;
    case PIECE_INTEGER:
        for (int row = 0; row < rows; row++) {
            block->ends[row] +=
                spell_integer(block->bytes + block->ends[row], value_at(piece, first + row));
        }
        break;
    case PIECE_DAY:
    case PIECE_INSTANT:
        append_dates(piece, first, rows, block);
        break;
    default:
        append_column(piece, first, rows, block);
    }
}

static const char LOWER_HEX[] = "0123456789abcdef";

/* A hash's 64 lower-case hex digits as its 32 bytes: 1, or 0 if it is anything else. */
static int hash_from_hex(const char *text, Py_ssize_t size, unsigned char *hash) {
    if (size != HASH_HEX_CHARS) {
        return 0;
    }
    unsigned char invalid = 0;
    for (int i = 0; i < DIGEST_BYTES; i++) {
        unsigned char high = HEX_VALUE[(unsigned char)text[2 * i]];
        unsigned char low = HEX_VALUE[(unsigned char)text[2 * i + 1]];
        invalid |= high | low;
        hash[i] = (unsigned char)(high << 4 | (low & 15));
    }
    return !(invalid & 0x80);
}

/* Whether the digest, spelled in lower-case hex, is the claimed text. */
static int is_claimed(const unsigned char *digest, const char *claimed, Py_ssize_t size) {
    if (size != HASH_HEX_CHARS) {
        return 0;
    }
    for (int i = 0; i < DIGEST_BYTES; i++) {
        if (claimed[2 * i] != LOWER_HEX[digest[i] >> 4] ||
            claimed[2 * i + 1] != LOWER_HEX[digest[i] & 15]) {
            return 0;
        }
    }
    return 1;
}

/* How rows are hashed: the SHA extensions (two rows at a time) or libcrypto's context. */
typedef struct {
    int extensions;
    EVP_MD *sha256;
    EVP_MD_CTX *context;
} Hashing;

/* The digest of each of the block's rows: by the SHA extensions, two rows at a time, where
 * the CPU has them and they are wanted; else by libcrypto. 0, or -1 when libcrypto fails. */
static int digest_block(Block *block, int rows, int extensions, EVP_MD_CTX *context,
                        const EVP_MD *sha256, unsigned char *digests) {
    if (!extensions) {
        for (int row = 0; row < rows; row++) {
            if (!(EVP_DigestInit_ex2(context, sha256, NULL) &&
                  EVP_DigestUpdate(context, block->bytes + block->starts[row],
                                   block->ends[row] - block->starts[row]) &&
                  EVP_DigestFinal_ex(context, digests + row * DIGEST_BYTES, NULL))) {
                return -1;
            }
        }
        return 0;
    }
#if SHA_NI_BUILT
    size_t blocks[BLOCK_ROWS];
    for (int row = 0; row < rows; row++) {
        unsigned char *message = (unsigned char *)block->bytes + block->starts[row];
        blocks[row] = sha_pad(message, block->ends[row] - block->starts[row]);
    }
    for (int row = 0; row < rows; row += 2) {
        const unsigned char *a = (unsigned char *)block->bytes + block->starts[row];
        int paired = row + 1 < rows;
        sha256_pair(a, blocks[row], digests + row * DIGEST_BYTES,
                    paired ? (unsigned char *)block->bytes + block->starts[row + 1] : NULL,
                    paired ? blocks[row + 1] : 0,
                    paired ? digests + (row + 1) * DIGEST_BYTES : NULL);
    }
    return 0;
#else
    return -1; /* never: without the code built, the extensions are never present */
#endif
}

/* A block of rows proven: each row's prev hash and pieces hashed and held to its claimed hash,
 * its flags into `flags`. 0, -1 out of memory, -2 when libcrypto fails. */
static int prove_block(const BinaryColumn *prev, const BinaryColumn *claimed, const Piece *pieces,
                       Py_ssize_t count, Py_ssize_t first, int rows, Block *block,
                       const Hashing *hashing, unsigned char *flags) {
    if (lay_out_block(pieces, count, first, rows, DIGEST_BYTES, block) < 0) {
        return -1;
    }
    for (int row = 0; row < rows; row++) {
        Py_ssize_t size;
        const char *text = column_value(prev, first + row, &size);
        unsigned char *at = (unsigned char *)block->bytes + block->starts[row];
        block->flags[row] = hash_from_hex(text, size, at) ? 0 : ROW_DIFFERS;
        block->ends[row] += DIGEST_BYTES;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        append_piece(&pieces[i], first, rows, block);
    }
    unsigned char digests[BLOCK_ROWS * DIGEST_BYTES];
    if (digest_block(block, rows, hashing->extensions, hashing->context, hashing->sha256,
                     digests) < 0) {
        return -2;
    }
    for (int row = 0; row < rows; row++) {
        Py_ssize_t size;
        const char *text = column_value(claimed, first + row, &size);
        int holds = is_claimed(digests + row * DIGEST_BYTES, text, size);
        flags[row] = block->flags[row] | (holds ? 0 : ROW_DIFFERS);
    }
    return 0;
}

/* Every row's flags into `flags`; 0, -1 out of memory, -2 when libcrypto fails (no Python
 * calls: no GIL). */
static int prove_rows(const BinaryColumn *prev, const BinaryColumn *claimed, const Piece *pieces,
                      Py_ssize_t count, Py_ssize_t rows, int extensions, unsigned char *flags) {
    Hashing hashing = {extensions, EVP_MD_fetch(NULL, "SHA256", NULL), EVP_MD_CTX_new()};
    Block *block = calloc(1, sizeof(Block));
    int status = hashing.sha256 != NULL && hashing.context != NULL ? 0 : -2;
    status = status == 0 && block == NULL ? -1 : status;
    for (Py_ssize_t first = 0; status == 0 && first < rows; first += BLOCK_ROWS) {
        int block_rows = (int)(rows - first < BLOCK_ROWS ? rows - first : BLOCK_ROWS);
        status = prove_block(prev, claimed, pieces, count, first, block_rows, block, &hashing,
                             flags + first);
    }
    if (block != NULL) {
        free(block->bytes);
        free(block);
    }
    EVP_MD_CTX_free(hashing.context);
    EVP_MD_free(hashing.sha256);
    return status;
}

/* The pieces from Python, each checked for `rows` rows: the array, or NULL with an error. */
static Piece *read_pieces(PyObject *items, Py_ssize_t rows, Py_ssize_t *count) {
    *count = PyTuple_GET_SIZE(items);
    Piece *pieces = PyMem_Calloc((size_t)(*count > 0 ? *count : 1), sizeof(Piece));
    if (pieces == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    char name[COLUMN_NAME_CHARS];
    for (Py_ssize_t read = 0; read < *count; read++) {
        PyOS_snprintf(name, sizeof name, "piece %zd", read);
        if (read_piece(PyTuple_GET_ITEM(items, read), name, &pieces[read]) < 0) {
            release_pieces(pieces, read);
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < *count; i++) {
        PyOS_snprintf(name, sizeof name, "piece %zd", i);
        if (check_piece(&pieces[i], name, rows) < 0) {
            release_pieces(pieces, *count);
            return NULL;
        }
    }
    return pieces;
}

/* The prev_hash and hash columns read and checked: 0, or -1 with an error naming them. */
static int read_hash_columns(PyObject *prev_given, PyObject *claimed_given, BinaryColumn *prev,
                             BinaryColumn *claimed) {
    if (read_column(prev_given, "prev_hash", prev) < 0) {
        return -1;
    }
    if (read_column(claimed_given, "hash", claimed) < 0) {
        release_column(prev);
        return -1;
    }
    const BinaryColumn *columns[] = {prev, claimed};
    const char *names[] = {"prev_hash", "hash"};
    for (int i = 0; i < 2; i++) {
        Py_ssize_t at_row;
        ColumnFault fault = check_column(columns[i], prev->length, &at_row);
        if (fault != COLUMN_OK) {
            raise_column_fault(fault, names[i], columns[i], prev->length, at_row);
            release_column(prev);
            release_column(claimed);
            return -1;
        }
    }
    return 0;
}

/* Whether this CPU has the SHA extensions (read once, at import). */
static int SHA_EXTENSIONS_PRESENT;

static PyObject *proven_rows(PyObject *module, PyObject *args, PyObject *keywords) {
    static char *names[] = {"", "", "", "sha_extensions", NULL};
    PyObject *prev_given, *claimed_given, *given;
    int wanted = 1;
    BinaryColumn prev, claimed;
    (void)module;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "OOO|$p:proven_rows", names, &prev_given,
                                     &claimed_given, &given, &wanted)) {
        return NULL;
    }
    if (read_hash_columns(prev_given, claimed_given, &prev, &claimed) < 0) {
        return NULL;
    }
    Py_ssize_t rows = prev.length, count;
    PyObject *flags = NULL;
    PyObject *items = PySequence_Tuple(given); /* our own references: the list may change */
    Piece *pieces = items != NULL ? read_pieces(items, rows, &count) : NULL;
    Py_XDECREF(items);
    if (pieces != NULL) {
        flags = PyBytes_FromStringAndSize(NULL, rows);
    }
    if (flags != NULL) {
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = prove_rows(&prev, &claimed, pieces, count, rows,
                            wanted && SHA_EXTENSIONS_PRESENT,
                            (unsigned char *)PyBytes_AS_STRING(flags));
        Py_END_ALLOW_THREADS
        if (status < 0) {
            Py_CLEAR(flags);
            if (status == -1) {
                PyErr_NoMemory();
            } else {
                PyErr_SetString(PyExc_RuntimeError, "libcrypto's SHA-256 failed");
            }
        }
    }
    if (pieces != NULL) {
        release_pieces(pieces, count);
    }
    release_column(&prev);
    release_column(&claimed);
    return flags;
}

/* Every row's bytes joined (no prev hash): (int64 offsets, bytes, flags), for tests and
 * readers that want the text itself; the same blocks the proof hashes. -1 out of memory. */
static int join_rows(const Piece *pieces, Py_ssize_t count, Py_ssize_t rows, int64_t *offsets,
                     char **text, size_t *text_size, unsigned char *flags) {
    Block *block = calloc(1, sizeof(Block));
    char *joined = NULL;
    size_t size = 0, capacity = 0;
    int status = block == NULL ? -1 : 0;
    offsets[0] = 0;
    for (Py_ssize_t first = 0; status == 0 && first < rows; first += BLOCK_ROWS) {
        int block_rows = (int)(rows - first < BLOCK_ROWS ? rows - first : BLOCK_ROWS);
        status = lay_out_block(pieces, count, first, block_rows, 0, block);
        for (Py_ssize_t i = 0; status == 0 && i < count; i++) {
            append_piece(&pieces[i], first, block_rows, block);
        }
        for (int row = 0; status == 0 && row < block_rows; row++) {
            size_t length = block->ends[row] - block->starts[row];
            if (size + length > capacity) {
                capacity = 2 * (size + length) + 1024;
                char *grown = realloc(joined, capacity);
                if (grown == NULL) {
                    status = -1;
                    break;
                }
                joined = grown;
            }
            memcpy(joined + size, block->bytes + block->starts[row], length);
            size += length;
            offsets[first + row + 1] = (int64_t)size;
            flags[first + row] = block->flags[row];
        }
    }
    if (block != NULL) {
        free(block->bytes);
        free(block);
    }
    if (status != 0) {
        free(joined);
        joined = NULL;
    }
    *text = joined;
    *text_size = size;
    return status;
}

static PyObject *canonical_rows(PyObject *module, PyObject *args) {
    Py_ssize_t rows, count;
    PyObject *given;
    (void)module;
    if (!PyArg_ParseTuple(args, "nO:canonical_rows", &rows, &given)) {
        return NULL;
    }
    if (rows < 0) {
        PyErr_Format(PyExc_ValueError, "rows: %zd, not a count", rows);
        return NULL;
    }
    PyObject *items = PySequence_Tuple(given);
    if (items == NULL) {
        return NULL;
    }
    PyObject *result = NULL;
    Piece *pieces = read_pieces(items, rows, &count);
    Py_DECREF(items);
    if (pieces == NULL) {
        return NULL;
    }
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (rows + 1) * (Py_ssize_t)sizeof(int64_t));
    PyObject *flags = PyBytes_FromStringAndSize(NULL, rows);
    char *text = NULL;
    size_t text_size = 0;
    if (offsets != NULL && flags != NULL) {
        if (join_rows(pieces, count, rows, (int64_t *)PyBytes_AS_STRING(offsets), &text,
                      &text_size, (unsigned char *)PyBytes_AS_STRING(flags)) < 0) {
            PyErr_NoMemory();
        } else {
            PyObject *joined = PyBytes_FromStringAndSize(text ? text : "", (Py_ssize_t)text_size);
            if (joined != NULL) {
                result = PyTuple_Pack(3, offsets, joined, flags);
                Py_DECREF(joined);
            }
        }
    }
    free(text);
    Py_XDECREF(offsets);
    Py_XDECREF(flags);
    release_pieces(pieces, count);
    return result;
}

static PyMethodDef methods[] = {
    {"proven_rows", (PyCFunction)(void (*)(void))proven_rows, METH_VARARGS | METH_KEYWORDS,
     "proven_rows(prev_hash, hash, pieces) -> flags: each row's SHA-256 (its prev_hash's 32 "
     "bytes, then each piece's) held to its hash (both columns of lower-case hex), a flags "
     "byte a row (ROW_NEEDS_ESCAPING, ROW_IMPOSSIBLE, ROW_DIFFERS). sha_extensions=False "
     "hashes by libcrypto even where the CPU has the SHA extensions."},
    {"canonical_rows", canonical_rows, METH_VARARGS,
     "canonical_rows(rows, pieces) -> (offsets, text, flags): each row's pieces joined, int64 "
     "offsets (rows + 1) into the text, and the flags byte a row."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    "ledger.audit.row_digests",
    "Each event's canonical bytes joined, spelled and hashed from its columns (libcrypto).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit_row_digests(void) {
    fill_hex_values();
    SHA_EXTENSIONS_PRESENT = sha_extensions_present();
    PyObject *module = PyModule_Create(&module_definition);
    if (module == NULL) {
        return NULL;
    }
    const struct {
        const char *name;
        long value;
    } constants[] = {
        {"PIECE_TEXT", PIECE_TEXT},
        {"PIECE_STRING", PIECE_STRING},
        {"PIECE_NULLABLE_STRING", PIECE_NULLABLE_STRING},
        {"PIECE_INTEGER", PIECE_INTEGER},
        {"PIECE_DAY", PIECE_DAY},
        {"PIECE_INSTANT", PIECE_INSTANT},
        {"ROW_NEEDS_ESCAPING", ROW_NEEDS_ESCAPING},
        {"ROW_IMPOSSIBLE", ROW_IMPOSSIBLE},
        {"ROW_DIFFERS", ROW_DIFFERS},
        {"DIGEST_BYTES", DIGEST_BYTES},
    };
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        if (PyModule_AddIntConstant(module, constants[i].name, constants[i].value) < 0) {
            Py_DECREF(module);
            return NULL;
        }
    }
    return module;
}
