/* The replay engine's hot loop: every counted event's postings scatter-added into dense
 * grant bins and period bins, in one pass, without the GIL.
 *
 * What a bin is (projections/replay/key_spaces.py) stays declared in Python: the key tables
 * (pair -> key part, period -> key part, kind -> measure slot) and the year span come in as
 * arrays and numbers. Per event: its pair's and its period's key parts and its measure; per
 * posting: + year * MEASURE_SLOTS, then sums[bin] += amount and bin's touched bit set. The numpy
 * version of the same (range_sums.add_postings) made ~15 whole-chunk temporaries; this one
 * reads each column once.
 *
 * Every index is checked before it is used: an unknown pair, a day or year outside the key
 * space, a bin outside the accumulator is an AssertionError naming the event, never a write
 * out of bounds. Events are checked one at a time, so on such an error the accumulators hold
 * the events before it: the caller clears them (range_sums does).
 *
 * Beside the loop, smaller ones of the engine: take_touched (a dense accumulator's bins, taken
 * out), mark_pairs (the pairs a store holds), sums_before (an as-of index's sums at a chunk
 * boundary) and grant_rows (the recipient-year table from sorted grant bin sums).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_buffer view;
    int held;
} Buffer;

/* The inputs, read from Python objects with the GIL, used without it. */
typedef struct {
    const uint16_t *programme;
    const int32_t *recipient;
    const int32_t *day;
    const uint8_t *kind;
    const uint8_t *posting_count;
    const int16_t *year;
    const int64_t *amount;
    Py_ssize_t events, postings;
    Py_ssize_t start, stop, posting_start, posting_stop;
    const uint8_t *mask; /* NULL: every event of the window counts */
    const Py_ssize_t *measure_of_kind;
    Py_ssize_t kinds;
    const Py_ssize_t *pair_keys; /* NULL: grants not wanted */
    Py_ssize_t pair_slots, recipient_codes;
    const Py_ssize_t *period_keys; /* NULL: periods not wanted */
    Py_ssize_t period_slots, days_first, days_count;
    int clamp_days;
    Py_ssize_t year_first, year_count, measure_slots;
    int64_t *grant_sums;
    uint64_t *grant_touched; /* a bit a bin */
    Py_ssize_t grant_bins;
    int64_t *period_sums;
    uint64_t *period_touched;
    Py_ssize_t period_bins;
    /* NULL: the sums are over the key space's bins. Else they are over an as-of index's
     * columns: a bin's column is found by its index's bitmap (asof_index.CumulativeSums). */
    const uint64_t *grant_words, *period_words;
    const int64_t *grant_word_columns, *period_word_columns;
    Py_ssize_t grant_word_count, period_word_count;
} Pass;

typedef enum {
    OK = 0,
    POSTINGS_PAST_END,
    UNKNOWN_KIND,
    RECIPIENT_OUTSIDE,
    PAIR_OUTSIDE,
    UNKNOWN_PAIR,
    DAY_OUTSIDE,
    UNKNOWN_PERIOD,
    YEAR_OUTSIDE,
    BIN_OUTSIDE,
    BIN_NOT_INDEXED,
} Fault;

static const char *FAULT_TEXT[] = {
    "",
    "its postings run past the posting columns",
    "its kind has no measure slot",
    "its recipient code is outside the pair table's width",
    "its (programme, recipient) is outside the pair table",
    "its (programme, recipient) pair is missing from the key table",
    "its effective day is outside the period table",
    "its period is missing from the key table",
    "a posting's year is outside the key space's years",
    "a bin falls outside the accumulator",
    "a bin the as-of index never reached",
};

/* Whether a buffer's struct format is one native-order integer or bool (NULL means 'B'). */
static int native_integer_format(const char *format) {
    if (format == NULL) return 1;
    if (*format == '@' || *format == '=' || (PY_LITTLE_ENDIAN && *format == '<')) format++;
    return format[0] != '\0' && format[1] == '\0' && strchr("bBhHiIlLqQnN?", format[0]) != NULL;
}

static int get_buffer(PyObject *object, Buffer *buffer, Py_ssize_t itemsize, int writable,
                      const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, &buffer->view, flags) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: not a contiguous%s array", name,
                     writable ? " writable" : "");
        return -1;
    }
    buffer->held = 1;
    if (buffer->view.itemsize != itemsize || buffer->view.ndim != 1) {
        PyErr_Format(PyExc_ValueError, "%s: expected a 1-d array of %zd-byte items, got %zd-byte",
                     name, itemsize, buffer->view.itemsize);
        return -1;
    }
    if (!native_integer_format(buffer->view.format)) {
        /* A float64 array has int64's size: its bytes read as integers would be sums that are
         * silently wrong, so only native integers (and bools) are taken. */
        PyErr_Format(PyExc_ValueError, "%s: expected native integers, got format '%s'", name,
                     buffer->view.format == NULL ? "B" : buffer->view.format);
        return -1;
    }
    return 0;
}

static void release(Buffer *buffers, int count) {
    for (int i = 0; i < count; i++) {
        if (buffers[i].held) {
            PyBuffer_Release(&buffers[i].view);
            buffers[i].held = 0;
        }
    }
}

/* What an entry point takes: per argument, its item size, whether it is written to, whether
 * None may stand for it, and its name for errors. */
typedef struct {
    Py_ssize_t itemsize;
    int writable;
    int optional;
    const char *name;
} BufferSpec;

/* Every argument's buffer, or none: on a refusal the ones taken are released, 0 / -1. */
static int get_buffers(PyObject *const *objects, const BufferSpec *spec, Buffer *buffers,
                       int count) {
    memset(buffers, 0, (size_t)count * sizeof *buffers);
    for (int i = 0; i < count; i++) {
        if (spec[i].optional && objects[i] == Py_None) continue;
        if (get_buffer(objects[i], &buffers[i], spec[i].itemsize, spec[i].writable,
                       spec[i].name) != 0) {
            release(buffers, count);
            return -1;
        }
    }
    return 0;
}

static Py_ssize_t items(const Buffer *buffer) {
    return buffer->view.len / buffer->view.itemsize;
}

