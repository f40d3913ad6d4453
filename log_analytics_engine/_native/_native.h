/*
 * The internal interface between the C sources of the accelerator (``_speedups``).
 *
 *   module.c     the module: its state, configure(), the method table
 *   timestamp.c  ISO 8601 timestamps -> UTC instants (parse_iso)
 *   entry.c      LogEntry objects: building them, the garbage collector, the dict path
 *   parse.c      the direct JSON line parser, entries_from_lines, direct_entry
 *   postings.c   the word tokenizer and the postings of a batch: gather, ingest_blocks,
 *                entries_from_blocks
 *   archive.c    the archive's columns: word_lists and word_lists_utf8 (the words column),
 *                string_buffers, entry_columns, json_array_buffers, and archive_columns
 *                (JSON lines straight into column buffers, the bulk import)
 *   timeorder.c  time_order, filter_instants, split_ordered
 *   codec.c      the durable copy's chunks: encode_chunk, entries_from_rows/_chunk
 *   aggregate.c  sorted_numbers, count_values
 *   columns.c    numeric columns: numeric_column, gather_numbers, summarize_numbers
 *   records.c    entry records of sealed chunks: encode_records, decode_records, take_entries
 *   ingest.c     ingest_records: JSON lines straight into records and postings
 *
 * The pure-Python kernels (python.py) are the specification: every function here either
 * produces exactly what its Python twin produces or hands the case back (None) to the
 * general path; the differential tests and the sanitizer's fuzz run compare them.
 *
 * Everything configure() binds and every cache of Python objects lives in the module state
 * (State below), never in a file-level static; the only statics are constant tables.
 */
#ifndef LAE_NATIVE_H
#define LAE_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

/* Functions shared between the sources: not exported from the shared object, so they can
 * be neither interposed nor looked up from outside, and calls within a file may inline. */
#if defined(__GNUC__) || defined(__clang__)
#define INTERNAL __attribute__((visibility("hidden")))
#define PREFETCH_READ(p) __builtin_prefetch(p)   /* a hint: no effect on results */
#else
#define INTERNAL
#define PREFETCH_READ(p) ((void)(p))
#endif

/* ---------------------------------------------------------------- the entry's slots -- */

enum { S_TIMESTAMP, S_TS, S_LEVEL, S_MESSAGE, S_SOURCE, S_THREAD_ID, S_REQUEST_ID,
       S_USER_ID, S_TAGS, S_METADATA, N_SLOTS };
INTERNAL extern const char *const slot_names[N_SLOTS];

/* Level spellings recognised without hashing (their canonical objects are in the state). */
#define N_COMMON_LEVELS 8
INTERNAL extern const char *const common_spellings[N_COMMON_LEVELS];

#define KEY_CACHE 32    /* orjson's key objects -> slot (entry.c) */
#define META_KEYS 256   /* shared metadata key strings (parse.c) */

/* The module state: what configure() binds, and the caches of Python objects. */
typedef struct {
    PyTypeObject *entry_type;       /* LogEntry (NULL until configure()) */
    Py_ssize_t slot_offset[N_SLOTS];
    Py_ssize_t record_offset;       /* LogEntry._record: a lazy entry's Record (records.c) */
    PyTypeObject *record_type;      /* Record (made by the module's exec) */
    PyObject *level_cache;          /* entry._LEVEL_CACHE: spelling -> canonical */
    PyObject *from_json;            /* entry.entry_from_json: the specification */
    PyObject *loads;                /* orjson.loads */
    PyObject *words_fn;             /* tokenize.words, for non-ASCII messages */
    PyObject *array_type;           /* array.array */
    PyObject *str_info, *str_empty;
    PyObject *common_names[N_COMMON_LEVELS];
    PyObject *key_obj[KEY_CACHE];   /* references held, replaced round-robin */
    signed char key_slot[KEY_CACHE];
    int key_next;
    PyObject *meta_keys[META_KEYS]; /* direct-mapped by a hash of the key's bytes */
} State;