/* One event's key parts, checked; OK or why not. */
static Fault event_keys(const Pass *p, Py_ssize_t event, Py_ssize_t *grant_key,
                        Py_ssize_t *period_key) {
    uint8_t kind = p->kind[event];
    if (kind >= p->kinds) return UNKNOWN_KIND;
    Py_ssize_t measure = p->measure_of_kind[kind];
    Py_ssize_t programme = p->programme[event];
    if (p->pair_keys != NULL) {
        Py_ssize_t recipient = p->recipient[event];
        if (recipient < 0 || recipient >= p->recipient_codes) return RECIPIENT_OUTSIDE;
        Py_ssize_t slot = programme * p->recipient_codes + recipient;
        if (slot >= p->pair_slots) return PAIR_OUTSIDE;
        Py_ssize_t key = p->pair_keys[slot];
        if (key < 0 && key + p->year_first * p->measure_slots < 0) return UNKNOWN_PAIR;
        *grant_key = key + measure;
    }
    if (p->period_keys != NULL) {
        Py_ssize_t day = p->day[event];
        Py_ssize_t last = p->days_first + p->days_count - 1;
        if (p->clamp_days) day = day < p->days_first ? p->days_first : (day > last ? last : day);
        if (day < p->days_first || day > last) return DAY_OUTSIDE;
        Py_ssize_t slot = programme * p->days_count + (day - p->days_first);
        if (slot >= p->period_slots) return UNKNOWN_PERIOD;
        Py_ssize_t key = p->period_keys[slot];
        if (key < 0 && key + p->year_first * p->measure_slots < 0) return UNKNOWN_PERIOD;
        *period_key = key + measure;
    }
    return OK;
}

/* Postings are binned a block at a time, then scattered: the scatter loop has no branch and no
 * dependency between iterations, so the CPU keeps many cache misses in flight (the sums are
 * tens of MB, hit at random); prefetching a few postings ahead adds to that. The touched flags
 * are a bit a bin (bit b of word w: bin 64w + b), an eighth of a flag byte's footprint: they
 * stay in the CPU's caches beside the sums, and a take visits only the set bits. */
#define BLOCK_POSTINGS 512
#define PREFETCH_AHEAD 16

static void scatter_block(int64_t *restrict sums, uint64_t *restrict touched,
                          const size_t *restrict bins, const int64_t *restrict amounts,
                          Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i + PREFETCH_AHEAD < count) __builtin_prefetch(&sums[bins[i + PREFETCH_AHEAD]], 1);
        sums[bins[i]] += amounts[i];
        touched[bins[i] >> 6] |= 1ULL << (bins[i] & 63);
    }
}

/* The words of touched flags `bins` bins take: a bit each. */
static Py_ssize_t flag_words(Py_ssize_t bins) {
    return (bins + 63) / 64;
}

/* The set bits of a word. The builtin is one instruction where the target has one (aarch64, or
 * x86-64 built with POPCNT); a plain x86-64 build would make it a library call per posting
 * (measured: +40% on a question's scatter), so the bit-parallel count is written out there. */
static inline size_t bits_set(uint64_t x) {
#if defined(__POPCNT__) || defined(__aarch64__)
    return (size_t)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (size_t)((x * 0x0101010101010101ULL) >> 56);
#endif
}

/* A bin's place in the accumulator: the bin itself, or its column in an as-of index (the set
 * bits of the index's bitmap before it). OK, or why not. */
static inline Fault target_of(size_t bin, const uint64_t *words, const int64_t *word_columns,
                              size_t word_count, size_t accumulator_bins, size_t *target) {
    if (words != NULL) {
        const size_t word = bin >> 6;
        if (word >= word_count) return BIN_OUTSIDE;
        const uint64_t bits = words[word];
        const unsigned bit = (unsigned)(bin & 63);
        if (!((bits >> bit) & 1)) return BIN_NOT_INDEXED;
        bin = (size_t)word_columns[word] + bits_set(bits & ((1ULL << bit) - 1));
    }
    if (bin >= accumulator_bins) return BIN_OUTSIDE;
    *target = bin;
    return OK;
}

/* The loop, without the GIL. Returns OK or the fault, with the event it concerns. Everything
 * the loop touches is copied to locals first: the sums are int64 like the struct's sizes, so
 * without that the compiler must reload the struct after every store. */
static Fault run(const Pass *p, Py_ssize_t *at_event) {
    const uint8_t *restrict posting_count = p->posting_count;
    const uint8_t *restrict mask = p->mask;
    const int16_t *restrict years = p->year;
    const int64_t *restrict amounts = p->amount;
    const Py_ssize_t start = p->start, stop = p->stop, posting_stop = p->posting_stop;
    const Py_ssize_t year_first = p->year_first, year_end = p->year_first + p->year_count;
    const Py_ssize_t measure_slots = p->measure_slots;
    const size_t grant_bins = (size_t)p->grant_bins, period_bins = (size_t)p->period_bins;
    const int grants = p->grant_sums != NULL, periods = p->period_sums != NULL;
    const uint64_t *grant_words = p->grant_words, *period_words = p->period_words;
    const int64_t *grant_word_columns = p->grant_word_columns;
    const int64_t *period_word_columns = p->period_word_columns;
    const size_t grant_word_count = (size_t)p->grant_word_count;
    const size_t period_word_count = (size_t)p->period_word_count;
    size_t grant_block[BLOCK_POSTINGS + UINT8_MAX], period_block[BLOCK_POSTINGS + UINT8_MAX];
    int64_t amount_block[BLOCK_POSTINGS + UINT8_MAX];
    Py_ssize_t blocked = 0;
    Py_ssize_t posting = p->posting_start;
    for (Py_ssize_t event = start; event < stop; event++) {
        Py_ssize_t count = posting_count[event];
        *at_event = event;
        if (posting + count > posting_stop) return POSTINGS_PAST_END;
        if (mask != NULL && !mask[event - start]) {
            posting += count;
            continue;
        }
        Py_ssize_t grant_key = 0, period_key = 0;
        Fault fault = event_keys(p, event, &grant_key, &period_key);
        if (fault != OK) return fault;
        /* A block holds whole events (at most UINT8_MAX postings each): it is cut after one. */
        for (Py_ssize_t end = posting + count; posting < end; posting++) {
            Py_ssize_t year = years[posting];
            if (year < year_first || year >= year_end) return YEAR_OUTSIDE;
            /* Negative bins wrap to huge unsigned values: one comparison checks both ends. */
            size_t grant_bin = (size_t)(grant_key + year * measure_slots);
            size_t period_bin = (size_t)(period_key + year * measure_slots);
            if (grant_words != NULL || period_words != NULL) {
                Fault fault = OK;
                if (grants)
                    fault = target_of(grant_bin, grant_words, grant_word_columns,
                                      grant_word_count, grant_bins, &grant_bin);
                if (fault == OK && periods)
                    fault = target_of(period_bin, period_words, period_word_columns,
                                      period_word_count, period_bins, &period_bin);
                if (fault != OK) return fault;
            } else if ((grants && grant_bin >= grant_bins) ||
                       (periods && period_bin >= period_bins)) {
                return BIN_OUTSIDE;
            }
            grant_block[blocked] = grant_bin;
            period_block[blocked] = period_bin;
            amount_block[blocked] = amounts[posting];
            blocked++;
        }
        if (blocked >= BLOCK_POSTINGS) {
            if (grants) scatter_block(p->grant_sums, p->grant_touched, grant_block, amount_block, blocked);
            if (periods) scatter_block(p->period_sums, p->period_touched, period_block, amount_block, blocked);
            blocked = 0;
        }
    }
    if (blocked) {
        if (grants) scatter_block(p->grant_sums, p->grant_touched, grant_block, amount_block, blocked);
        if (periods) scatter_block(p->period_sums, p->period_touched, period_block, amount_block, blocked);
    }
    return OK;
}

enum {
    PROGRAMME, RECIPIENT, DAY, KIND, POSTING_COUNT, YEAR, AMOUNT, MASK, MEASURES,
    PAIRS, PERIODS, GRANT_SUMS, GRANT_TOUCHED, PERIOD_SUMS, PERIOD_TOUCHED,
    GRANT_WORDS, GRANT_WORD_COLUMNS, PERIOD_WORDS, PERIOD_WORD_COLUMNS, BUFFERS
};

static PyObject *scatter(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objects[BUFFERS];
    Pass p;
    memset(&p, 0, sizeof p);
    for (int i = GRANT_WORDS; i < BUFFERS; i++) objects[i] = Py_None;
    if (!PyArg_ParseTuple(args, "OOOOOOOnnnnOOOnOnnpnnnOOOO|OOOO", &objects[PROGRAMME],
                          &objects[RECIPIENT], &objects[DAY], &objects[KIND],
                          &objects[POSTING_COUNT], &objects[YEAR], &objects[AMOUNT], &p.start,
                          &p.stop, &p.posting_start, &p.posting_stop, &objects[MASK],
                          &objects[MEASURES], &objects[PAIRS], &p.recipient_codes,
                          &objects[PERIODS], &p.days_first, &p.days_count, &p.clamp_days,
                          &p.year_first, &p.year_count, &p.measure_slots,
                          &objects[GRANT_SUMS], &objects[GRANT_TOUCHED], &objects[PERIOD_SUMS],
                          &objects[PERIOD_TOUCHED], &objects[GRANT_WORDS],
                          &objects[GRANT_WORD_COLUMNS], &objects[PERIOD_WORDS],
                          &objects[PERIOD_WORD_COLUMNS]))
        return NULL;
    static const BufferSpec SPEC[BUFFERS] = {
        {2, 0, 0, "programme"}, {4, 0, 0, "recipient"}, {4, 0, 0, "effective_day"},
        {1, 0, 0, "kind"}, {1, 0, 0, "posting_count"}, {2, 0, 0, "year"},
        {8, 0, 0, "amount_ore"}, {1, 0, 1, "mask"}, {sizeof(Py_ssize_t), 0, 0, "measure slots"},
        {sizeof(Py_ssize_t), 0, 1, "pair keys"}, {sizeof(Py_ssize_t), 0, 1, "period keys"},
        {8, 1, 1, "grant sums"}, {8, 1, 1, "grant touched"}, {8, 1, 1, "period sums"},
        {8, 1, 1, "period touched"}, {8, 0, 1, "grant words"}, {8, 0, 1, "grant word columns"},
        {8, 0, 1, "period words"}, {8, 0, 1, "period word columns"},
    };
    Buffer buffers[BUFFERS];
    if (get_buffers(objects, SPEC, buffers, BUFFERS) != 0) return NULL;
    const char *bad = NULL;
    p.events = items(&buffers[PROGRAMME]);
    p.postings = items(&buffers[YEAR]);
    if (items(&buffers[RECIPIENT]) != p.events || items(&buffers[DAY]) != p.events ||
        items(&buffers[KIND]) != p.events || items(&buffers[POSTING_COUNT]) != p.events)
        bad = "the event columns differ in length";
    else if (items(&buffers[AMOUNT]) != p.postings)
        bad = "the posting columns differ in length";
    else if (p.start < 0 || p.start > p.stop || p.stop > p.events)
        bad = "the window's events lie outside the event columns";
    else if (p.posting_start < 0 || p.posting_start > p.posting_stop ||
             p.posting_stop > p.postings)
        bad = "the window's postings lie outside the posting columns";
    else if (buffers[MASK].held && items(&buffers[MASK]) != p.stop - p.start)
        bad = "the mask is not the window's length";
    else if (buffers[PAIRS].held != buffers[GRANT_SUMS].held ||
             buffers[GRANT_SUMS].held != buffers[GRANT_TOUCHED].held)
        bad = "grants need pair keys, sums and touched flags together";
    else if (buffers[PERIODS].held != buffers[PERIOD_SUMS].held ||
             buffers[PERIOD_SUMS].held != buffers[PERIOD_TOUCHED].held)
        bad = "periods need period keys, sums and touched flags together";
    else if (buffers[GRANT_SUMS].held &&
             flag_words(items(&buffers[GRANT_SUMS])) != items(&buffers[GRANT_TOUCHED]))
        bad = "the grant flags are not a bit per grant sum";
    else if (buffers[PERIOD_SUMS].held &&
             flag_words(items(&buffers[PERIOD_SUMS])) != items(&buffers[PERIOD_TOUCHED]))
        bad = "the period flags are not a bit per period sum";
    else if (p.recipient_codes < 0 || p.days_count < 0 || p.year_count <= 0 ||
             p.measure_slots <= 0)
        bad = "a key table's width is not positive";
    else if (buffers[GRANT_WORDS].held != buffers[GRANT_WORD_COLUMNS].held ||
             buffers[PERIOD_WORDS].held != buffers[PERIOD_WORD_COLUMNS].held ||
             (buffers[GRANT_WORDS].held &&
              items(&buffers[GRANT_WORDS]) != items(&buffers[GRANT_WORD_COLUMNS])) ||
             (buffers[PERIOD_WORDS].held &&
              items(&buffers[PERIOD_WORDS]) != items(&buffers[PERIOD_WORD_COLUMNS])))
        bad = "an index's words and word columns go together, of one length";
    if (bad != NULL) {
        release(buffers, BUFFERS);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    p.programme = buffers[PROGRAMME].view.buf;
    p.recipient = buffers[RECIPIENT].view.buf;
    p.day = buffers[DAY].view.buf;
    p.kind = buffers[KIND].view.buf;
    p.posting_count = buffers[POSTING_COUNT].view.buf;
    p.year = buffers[YEAR].view.buf;
    p.amount = buffers[AMOUNT].view.buf;
    p.mask = buffers[MASK].held ? buffers[MASK].view.buf : NULL;
    p.measure_of_kind = buffers[MEASURES].view.buf;
    p.kinds = items(&buffers[MEASURES]);
    if (buffers[PAIRS].held) {
        p.pair_keys = buffers[PAIRS].view.buf;
        p.pair_slots = items(&buffers[PAIRS]);
        p.grant_sums = buffers[GRANT_SUMS].view.buf;
        p.grant_touched = buffers[GRANT_TOUCHED].view.buf;
        p.grant_bins = items(&buffers[GRANT_SUMS]);
    }
    if (buffers[PERIODS].held) {
        p.period_keys = buffers[PERIODS].view.buf;
        p.period_slots = items(&buffers[PERIODS]);
        p.period_sums = buffers[PERIOD_SUMS].view.buf;
        p.period_touched = buffers[PERIOD_TOUCHED].view.buf;
        p.period_bins = items(&buffers[PERIOD_SUMS]);
    }
    if (buffers[GRANT_WORDS].held) {
        p.grant_words = buffers[GRANT_WORDS].view.buf;
        p.grant_word_columns = buffers[GRANT_WORD_COLUMNS].view.buf;
        p.grant_word_count = items(&buffers[GRANT_WORDS]);
    }
    if (buffers[PERIOD_WORDS].held) {
        p.period_words = buffers[PERIOD_WORDS].view.buf;
        p.period_word_columns = buffers[PERIOD_WORD_COLUMNS].view.buf;
        p.period_word_count = items(&buffers[PERIOD_WORDS]);
    }
    Py_ssize_t at_event = p.start;
    Fault fault;
    Py_BEGIN_ALLOW_THREADS
    fault = run(&p, &at_event);
    Py_END_ALLOW_THREADS
    release(buffers, BUFFERS);
    if (fault != OK) {
        PyErr_Format(PyExc_AssertionError, "event %zd of the store: %s", at_event,
                     FAULT_TEXT[fault]);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* mark_pairs(programme, recipient, start, stop, recipient_codes, seen): seen[programme *
 * recipient_codes + recipient] = 1 for events [start, stop): the pairs a store holds, found in
 * the same read of each chunk as its zone. */
static PyObject *mark_pairs(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objects[3];
    Py_ssize_t start, stop, recipient_codes;
    if (!PyArg_ParseTuple(args, "OOnnnO", &objects[0], &objects[1], &start, &stop,
                          &recipient_codes, &objects[2]))
        return NULL;
    static const BufferSpec SPEC[3] = {
        {2, 0, 0, "programme"}, {4, 0, 0, "recipient"}, {1, 1, 0, "seen"}};
    Buffer buffers[3];
    if (get_buffers(objects, SPEC, buffers, 3) != 0) return NULL;
    Py_ssize_t events = items(&buffers[0]), slots = items(&buffers[2]);
    const char *bad = NULL;
    if (items(&buffers[1]) != events)
        bad = "the event columns differ in length";
    else if (start < 0 || start > stop || stop > events)
        bad = "the window's events lie outside the event columns";
    else if (recipient_codes <= 0)
        bad = "the pair table's width is not positive";
    if (bad != NULL) {
        release(buffers, 3);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    const uint16_t *programme = buffers[0].view.buf;
    const int32_t *recipient = buffers[1].view.buf;
    uint8_t *seen = buffers[2].view.buf;
    Py_ssize_t at_event = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t event = start; event < stop; event++) {
        Py_ssize_t code = recipient[event];
        Py_ssize_t slot = programme[event] * recipient_codes + code;
        if (code < 0 || code >= recipient_codes || slot >= slots) {
            at_event = event;
            break;
        }
        seen[slot] = 1;
    }
    Py_END_ALLOW_THREADS
    release(buffers, 3);
    if (at_event >= 0) {
        PyErr_Format(PyExc_AssertionError, "event %zd of the store: %s", at_event,
                     FAULT_TEXT[RECIPIENT_OUTSIDE]);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* grant_rows(bins, sums, pair_programme, pair_recipient, year_first, year_count, measure_slots,
 * grant_slots, out) -> rows: the recipient-year table straight from grant bin sums.
 *
 * Bins come sorted strictly ascending (a dense accumulator's touched bins, an index's merged
 * sums), so the bins of one (pair, year) are adjacent and rows come out in bin order, which is
 * key order when the pairs are numbered in name order. A row is made for a (pair, year) whose
 * recipient is a real one (code > 0) and which a posting reached in one of `grant_slots`, as
 * projections.replay.totals declares it. `out` is int64, (3 + len(grant_slots)) columns of
 * `capacity` each, laid one after the other: programme, recipient, year, then each grant slot's
 * sum (0 where no posting reached it). One read of the bins instead of ~20 numpy passes. */
#define GRANT_SLOTS_MAX 8

typedef struct {
    const int64_t *bins, *sums, *pair_programme, *pair_recipient;
    const Py_ssize_t *grant_slots;
    Py_ssize_t count, pairs, year_first, year_count, measure_slots, slot_count, capacity;
    int64_t *out;
} GrantRows;

/* Returns the number of rows, or -1 with *at_bin the bin that broke the order or the pairs.
 * `measure_slots` is g->measure_slots, passed apart so that the caller can pass the engine's
 * own count as a constant: the division by it, one a bin, then compiles to a multiplication
 * (a 64-bit division takes tens of cycles: 2.8 -> 2.1 ms on a decade ledger's 493 000
 * bins, measured against the build before in one process). */
static inline Py_ssize_t grant_rows_of(const GrantRows *g, const int64_t measure_slots,
                                       Py_ssize_t *at_bin) {
    const Py_ssize_t capacity = g->capacity, slot_count = g->slot_count;
    int64_t *restrict out = g->out;
    Py_ssize_t rows = 0;
    Py_ssize_t bin = 0;
    while (bin < g->count) {
        const int64_t row_key = g->bins[bin] / measure_slots;
        int64_t slot_sums[GRANT_SLOTS_MAX] = {0};
        int reached = 0;
        /* One division a bin: the measure is what the row key leaves. */
        for (; bin < g->count; bin++) {
            const int64_t value = g->bins[bin];
            if (value < 0 || (bin > 0 && value <= g->bins[bin - 1])) {
                *at_bin = bin;
                return -1;
            }
            const int64_t key = value / measure_slots;
            if (key != row_key) break;
            const Py_ssize_t measure = (Py_ssize_t)(value - key * measure_slots);
            for (Py_ssize_t s = 0; s < slot_count; s++) {
                if (g->grant_slots[s] == measure) {
                    slot_sums[s] = g->sums[bin];
                    reached = 1;
                }
            }
        }
        const int64_t unit = row_key / g->year_count;
        if (unit >= g->pairs) {
            *at_bin = bin - 1;
            return -1;
        }
        const int64_t recipient = g->pair_recipient[unit];
        if (!reached || recipient <= 0) continue;
        out[rows] = g->pair_programme[unit];
        out[capacity + rows] = recipient;
        out[2 * capacity + rows] = g->year_first + (row_key - unit * g->year_count);
        for (Py_ssize_t s = 0; s < slot_count; s++) out[(3 + s) * capacity + rows] = slot_sums[s];
        rows++;
    }
    return rows;
}

/* The engine's measure slots (projections.replay.key_spaces.MEASURE_SLOTS: five measures and
 * the slot of postings without one), spelled here only to specialise the loop for them. */
#define ENGINE_MEASURE_SLOTS 6

static Py_ssize_t run_grant_rows(const GrantRows *g, Py_ssize_t *at_bin) {
    if (g->measure_slots == ENGINE_MEASURE_SLOTS)
        return grant_rows_of(g, ENGINE_MEASURE_SLOTS, at_bin);
    return grant_rows_of(g, g->measure_slots, at_bin);
}

enum { BINS, SUMS, PAIR_PROGRAMME, PAIR_RECIPIENT, GRANT_SLOTS, OUT, ROW_BUFFERS };

static PyObject *grant_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objects[ROW_BUFFERS];
    GrantRows g;
    memset(&g, 0, sizeof g);
    if (!PyArg_ParseTuple(args, "OOOOnnnOO", &objects[BINS], &objects[SUMS],
                          &objects[PAIR_PROGRAMME], &objects[PAIR_RECIPIENT], &g.year_first,
                          &g.year_count, &g.measure_slots, &objects[GRANT_SLOTS], &objects[OUT]))
        return NULL;
    static const BufferSpec SPEC[ROW_BUFFERS] = {
        {8, 0, 0, "bins"}, {8, 0, 0, "sums"}, {8, 0, 0, "pair programme"},
        {8, 0, 0, "pair recipient"}, {sizeof(Py_ssize_t), 0, 0, "grant slots"}, {8, 1, 0, "out"},
    };
    Buffer buffers[ROW_BUFFERS];
    if (get_buffers(objects, SPEC, buffers, ROW_BUFFERS) != 0) return NULL;
    g.count = items(&buffers[BINS]);
    g.pairs = items(&buffers[PAIR_PROGRAMME]);
    g.slot_count = items(&buffers[GRANT_SLOTS]);
    const Py_ssize_t columns = 3 + g.slot_count;
    g.capacity = items(&buffers[OUT]) / columns;
    g.bins = buffers[BINS].view.buf;
    g.sums = buffers[SUMS].view.buf;
    g.pair_programme = buffers[PAIR_PROGRAMME].view.buf;
    g.pair_recipient = buffers[PAIR_RECIPIENT].view.buf;
    g.grant_slots = buffers[GRANT_SLOTS].view.buf;
    g.out = buffers[OUT].view.buf;
    const char *bad = NULL;
    if (items(&buffers[SUMS]) != g.count)
        bad = "the bins and their sums differ in length";
    else if (items(&buffers[PAIR_RECIPIENT]) != g.pairs)
        bad = "the pair columns differ in length";
    else if (g.year_count <= 0 || g.measure_slots <= 0)
        bad = "a key space's width is not positive";
    else if (g.slot_count > GRANT_SLOTS_MAX)
        bad = "too many grant slots";
    else if (items(&buffers[OUT]) % columns != 0 || g.capacity < g.count)
        bad = "out does not hold a column per field of a row per bin";
    for (Py_ssize_t s = 0; bad == NULL && s < g.slot_count; s++)
        if (g.grant_slots[s] < 0 || g.grant_slots[s] >= g.measure_slots)
            bad = "a grant slot outside the measure slots";
    if (bad != NULL) {
        release(buffers, ROW_BUFFERS);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Py_ssize_t at_bin = 0, rows;
    Py_BEGIN_ALLOW_THREADS
    rows = run_grant_rows(&g, &at_bin);
    Py_END_ALLOW_THREADS
    release(buffers, ROW_BUFFERS);
    if (rows < 0) {
        PyErr_Format(PyExc_AssertionError,
                     "grant bin %zd: bins not strictly ascending, or its pair outside the table",
                     at_bin);
        return NULL;
    }
    return PyLong_FromSsize_t(rows);
}

/* sums_before(bins, first_chunk, snapshot, chunk_columns, chunk_sums, since_start, since_stop,
 * boundary, plus_sums, plus_touched, out_bins, out_sums) -> count: an as-of index's sums before
 * a chunk boundary (asof_index.CumulativeSums.before), with a question's own sums added.
 *
 * Per index bin (column): the running total at the last snapshot, plus the chunk entries since
 * it ([since_start, since_stop) of chunk_columns/chunk_sums), plus the question's own sum in
 * that column (plus_sums/plus_touched: the question's straddled chunks summed straight into the
 * index's columns, a flag bit a column; both empty for none). A bin counts when a chunk before the boundary first
 * reached it, or the question's events did. The counted bins and their sums are written to
 * out_bins/out_sums (out_sums first holds every column's total: compacted in place). One pass
 * over the index's bins instead of a copy, a scatter, a search per bin and two masks. */
enum {
    B_BINS, B_FIRST_CHUNK, B_SNAPSHOT, B_CHUNK_COLUMNS, B_CHUNK_SUMS, B_PLUS_SUMS,
    B_PLUS_TOUCHED, B_OUT_BINS, B_OUT_SUMS, BEFORE_BUFFERS
};

/* Returns the number of bins counted, or -1 with *at the chunk entry whose column is outside. */
static Py_ssize_t run_sums_before(Buffer *b, Py_ssize_t since_start, Py_ssize_t since_stop,
                                  Py_ssize_t boundary, Py_ssize_t *at) {
    const Py_ssize_t n = items(&b[B_BINS]);
    const int64_t *restrict bins = b[B_BINS].view.buf;
    const int32_t *restrict first_chunk = b[B_FIRST_CHUNK].view.buf;
    const int32_t *restrict columns = b[B_CHUNK_COLUMNS].view.buf;
    const int64_t *restrict chunk_sums = b[B_CHUNK_SUMS].view.buf;
    const int plus = items(&b[B_PLUS_SUMS]) > 0;
    const int64_t *restrict plus_sums = b[B_PLUS_SUMS].view.buf;
    const uint64_t *restrict plus_touched = b[B_PLUS_TOUCHED].view.buf;
    int64_t *restrict out_bins = b[B_OUT_BINS].view.buf;
    int64_t *restrict totals = b[B_OUT_SUMS].view.buf;
    memcpy(totals, b[B_SNAPSHOT].view.buf, (size_t)n * sizeof(int64_t));
    for (Py_ssize_t e = since_start; e < since_stop; e++) {
        const int32_t column = columns[e];
        if (column < 0 || column >= n) {
            *at = e;
            return -1;
        }
        totals[column] += chunk_sums[e];
    }
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const int reached =
            first_chunk[i] < boundary || (plus && ((plus_touched[i >> 6] >> (i & 63)) & 1));
        if (!reached) continue;
        out_bins[kept] = bins[i];
        /* kept <= i: this column's total is read before anything is written over it */
        totals[kept++] = totals[i] + (plus ? plus_sums[i] : 0);
    }
    return kept;
}

static PyObject *sums_before(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objects[BEFORE_BUFFERS];
    Py_ssize_t since_start, since_stop, boundary;
    if (!PyArg_ParseTuple(args, "OOOOOnnnOOOO", &objects[B_BINS], &objects[B_FIRST_CHUNK],
                          &objects[B_SNAPSHOT], &objects[B_CHUNK_COLUMNS], &objects[B_CHUNK_SUMS],
                          &since_start, &since_stop, &boundary, &objects[B_PLUS_SUMS],
                          &objects[B_PLUS_TOUCHED], &objects[B_OUT_BINS], &objects[B_OUT_SUMS]))
        return NULL;
    static const BufferSpec SPEC[BEFORE_BUFFERS] = {
        {8, 0, 0, "bins"}, {4, 0, 0, "first chunk"}, {8, 0, 0, "snapshot"},
        {4, 0, 0, "chunk columns"}, {8, 0, 0, "chunk sums"}, {8, 0, 0, "plus sums"},
        {8, 0, 0, "plus touched"}, {8, 1, 0, "out bins"}, {8, 1, 0, "out sums"},
    };
    Buffer buffers[BEFORE_BUFFERS];
    if (get_buffers(objects, SPEC, buffers, BEFORE_BUFFERS) != 0) return NULL;
    const Py_ssize_t n = items(&buffers[B_BINS]), plus = items(&buffers[B_PLUS_SUMS]);
    const char *bad = NULL;
    if (items(&buffers[B_FIRST_CHUNK]) != n || items(&buffers[B_SNAPSHOT]) != n ||
        items(&buffers[B_OUT_BINS]) != n || items(&buffers[B_OUT_SUMS]) != n)
        bad = "the index's bins, first chunks, snapshot and outputs differ in length";
    else if (items(&buffers[B_CHUNK_COLUMNS]) != items(&buffers[B_CHUNK_SUMS]))
        bad = "the chunk columns and sums differ in length";
    else if (items(&buffers[B_PLUS_TOUCHED]) != flag_words(plus) || (plus != 0 && plus != n))
        bad = "the plus sums (and their flags, a bit each) are one per index bin, or none";
    else if (since_start < 0 || since_start > since_stop ||
             since_stop > items(&buffers[B_CHUNK_COLUMNS]))
        bad = "the chunk entries since the snapshot lie outside the chunk columns";
    if (bad != NULL) {
        release(buffers, BEFORE_BUFFERS);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Py_ssize_t count, at = 0;
    Py_BEGIN_ALLOW_THREADS
    count = run_sums_before(buffers, since_start, since_stop, boundary, &at);
    Py_END_ALLOW_THREADS
    release(buffers, BEFORE_BUFFERS);
    if (count < 0) {
        PyErr_Format(PyExc_AssertionError, "chunk entry %zd: its column is outside the bins", at);
        return NULL;
    }
    return PyLong_FromSsize_t(count);
}

/* take_touched(sums, touched, out_bins, out_sums) -> count: a dense accumulator's touched bins
 * (ascending) and their sums, each bin cleared as it is taken (DenseSums.take). The outputs are
 * sized by the caller (numpy counts the flags' bits); finding more touched bins than they hold
 * is a ValueError, the accumulator then left as it was from that bin on. The flags are a bit a
 * bin: a take reads 1/64 of the key space's width and visits only the set bits (a pass's chunk,
 * or a question, touches a few percent of a decade's key space). */
static Py_ssize_t run_take_touched(int64_t *restrict sums, uint64_t *restrict touched,
                                   Py_ssize_t n, int64_t *restrict out_bins,
                                   int64_t *restrict out_sums, Py_ssize_t capacity) {
    Py_ssize_t count = 0;
    const Py_ssize_t words = flag_words(n);
    for (Py_ssize_t word = 0; word < words; word++) {
        uint64_t bits = touched[word];
        while (bits != 0) {
            const Py_ssize_t bin = word * 64 + __builtin_ctzll(bits);
            /* A bit past the last bin, or more bins than the outputs hold: refused as it is. */
            if (bin >= n || count == capacity) {
                touched[word] = bits;
                return -1;
            }
            out_bins[count] = bin;
            out_sums[count++] = sums[bin];
            sums[bin] = 0;
            bits &= bits - 1;
        }
        touched[word] = 0;
    }
    return count;
}

static PyObject *take_touched(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objects[4];
    if (!PyArg_ParseTuple(args, "OOOO", &objects[0], &objects[1], &objects[2], &objects[3]))
        return NULL;
    static const BufferSpec SPEC[4] = {
        {8, 1, 0, "sums"}, {8, 1, 0, "touched"}, {8, 1, 0, "out bins"}, {8, 1, 0, "out sums"}};
    Buffer buffers[4];
    if (get_buffers(objects, SPEC, buffers, 4) != 0) return NULL;
    const Py_ssize_t n = items(&buffers[0]), capacity = items(&buffers[2]);
    if (items(&buffers[1]) != flag_words(n) || items(&buffers[3]) != capacity) {
        release(buffers, 4);
        PyErr_SetString(PyExc_ValueError,
                        "the flags are not a bit per sum, or the two outputs differ in length");
        return NULL;
    }
    Py_ssize_t count;
    Py_BEGIN_ALLOW_THREADS
    count = run_take_touched(buffers[0].view.buf, buffers[1].view.buf, n, buffers[2].view.buf,
                             buffers[3].view.buf, capacity);
    Py_END_ALLOW_THREADS
    release(buffers, 4);
    if (count < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "more touched bins than the outputs hold, or a flag past the last sum");
        return NULL;
    }
    return PyLong_FromSsize_t(count);
}

/* mark_bins(bins, size, words): set bit b of word w for each bin 64w + b of `bins` (the as-of
 * index's bitmap of the bins its chunks reached: asof_index.CumulativeSums.words). A bin outside
 * [0, size) is an AssertionError naming it and its place in `bins`. */
static PyObject *mark_bins(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objects[2];
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "OnO", &objects[0], &size, &objects[1])) return NULL;
    static const BufferSpec SPEC[2] = {{8, 0, 0, "bins"}, {8, 1, 0, "words"}};
    Buffer buffers[2];
    if (get_buffers(objects, SPEC, buffers, 2) != 0) return NULL;
    if (size < 0 || items(&buffers[1]) != flag_words(size)) {
        release(buffers, 2);
        PyErr_SetString(PyExc_ValueError, "the words are not a bit per bin of the key space");
        return NULL;
    }
    const int64_t *bins = buffers[0].view.buf;
    uint64_t *words = buffers[1].view.buf;
    const Py_ssize_t count = items(&buffers[0]);
    Py_ssize_t bad = -1;
    int64_t bad_bin = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        const int64_t bin = bins[i];
        if (bin < 0 || bin >= size) {
            bad = i;
            bad_bin = bin;
            break;
        }
        words[bin >> 6] |= 1ULL << (bin & 63);
    }
    Py_END_ALLOW_THREADS
    release(buffers, 2);
    if (bad >= 0) {
        PyErr_Format(PyExc_AssertionError, "bin %lld (entry %zd): outside the key space of %zd bins",
                     (long long)bad_bin, bad, size);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* index_columns(entry_bins, entry_sums, offsets, words, word_columns, snapshot_chunks, bins,
 * first_chunk, entry_columns, snapshots): the as-of index's columns from its chunks' sums
 * (asof_index._cumulative). The entries of chunk k are [offsets[k], offsets[k + 1]); `words`
 * marks every bin they reached (mark_bins) and `word_columns` counts the marked bins before each
 * word. Out: the marked bins ascending (a column each), each column's first chunk, each entry's
 * column, and the running totals after every snapshot_chunks chunks (row r of `snapshots`, laid
 * row after row, holds the sums of chunks [0, r * snapshot_chunks)). One pass over the entries
 * instead of a searched column per entry and a numpy pass per chunk. */
enum {
    I_ENTRY_BINS, I_ENTRY_SUMS, I_OFFSETS, I_WORDS, I_WORD_COLUMNS, I_BINS, I_FIRST_CHUNK,
    I_ENTRY_COLUMNS, I_SNAPSHOTS, INDEX_BUFFERS
};

/* Returns 0; -1 with *at the entry whose bin is not marked; -2 when the bitmap does not mark
 * exactly one bin per column, or word_columns does not count the marked bins before each word
 * (an entry's column is found by it: a wrong count would write outside the columns); -3 when
 * memory for the running totals is short. */
static int run_index_columns(Buffer *b, Py_ssize_t snapshot_chunks, Py_ssize_t *at) {
    const int64_t *restrict entry_bins = b[I_ENTRY_BINS].view.buf;
    const int64_t *restrict entry_sums = b[I_ENTRY_SUMS].view.buf;
    const int64_t *restrict offsets = b[I_OFFSETS].view.buf;
    const uint64_t *restrict words = b[I_WORDS].view.buf;
    const int64_t *restrict word_columns = b[I_WORD_COLUMNS].view.buf;
    int64_t *restrict bins = b[I_BINS].view.buf;
    int32_t *restrict first_chunk = b[I_FIRST_CHUNK].view.buf;
    int32_t *restrict entry_columns = b[I_ENTRY_COLUMNS].view.buf;
    int64_t *restrict snapshots = b[I_SNAPSHOTS].view.buf;
    const Py_ssize_t columns = items(&b[I_BINS]), word_count = items(&b[I_WORDS]);
    const Py_ssize_t chunks = items(&b[I_OFFSETS]) - 1;
    Py_ssize_t column = 0;
    for (Py_ssize_t word = 0; word < word_count; word++) {
        if (word_columns[word] != column) return -2;
        for (uint64_t bits = words[word]; bits != 0; bits &= bits - 1) {
            if (column == columns) return -2;
            bins[column++] = word * 64 + __builtin_ctzll(bits);
        }
    }
    if (column != columns) return -2;
    int64_t *running = calloc((size_t)(columns > 0 ? columns : 1), sizeof(int64_t));
    if (running == NULL) return -3;
    for (Py_ssize_t i = 0; i < columns; i++) first_chunk[i] = (int32_t)chunks;
    memset(snapshots, 0, (size_t)columns * sizeof(int64_t)); /* row 0: before any chunk */
    for (Py_ssize_t chunk = 0; chunk < chunks; chunk++) {
        for (Py_ssize_t e = offsets[chunk]; e < offsets[chunk + 1]; e++) {
            const int64_t bin = entry_bins[e];
            const int64_t word = bin >> 6;
            const uint64_t bits = word >= 0 && word < word_count ? words[word] : 0;
            const unsigned bit = (unsigned)(bin & 63);
            if (!((bits >> bit) & 1)) {
                free(running);
                *at = e;
                return -1;
            }
            const int64_t c = word_columns[word] + (int64_t)bits_set(bits & ((1ULL << bit) - 1));
            entry_columns[e] = (int32_t)c;
            if (first_chunk[c] == chunks) first_chunk[c] = (int32_t)chunk;
            running[c] += entry_sums[e];
        }
        if ((chunk + 1) % snapshot_chunks == 0)
            memcpy(snapshots + ((chunk + 1) / snapshot_chunks) * columns, running,
                   (size_t)columns * sizeof(int64_t));
    }
    free(running);
    return 0;
}

static PyObject *index_columns(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objects[INDEX_BUFFERS];
    Py_ssize_t snapshot_chunks;
    if (!PyArg_ParseTuple(args, "OOOOOnOOOO", &objects[I_ENTRY_BINS], &objects[I_ENTRY_SUMS],
                          &objects[I_OFFSETS], &objects[I_WORDS], &objects[I_WORD_COLUMNS],
                          &snapshot_chunks, &objects[I_BINS], &objects[I_FIRST_CHUNK],
                          &objects[I_ENTRY_COLUMNS], &objects[I_SNAPSHOTS]))
        return NULL;
    static const BufferSpec SPEC[INDEX_BUFFERS] = {
        {8, 0, 0, "entry bins"}, {8, 0, 0, "entry sums"}, {8, 0, 0, "offsets"},
        {8, 0, 0, "words"}, {8, 0, 0, "word columns"}, {8, 1, 0, "bins"},
        {4, 1, 0, "first chunk"}, {4, 1, 0, "entry columns"}, {8, 1, 0, "snapshots"},
    };
    Buffer buffers[INDEX_BUFFERS];
    if (get_buffers(objects, SPEC, buffers, INDEX_BUFFERS) != 0) return NULL;
    const Py_ssize_t entries = items(&buffers[I_ENTRY_BINS]);
    const Py_ssize_t chunks = items(&buffers[I_OFFSETS]) - 1;
    const Py_ssize_t columns = items(&buffers[I_BINS]);
    const int64_t *offsets = buffers[I_OFFSETS].view.buf;
    const char *bad = NULL;
    if (items(&buffers[I_ENTRY_SUMS]) != entries || items(&buffers[I_ENTRY_COLUMNS]) != entries)
        bad = "the entries' bins, sums and columns differ in length";
    else if (items(&buffers[I_WORD_COLUMNS]) != items(&buffers[I_WORDS]))
        bad = "the words and word columns differ in length";
    else if (items(&buffers[I_FIRST_CHUNK]) != columns)
        bad = "the bins and first chunks differ in length";
    else if (chunks < 0 || chunks >= INT32_MAX || columns >= INT32_MAX)
        bad = "the chunks or columns do not fit the index's int32 columns";
    else if (snapshot_chunks <= 0 ||
             items(&buffers[I_SNAPSHOTS]) != (chunks / snapshot_chunks + 1) * columns)
        bad = "the snapshots are not a row of columns per snapshot_chunks chunks, plus one";
    for (Py_ssize_t k = 0; bad == NULL && k < chunks; k++)
        if (offsets[k] < 0 || offsets[k] > offsets[k + 1] || offsets[k + 1] > entries)
            bad = "the chunk offsets do not ascend within the entries";
    if (bad == NULL && chunks >= 0 && (offsets[0] != 0 || offsets[chunks] != entries))
        bad = "the chunk offsets do not cover the entries";
    if (bad != NULL) {
        release(buffers, INDEX_BUFFERS);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Py_ssize_t at = 0;
    int result;
    Py_BEGIN_ALLOW_THREADS
    result = run_index_columns(buffers, snapshot_chunks, &at);
    Py_END_ALLOW_THREADS
    release(buffers, INDEX_BUFFERS);
    if (result == -1) {
        PyErr_Format(PyExc_AssertionError, "entry %zd: its bin is not marked in the words", at);
        return NULL;
    }
    if (result == -2) {
        PyErr_SetString(PyExc_AssertionError,
                        "the words do not mark one bin per column, or the word columns do not "
                        "count them");
        return NULL;
    }
    if (result == -3) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef METHODS[] = {
    {"mark_pairs", mark_pairs, METH_VARARGS,
     "Flag the (programme, recipient) pairs of the window's events."},
    {"grant_rows", grant_rows, METH_VARARGS,
     "The recipient-year rows of sorted grant bin sums; returns how many."},
    {"sums_before", sums_before, METH_VARARGS,
     "An as-of index's sums before a chunk boundary, a question's own sums added."},
    {"mark_bins", mark_bins, METH_VARARGS, "Mark bins in a bitmap, a bit a bin."},
    {"index_columns", index_columns, METH_VARARGS,
     "An as-of index's columns, first chunks and running totals from its chunks' sums."},
    {"take_touched", take_touched, METH_VARARGS,
     "A dense accumulator's touched bins and sums, cleared as they are taken."},
    {"scatter", scatter, METH_VARARGS,
     "Add the window's counted postings to dense grant and period accumulators."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT,
    .m_name = "posting_sums",
    .m_doc = "The replay engine's hot loop in C (see projections/replay/posting_sums.c).",
    .m_size = -1,
    .m_methods = METHODS,
};

PyMODINIT_FUNC PyInit_posting_sums(void) {
    PyObject *module = PyModule_Create(&MODULE);
    if (module == NULL) return NULL;
    /* Held to key_spaces.MEASURE_SLOTS by projections.replay.totals at import. */
    if (PyModule_AddIntConstant(module, "ENGINE_MEASURE_SLOTS", ENGINE_MEASURE_SLOTS) != 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