/* ORDER_CMP(name, type): a qsort comparator putting values of a scalar type in ascending
 * order (each file that sorts defines the ones it needs, static). */
#define ORDER_CMP(name, type)                                                               \
    static int name(const void *a, const void *b)                                           \
    {                                                                                       \
        type x = *(const type *)a, y = *(const type *)b;                                    \
        return (x > y) - (x < y);                                                           \
    }

#define SLOT(st, obj, k) (*(PyObject **)((char *)(obj) + (st)->slot_offset[k]))

/* records.c: decode the fields of a lazily built entry (take_entries(..., lazy=True)) into
 * the slots still unset. 0 (also for any other object), or -1 with an exception. */
INTERNAL int fill_lazy(const State *st, PyObject *e);
/* records.c: make the Record type (the module's exec). */
INTERNAL int records_exec(PyObject *module, State *st);
INTERNAL PyObject *py_entry_getattr(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
INTERNAL PyObject *py_fill_entry(PyObject *module, PyObject *entry);

/* Call before reading the slots of an exact LogEntry that came from outside: a lazy entry
 * holds only its instant and level until then. */
static inline int
entry_ready(const State *st, PyObject *e)
{
    if (Py_TYPE(e) != st->entry_type || st->record_offset <= 0 ||
        *(PyObject **)((char *)e + st->record_offset) == NULL)
        return 0;
    return fill_lazy(st, e);
}

/* metadata[field] of the plain LogEntry e: 1 with *value borrowed (NULL when the key is
 * missing), 0 when e is not a plain entry with a dict of metadata (the caller hands the case
 * back to the Python path), -1 with an exception set. */
static inline int
entry_metadata_item(State *st, PyObject *e, PyObject *field, PyObject **value)
{
    if (Py_TYPE(e) != st->entry_type)
        return 0;
    if (entry_ready(st, e) < 0)
        return -1;
    PyObject *metadata = SLOT(st, e, S_METADATA);
    if (metadata == NULL || !PyDict_CheckExact(metadata))
        return 0;
    *value = PyDict_GetItemWithError(metadata, field);
    return *value == NULL && PyErr_Occurred() ? -1 : 1;
}

/* module.c */
/* Whether a line holds only ASCII whitespace (bytes.isspace(), or empty): readers skip it. */
static inline int
blank_line(const unsigned char *p, const unsigned char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\v' && *p != '\f')
            return 0;
    return 1;
}

/* The next line of a block of whole lines, from *p (below end): 1 with the line in [*p,
 * *stop) (its newline excluded) and *next after it, the blank lines before it skipped and
 * counted in *line_no; 0 when only blank lines were left (*p is then end). */
static inline int
next_line(const unsigned char **p, const unsigned char *end, const unsigned char **stop,
          const unsigned char **next, Py_ssize_t *line_no)
{
    while (*p < end) {
        const unsigned char *nl = memchr(*p, '\n', (size_t)(end - *p));
        *stop = nl != NULL ? nl : end;
        *next = nl != NULL ? nl + 1 : end;
        if (!blank_line(*p, *stop))
            return 1;
        ++*line_no;  /* skipped, as the Python reader skips it */
        *p = *next;
    }
    return 0;
}

INTERNAL State *get_state(PyObject *module);
INTERNAL int check_configured(const State *st);
INTERNAL int check_arg(const State *st, PyObject *arg, PyTypeObject *type, const char *expects);
INTERNAL PyObject *found_or_none(int r, PyObject *obj);

/* timestamp.c */
INTERNAL int parse_iso(const unsigned char *s, Py_ssize_t n, double *out);

/* entry.c */
INTERNAL void untrack_if_acyclic(const State *st, PyObject *entry);
INTERNAL PyObject *new_entry(const State *st, PyObject *const *v, double instant);
INTERNAL PyObject *fast_entry(State *st, PyObject *data);

/* ---------------------------------------------------------------- the JSON scanner --- */

typedef struct {
    const unsigned char *p, *end;
    State *st;
} Cursor;

static inline void
skip_ws(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static inline int
at(const Cursor *c, unsigned char ch)
{
    return c->p < c->end && *c->p == ch;
}

/* Calls `item` for each element of the array ('[') or member of the object ('{') at c->p,
 * after skipping the opening bracket; handles separators and the closing bracket. */
#define FOR_EACH_ITEM(c, close, bail, ...)                                               \
    do {                                                                                   \
        (c)->p++;                                                                          \
        skip_ws(c);                                                                        \
        if (at((c), (close))) {                                                            \
            (c)->p++;                                                                      \
            break;                                                                         \
        }                                                                                  \
        for (;;) {                                                                         \
            __VA_ARGS__                                                                    \
            if (*(bail))                                                                   \
                break;                                                                     \
            skip_ws(c);                                                                    \
            if (at((c), ',')) {                                                            \
                (c)->p++;                                                                  \
                skip_ws(c);                                                                \
                continue;                                                                  \
            }                                                                              \
            if (!at((c), (close)))                                                         \
                *(bail) = 1;                                                               \
            else                                                                           \
                (c)->p++;                                                                  \
            break;                                                                         \
        }                                                                                  \
    } while (0)

/* What scan_string found in a string token. */
#define PLAIN_ASCII 1     /* ASCII, no escape */
#define PLAIN_UTF8 0      /* bytes above 0x7F (UTF-8 if valid), no escape */
#define ESCAPED (-1)      /* at least one backslash escape */

/* The string token at c->p (a '"'): 1 with its raw bytes (between the quotes) in *s, *len
 * and in *form one of the above; 0 for a control character or no closing quote. */
#define BYTES8(b) (UINT64_C(0x0101010101010101) * (b))
/* Whether a byte of w is zero, or below n (n <= 128): exact about "some byte", which is all
 * the fast loop asks (the byte loop after it finds which). */
#define HAS_ZERO(w) (((w) - BYTES8(1)) & ~(w) & BYTES8(0x80))
#define HAS_LESS(w, n) (((w) - BYTES8(n)) & ~(w) & BYTES8(0x80))

static inline int
scan_string(Cursor *c, const unsigned char **s, Py_ssize_t *len, int *form)
{
    const unsigned char *p = c->p + 1, *start = p;
    unsigned char high = 0;
    int escaped = 0;
    /* eight plain bytes at a time (no quote, backslash or control character among them) */
    uint64_t high8 = 0;
    for (; c->end - p >= 8; p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if (HAS_ZERO(w ^ BYTES8('"')) | HAS_ZERO(w ^ BYTES8('\\')) | HAS_LESS(w, 0x20))
            break;
        high8 |= w;
    }
    if (high8 & BYTES8(0x80))
        high = 0x80;
    for (; p < c->end; p++) {
        unsigned char b = *p;
        if (b == '"') {
            *s = start;
            *len = p - start;
            *form = escaped ? ESCAPED : high < 0x80 ? PLAIN_ASCII : PLAIN_UTF8;
            c->p = p + 1;
            return 1;
        }
        if (b == '\\') {
            escaped = 1;
            if (++p == c->end)
                return 0;
            if (*p < 0x20)
                return 0;
            continue;
        }
        if (b < 0x20)
            return 0;
        high |= b;
    }
    return 0;
}

static inline int
literal(Cursor *c, const char *word, Py_ssize_t n)
{
    if (c->end - c->p < n || memcmp(c->p, word, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* After an object's key: skip the ':' and the whitespace around it (0: no colon). */
static inline int
member_colon(Cursor *c)
{
    skip_ws(c);
    if (!at(c, ':'))
        return 0;
    c->p++;
    skip_ws(c);
    return 1;
}

/* A container value opening with `open` at c: 1 when it opens (c past the bracket is left to
 * FOR_EACH_ITEM), 0 for null (an empty one) or, with *bail set, anything else. */
static inline int
container_opens(Cursor *c, unsigned char open, int *bail)
{
    if (literal(c, "null", 4))
        return 0;
    if (!at(c, open)) {
        *bail = 1;
        return 0;
    }
    return 1;
}

/* A JSON number (the grammar's; number_value's rules): 1 with an int in *iv (at most 18
 * digits) or a finite float in *dv, *is_int telling which; 0: not one this parser takes
 * (*bail set); -1: an error. */
typedef struct {
    int is_int;
    long long iv;
    double dv;
} Number;
INTERNAL int number_token(Cursor *c, Number *out, int *bail);

/* parse.c: value readers (NULL with *bail set: not for this parser; NULL without: error) */
typedef PyObject *(*FieldReader)(Cursor *, int *);
INTERNAL extern const FieldReader field_readers[N_SLOTS];
INTERNAL PyObject *string_value(Cursor *c, int *bail);
INTERNAL PyObject *scalar_value(Cursor *c, int *bail);
INTERNAL PyObject *tags_value(Cursor *c, int *bail);
INTERNAL PyObject *metadata_value(Cursor *c, int *bail);
INTERNAL int direct_entry(State *st, const unsigned char *line, Py_ssize_t n, PyObject **out);
INTERNAL int field_of(const unsigned char *s, Py_ssize_t len);
INTERNAL int entry_member(Cursor *c, const unsigned char *key, Py_ssize_t len, int *seen);
INTERNAL PyObject *line_entry(State *st, PyObject *line);

/* ---------------------------------------------------------------- terms -------------- */

/* The terms of one kind in one call, each with a number, and the (term number, id) pairs
 * posted under them (postings.c). */
typedef struct {
    PyObject **terms;   /* owned references */
    uint32_t *last;     /* the last id posted per term */
    Py_ssize_t *count;  /* ids posted per term */
    Py_ssize_t n, cap;
    uint32_t *pairs;    /* term number, id, term number, id, ... */
    Py_ssize_t npairs, pairs_cap;
} Registry;

#define INLINE_KEY 20
#define NOT_ASCII UINT32_MAX

typedef struct {
    uint64_t hash;
    Py_ssize_t tn;
    uint32_t len;                     /* of an ASCII key; NOT_ASCII: compared by identity */
    unsigned char key[INLINE_KEY];    /* the first bytes of an ASCII key, compared in place */
} Slot;

/* Open addressing from a 64-bit hash to a term number (-1: empty). */
typedef struct {
    Slot *slots;
    size_t mask, used;
} Table;

/* The words of a batch: ASCII words by their bytes, other words by a dict. */
typedef struct {
    Table table;
    Registry reg;
    PyObject *others;  /* non-ASCII word -> term number */
} Words;

/* The blocks of a line kernel (a list of bytes): their total size, checked to number ids from
 * first_id; -1 with an exception. */
INTERNAL Py_ssize_t blocks_size(PyObject *blocks, Py_ssize_t first_id, const char *kernel);
/* Append (line_no, the line's bytes p[:next - p]) to bad. */
INTERNAL int add_bad_line(PyObject *bad, Py_ssize_t line_no, const unsigned char *p,
                          const unsigned char *next);

/* How numeric_column counts a metadata value (v NULL: missing): NUM_VALUE with *d set (an
 * exact int also NUM_INT), NUM_ODD (a number a float64 cannot stand for), NUM_NONE; -1. */
#define NUM_NONE 0
#define NUM_VALUE 1
#define NUM_INT 2
#define NUM_ODD 3
#define EXACT_INT (1LL << 53)
INTERNAL int number_kind(PyObject *v, double *d);

INTERNAL void registry_free(Registry *r);
INTERNAL int registry_grow_pairs(Registry *r);

/* Post id under term number tn unless it is already the last id there. */
static inline int
registry_post(Registry *r, Py_ssize_t tn, uint32_t id)
{
    if (r->count[tn] && r->last[tn] == id)
        return 0;
    if (r->npairs == r->pairs_cap && registry_grow_pairs(r) < 0)
        return -1;
    r->pairs[2 * r->npairs] = (uint32_t)tn;
    r->pairs[2 * r->npairs + 1] = id;
    r->npairs++;
    r->last[tn] = id;
    r->count[tn]++;
    return 0;
}
INTERNAL int check_ids(Py_ssize_t first_id, Py_ssize_t n);
INTERNAL int post_message(Words *ws, PyObject *words_fn, PyObject *message, uint32_t id,
                          unsigned char **buf, Py_ssize_t *buf_size);
INTERNAL int table_init(Table *t, size_t size);
INTERNAL Py_ssize_t value_term(Table *t, Registry *r, PyObject *canon, PyObject *value,
                               PyObject **out);

/* The postings of one batch under construction (postings.c). */
typedef struct {
    const State *st;
    PyObject *canon;
    Registry regs[3];  /* levels, sources, tags */
    Table tables[3];
    Words ws;
    unsigned char *buf;
    Py_ssize_t buf_size;
} Gatherer;

INTERNAL int gatherer_init(Gatherer *g, const State *st, PyObject *canon);
INTERNAL void gatherer_free(Gatherer *g);
INTERNAL int gatherer_emit(Gatherer *g, PyObject *levels, PyObject *sources, PyObject *tags,
                           PyObject *words);
INTERNAL int gather_entry(Gatherer *g, PyObject *e, uint32_t id, PyObject *toks);
INTERNAL int post_ascii_words(Words *ws, const unsigned char *s, Py_ssize_t len, uint32_t id,
                              unsigned char **buf, Py_ssize_t *buf_size);
#define NO_WORD 0
#define ONE_WORD 1
#define SOME_WORDS 2
INTERNAL int piece_words(Words *ws, const unsigned char *s, Py_ssize_t len, Py_ssize_t *tn);
INTERNAL Py_ssize_t ascii_term(Table *t, Registry *r, PyObject *canon, const unsigned char *s,
                               Py_ssize_t len);

/* ---------------------------------------------------------------- records ------------ */

/* A growing byte buffer (records.c). */
typedef struct {
    unsigned char *p;
    Py_ssize_t len, cap;
} Out;

INTERNAL int out_grow(Out *o, Py_ssize_t n);

static inline int
out_room(Out *o, Py_ssize_t n)
{
    return o->len + n <= o->cap ? 0 : out_grow(o, n);
}

static inline int
put_byte(Out *o, unsigned char b)
{
    if (out_room(o, 1) < 0)
        return -1;
    o->p[o->len++] = b;
    return 0;
}

static inline int
put_varint(Out *o, uint64_t v)
{
    if (out_room(o, 10) < 0)
        return -1;
    while (v > 0x7F) {
        o->p[o->len++] = (unsigned char)((v & 0x7F) | 0x80);
        v >>= 7;
    }
    o->p[o->len++] = (unsigned char)v;
    return 0;
}

static inline int
put_bytes(Out *o, const void *s, Py_ssize_t n)
{
    if (out_room(o, n) < 0)
        return -1;
    memcpy(o->p + o->len, s, (size_t)n);
    o->len += n;
    return 0;
}

#define N_TABLES 3
#define T_NAMES 0
#define T_WORDS 1
#define T_VALUES 2
#define EXCEPTION_BYTE 0xFF
/* Results of the encoders: 0 written, 1 unfit (the entry stays an object), -1 error. */
#define UNFIT 1

typedef struct Map Map;

/* A string table bound for one kernel call (records.c). */
typedef struct {
    PyObject *table;    /* the Python list [codes, items, door, limit, door_set, index] */
    Map *map;
    PyObject *codes;    /* dict */
    PyObject *items;    /* list */
    unsigned char *door;
    Py_ssize_t limit;
    Py_ssize_t door_set;
    int admits;         /* 0 for the inline-only table of literal timestamps */
} StrTable;

INTERNAL int tables_bind(StrTable *tables, PyObject *list);
INTERNAL int tables_sync(StrTable *tables);
INTERNAL int put_utf8(Out *o, PyObject *s, const char *raw, Py_ssize_t n, StrTable *t);
INTERNAL int put_record(State *st, Out *o, PyObject *e, StrTable *tables);
INTERNAL int level_code(State *st, PyObject *level);
INTERNAL int timestamp_code(const char *s, Py_ssize_t len, double instant);
INTERNAL PyObject *new_array(const State *st, char typecode, const void *data, Py_ssize_t nbytes);

/* ingest.c: a JSON line of the common shape read into spans of the line (read_line: 1, 0 for
 * a line for the entry path, -1 for an error; the caller releases ln->level and ln->text),
 * and the entry path (entry_line: 1 with the entry, 0 for a bad line, -1 for an error). */
#define MAX_TAGS 16
#define MAX_META 32

typedef struct {
    const unsigned char *s;
    Py_ssize_t n;
} Span;

typedef struct {
    Span key;
    unsigned char kind;  /* as recorded: 0 null, 1 false, 2 true, 3 int, 4 float, 5 str */
    Number num;
    Span tok;            /* a number's token (kinds 3 and 4) */
    Span str;
} Item;

typedef struct {
    PyObject *level;     /* a canonical level (a new reference) */
    PyObject *text;      /* a message with bytes above 0x7F, decoded (a new reference) */
    double instant;
    Span ts;
    int has_source;
    Span source, message;
    int has_id[3];
    Span ids[3];
    int ntags, nmeta;
    Span tags[MAX_TAGS];
    Item meta[MAX_META];
} Line;

INTERNAL int read_line(State *st, const unsigned char *line, Py_ssize_t n, Line *ln);
INTERNAL int entry_line(State *st, const unsigned char *p, const unsigned char *stop,
                        PyObject **entry);

/* ---------------------------------------------------------------- the methods -------- */

INTERNAL PyObject *py_configure(PyObject *module, PyObject *args);
INTERNAL PyObject *py_parse_iso(PyObject *module, PyObject *arg);
INTERNAL PyObject *py_direct_entry(PyObject *module, PyObject *line);
INTERNAL PyObject *py_entries_from_lines(PyObject *module, PyObject *lines);
INTERNAL PyObject *py_gather(PyObject *module, PyObject *args);
INTERNAL PyObject *py_ingest_blocks(PyObject *module, PyObject *args);
INTERNAL PyObject *py_entries_from_blocks(PyObject *module, PyObject *blocks);
INTERNAL PyObject *py_ingest_records(PyObject *module, PyObject *args);
INTERNAL PyObject *py_numeric_records(PyObject *module, PyObject *args);
INTERNAL PyObject *py_word_lists(PyObject *module, PyObject *args);
INTERNAL PyObject *py_word_lists_utf8(PyObject *module, PyObject *args);
INTERNAL PyObject *py_archive_columns(PyObject *module, PyObject *args);
INTERNAL PyObject *py_string_buffers(PyObject *module, PyObject *values);
INTERNAL PyObject *py_string_list_buffers(PyObject *module, PyObject *lists);
INTERNAL PyObject *py_entry_columns(PyObject *module, PyObject *args);
INTERNAL PyObject *py_json_array_buffers(PyObject *module, PyObject *args);
INTERNAL PyObject *py_time_order(PyObject *module, PyObject *args);
INTERNAL PyObject *py_encode_records(PyObject *module, PyObject *args);
INTERNAL PyObject *py_decode_records(PyObject *module, PyObject *args);
INTERNAL PyObject *py_take_entries(PyObject *module, PyObject *args);
INTERNAL PyObject *py_filter_instants(PyObject *module, PyObject *args);
INTERNAL PyObject *py_split_ordered(PyObject *module, PyObject *args);
INTERNAL PyObject *py_sorted_numbers(PyObject *module, PyObject *args);
INTERNAL PyObject *py_count_values(PyObject *module, PyObject *args);
INTERNAL PyObject *py_numeric_column(PyObject *module, PyObject *args);
INTERNAL PyObject *py_gather_numbers(PyObject *module, PyObject *args);
INTERNAL PyObject *py_summarize_numbers(PyObject *module, PyObject *args);
INTERNAL PyObject *py_entries_from_rows(PyObject *module, PyObject *args);
INTERNAL PyObject *py_entries_from_chunk(PyObject *module, PyObject *args);
INTERNAL PyObject *py_encode_chunk(PyObject *module, PyObject *args);

#endif
