/*
 * Optional C accelerator for the ingest and query hot loops (see system_design.md, "The C
 * accelerator").
 *
 * The pure-Python code in entry.py, ingest/files.py, indexes.py and store.py is the
 * specification: every function here either produces exactly what its Python twin produces
 * or hands the case back to it (property tests in tests/test_speedups.py compare both on
 * random input).
 *
 *   entries_from_lines(lines)  JSON lines -> LogEntry objects (the common entry shape parsed
 *                              here without an intermediate dict; anything else through
 *                              orjson and entry_from_json)
 *   gather(entries, first_id, canon, levels, sources, tags, words, tokens)
 *                              postings of a batch: term -> array('I') of ids, message words
 *                              tokenized here for ASCII messages
 *   ingest_blocks(...)         both in one pass over blocks of whole lines of a file
 *   time_order, filter_instants, split_ordered, sorted_numbers
 *                              query results in time order, time-range checks, the time
 *                              index's in-order run, float metrics
 *   encode_chunk, entries_from_chunk, entries_from_rows, parse_iso
 *                              the durable copy, ISO 8601 timestamps
 *   direct_entry               the direct JSON parser behind entries_from_lines, exposed
 *                              for the tests
 *
 * Built by setup.py as an optional extension: without a compiler the package still works.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

/* ---------------------------------------------------------------- configuration ------ */

enum { S_TIMESTAMP, S_TS, S_LEVEL, S_MESSAGE, S_SOURCE, S_THREAD_ID, S_REQUEST_ID,
       S_USER_ID, S_TAGS, S_METADATA, N_SLOTS };
static const char *slot_names[N_SLOTS] = {
    "timestamp", "ts", "level", "message", "source", "thread_id", "request_id", "user_id",
    "tags", "metadata"};

static PyTypeObject *entry_type = NULL;   /* LogEntry */
static Py_ssize_t slot_offset[N_SLOTS];
static PyObject *level_cache = NULL;      /* entry._LEVEL_CACHE: spelling -> canonical */
static PyObject *from_json = NULL;        /* entry.entry_from_json: the specification */
static PyObject *loads = NULL;            /* orjson.loads */
static PyObject *words_fn = NULL;         /* tokenize.words, for non-ASCII messages */
static PyObject *array_type = NULL;       /* array.array */
static PyObject *keys[N_SLOTS];           /* interned JSON keys, same order as the slots */
static PyObject *str_info = NULL, *str_empty = NULL;

/* Level spellings recognised without hashing, and their canonical objects. */
static PyObject *common_names[8];
static const char *common_spellings[8] = {"INFO", "ERROR", "WARN", "DEBUG", "FATAL", "TRACE",
                                          "WARNING", "CRITICAL"};

#define SLOT(obj, k) (*(PyObject **)((char *)(obj) + slot_offset[k]))

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *cls, *cache, *fallback, *json_loads, *words, *array;
    if (!PyArg_ParseTuple(args, "O!O!OOOO:configure", &PyType_Type, &cls, &PyDict_Type, &cache,
                          &fallback, &json_loads, &words, &array))
        return NULL;
    PyObject *probe = PyObject_CallFunction(array, "C", 'I');
    if (probe == NULL)
        return NULL;
    PyObject *itemsize = PyObject_GetAttrString(probe, "itemsize");
    Py_DECREF(probe);
    if (itemsize == NULL)
        return NULL;
    long size = PyLong_AsLong(itemsize);
    Py_DECREF(itemsize);
    if (size != 4) {
        PyErr_SetString(PyExc_ValueError, "array('I') items are not 32-bit here");
        return NULL;
    }
    for (int k = 0; k < N_SLOTS; k++) {
        PyObject *descr = PyDict_GetItemString(((PyTypeObject *)cls)->tp_dict, slot_names[k]);
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", ((PyTypeObject *)cls)->tp_name,
                         slot_names[k]);
            return NULL;
        }
        PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
        if (def->type != T_OBJECT_EX) {
            PyErr_SetString(PyExc_TypeError, "unexpected slot type");
            return NULL;
        }
        slot_offset[k] = def->offset;
    }
    for (int i = 0; i < 8; i++) {
        PyObject *canonical = PyDict_GetItemString(cache, common_spellings[i]);
        if (canonical == NULL || !PyUnicode_CheckExact(canonical)) {
            PyErr_Format(PyExc_ValueError, "the level cache lacks %s", common_spellings[i]);
            return NULL;
        }
        Py_INCREF(canonical);
        Py_XSETREF(common_names[i], canonical);
    }
    Py_INCREF(cls); Py_XSETREF(entry_type, (PyTypeObject *)cls);
    Py_INCREF(cache); Py_XSETREF(level_cache, cache);
    Py_INCREF(fallback); Py_XSETREF(from_json, fallback);
    Py_INCREF(json_loads); Py_XSETREF(loads, json_loads);
    Py_INCREF(words); Py_XSETREF(words_fn, words);
    Py_INCREF(array); Py_XSETREF(array_type, array);
    Py_RETURN_NONE;
}

static int
check_configured(void)
{
    if (entry_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_speedups.configure() was not called");
        return -1;
    }
    return 0;
}

/* check_configured, then that arg is exactly of type (else TypeError: what it expects). */
static int
check_arg(PyObject *arg, PyTypeObject *type, const char *expects)
{
    if (check_configured() < 0)
        return -1;
    if (!Py_IS_TYPE(arg, type)) {
        PyErr_SetString(PyExc_TypeError, expects);
        return -1;
    }
    return 0;
}

/* What a parser's result r says to Python: obj (r > 0), None (r == 0: not for this parser)
 * or the error (r < 0). */
static PyObject *
found_or_none(int r, PyObject *obj)
{
    if (r < 0)
        return NULL;
    if (r == 0)
        Py_RETURN_NONE;
    return obj;
}

/* ---------------------------------------------------------------- timestamps --------- */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
digits(const unsigned char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* The common ISO 8601 shapes: YYYY-MM-DD[(T|space)HH:MM[:SS[(.|,)f{1,6}]]][Z|±HH:MM|±HHMM].
 * Returns 1 and the instant (exactly datetime.fromisoformat(s).timestamp(), UTC when
 * naive), or 0 for anything else (the caller then uses the Python parser). */
static int
parse_iso(const unsigned char *s, Py_ssize_t n, double *out)
{
    int year, month, day, hour = 0, minute = 0, second = 0, micro = 0;
    Py_ssize_t p = 10;
    if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &year) ||
        !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day))
        return 0;
    if (year < 1700 || year > 2200 || month < 1 || month > 12 || day < 1)  /* exact in µs */
        return 0;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[month - 1] + (month == 2 && leap))
        return 0;
    if (p < n && (s[p] == 'T' || s[p] == ' ')) {
        if (n < p + 6 || s[p + 3] != ':' || !digits(s + p + 1, 2, &hour) ||
            !digits(s + p + 4, 2, &minute))
            return 0;
        p += 6;
        if (p < n && s[p] == ':') {
            if (n < p + 3 || !digits(s + p + 1, 2, &second))
                return 0;
            p += 3;
            if (p < n && (s[p] == '.' || s[p] == ',')) {
                Py_ssize_t q = p + 1;
                while (q < n && s[q] >= '0' && s[q] <= '9')
                    q++;
                int nd = (int)(q - p - 1);
                if (nd < 1 || nd > 6)
                    return 0;
                digits(s + p + 1, nd, &micro);
                for (int i = nd; i < 6; i++)
                    micro *= 10;
                p = q;
            }
        }
        if (hour > 23 || minute > 59 || second > 59)
            return 0;
    }
    int64_t offset = 0;
    if (p < n && p == 10)
        return 0;  /* a zone after a bare date: Python reads "+0530" as a time there */
    if (p < n) {
        if ((s[p] == 'Z' || s[p] == 'z') && p + 1 == n) {
            p += 1;
        } else if (s[p] == '+' || s[p] == '-') {
            int oh, om;
            if (n == p + 6 && s[p + 3] == ':' && digits(s + p + 1, 2, &oh) &&
                digits(s + p + 4, 2, &om)) {
            } else if (n == p + 5 && digits(s + p + 1, 2, &oh) && digits(s + p + 3, 2, &om)) {
            } else {
                return 0;
            }
            if (oh > 23 || om > 59)
                return 0;
            offset = (int64_t)(oh * 3600 + om * 60) * (s[p] == '-' ? -1 : 1);
            p = n;
        } else {
            return 0;
        }
    }
    if (p != n)
        return 0;
    int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                   second - offset;
    int64_t us = secs * 1000000 + micro;
    /* datetime.timestamp() divides the exact microseconds by 10**6 (correctly rounded):
     * us is below 2**53 here, so the double division gives the same value. */
    *out = (double)us / 1e6;
    return 1;
}

/* ---------------------------------------------------------------- entries ------------ */

/* The slot a JSON key names (-1: not an entry field). orjson hands out the same key
 * objects line after line, so a small cache of key objects (holding a reference, replaced
 * round-robin) turns the nine dict lookups per line into a few pointer compares. */
#define KEY_CACHE 32
static PyObject *key_obj[KEY_CACHE];
static signed char key_slot[KEY_CACHE];
static int key_next = 0;

static int
key_index(PyObject *key)
{
    for (int i = 0; i < KEY_CACHE && key_obj[i] != NULL; i++)
        if (key_obj[i] == key)
            return key_slot[i];
    int slot = -1;
    if (PyUnicode_CheckExact(key)) {
        for (int k = 0; k < N_SLOTS; k++) {
            if (k != S_TS && PyUnicode_CompareWithASCIIString(key, slot_names[k]) == 0) {
                slot = k;
                break;
            }
        }
    }
    Py_INCREF(key);
    Py_XSETREF(key_obj[key_next], key);
    key_slot[key_next] = (signed char)slot;
    key_next = (key_next + 1) % KEY_CACHE;
    return slot;
}

/* The canonical object of a level spelled exactly as a canonical name or WARNING/CRITICAL
 * (a few byte compares instead of hashing a fresh string); NULL: ask _LEVEL_CACHE. */

static PyObject *
common_level(PyObject *level)
{
    if (!PyUnicode_IS_ASCII(level))
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(level);
    const char *s = (const char *)PyUnicode_DATA(level);
    for (int i = 0; i < 8; i++) {
        if (common_names[i] != NULL && (Py_ssize_t)strlen(common_spellings[i]) == n &&
            memcmp(common_spellings[i], s, n) == 0)
            return common_names[i];
    }
    return NULL;
}

/* Take an entry out of the cyclic garbage collector's lists when nothing it holds can lead
 * back to it: its tags list holds only strings and its metadata dict only atomic values (the
 * collector itself untracks such dicts). Such an entry is freed by reference counting like
 * any other object, but the collector no longer scans a million entries on every full
 * collection (BENCHMARKS.md, "GC"). Only exact LogEntry objects: a subclass may carry a
 * __dict__. An entry changed after ingestion (which the docs forbid) could at worst keep a
 * cycle it was made part of alive. */
static void
untrack_if_acyclic(PyObject *entry)
{
    if (Py_TYPE(entry) != entry_type || !PyObject_GC_IsTracked(entry))
        return;
    PyObject *tags = SLOT(entry, S_TAGS), *metadata = SLOT(entry, S_METADATA);
    PyObject *timestamp = SLOT(entry, S_TIMESTAMP);
    if (tags == NULL || metadata == NULL || timestamp == NULL || !PyList_CheckExact(tags) ||
        !PyDict_CheckExact(metadata) || PyObject_GC_IsTracked(metadata) ||
        PyObject_GC_IsTracked(timestamp))
        return;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tags); i++)
        if (!PyUnicode_CheckExact(PyList_GET_ITEM(tags, i)))
            return;
    for (int k = S_LEVEL; k <= S_USER_ID; k++) {
        PyObject *v = SLOT(entry, k);
        if (v != NULL && PyObject_GC_IsTracked(v))
            return;
    }
    if (PyObject_GC_IsTracked(tags))
        PyObject_GC_UnTrack(tags);
    PyObject_GC_UnTrack(entry);
}

/* A LogEntry of the field values v (borrowed; every slot but S_TS set) at instant. */
static PyObject *
new_entry(PyObject *const *v, double instant)
{
    PyObject *ts = PyFloat_FromDouble(instant);
    if (ts == NULL)
        return NULL;
    PyObject *entry = entry_type->tp_alloc(entry_type, 0);
    if (entry == NULL) {
        Py_DECREF(ts);
        return NULL;
    }
    for (int k = 0; k < N_SLOTS; k++) {
        if (k != S_TS) {
            Py_INCREF(v[k]);
            SLOT(entry, k) = v[k];
        }
    }
    SLOT(entry, S_TS) = ts;
    untrack_if_acyclic(entry);
    return entry;
}

/* Whether no metadata value is a container (JSON objects and arrays). */
static int
flat_metadata(PyObject *metadata)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(metadata, &pos, &key, &value))
        if (PyDict_Check(value) || PyList_Check(value))
            return 0;
    return 1;
}

/* Whether a line holds only ASCII whitespace (bytes.isspace(), or empty): skipped. */
static inline int
blank_line(const unsigned char *p, const unsigned char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\v' && *p != '\f')
            return 0;
    return 1;
}

/* Build a LogEntry from a dict of the common shape; NULL without an exception means
 * "not the common shape: ask entry_from_json". Mirrors entry.entry_from_json exactly
 * (nested metadata is not the common shape: entry_from_json normalises it). */
static PyObject *
fast_entry(PyObject *data)
{
    PyObject *v[N_SLOTS] = {NULL};
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(data, &pos, &key, &value)) {
        int k = key_index(key);
        if (k < 0)
            return NULL;  /* unknown keys go to metadata: the Python path */
        v[k] = value;
    }
    PyObject *raw = v[S_TIMESTAMP];
    if (raw == NULL || !PyUnicode_CheckExact(raw) || !PyUnicode_IS_ASCII(raw))
        return NULL;
    PyObject *level = v[S_LEVEL];
    if (level == NULL || level == Py_None) {
        level = str_info;
    } else {
        if (!PyUnicode_CheckExact(level))
            return NULL;
        PyObject *canonical = common_level(level);
        if (canonical == NULL)
            canonical = PyDict_GetItemWithError(level_cache, level);
        if (canonical == NULL)
            return NULL;
        level = canonical;
    }
    PyObject *message = v[S_MESSAGE];
    if (message == NULL)
        message = str_empty;
    else if (!PyUnicode_CheckExact(message))
        return NULL;
    PyObject *source = v[S_SOURCE];
    if (source == NULL || source == Py_None)
        source = str_empty;
    else if (!PyUnicode_CheckExact(source))
        return NULL;
    for (int k = S_THREAD_ID; k <= S_USER_ID; k++) {
        if (v[k] == NULL)
            v[k] = Py_None;
        else if (v[k] != Py_None && !PyUnicode_CheckExact(v[k]))
            return NULL;
    }
    PyObject *tags = v[S_TAGS];
    if (tags != NULL && tags != Py_None) {
        if (!PyList_CheckExact(tags))
            return NULL;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tags); i++)
            if (!PyUnicode_CheckExact(PyList_GET_ITEM(tags, i)))
                return NULL;
        Py_INCREF(tags);
    } else {
        tags = NULL;
    }
    PyObject *metadata = v[S_METADATA];
    if (metadata != NULL && metadata != Py_None) {
        if (!PyDict_CheckExact(metadata) || !flat_metadata(metadata)) {
            Py_XDECREF(tags);
            return NULL;  /* nested metadata: the Python path normalises it (model/values.py) */
        }
        Py_INCREF(metadata);
    } else {
        metadata = NULL;
    }
    double instant;
    if (!parse_iso((const unsigned char *)PyUnicode_DATA(raw), PyUnicode_GET_LENGTH(raw),
                   &instant)) {
        Py_XDECREF(tags);
        Py_XDECREF(metadata);
        return NULL;
    }
    PyObject *entry = NULL;
    if (tags == NULL && (tags = PyList_New(0)) == NULL)
        goto done;
    if (metadata == NULL && (metadata = PyDict_New()) == NULL)
        goto done;
    v[S_TIMESTAMP] = raw;
    v[S_LEVEL] = level;
    v[S_MESSAGE] = message;
    v[S_SOURCE] = source;
    v[S_TAGS] = tags;
    v[S_METADATA] = metadata;
    entry = new_entry(v, instant);
done:
    Py_XDECREF(tags);
    Py_XDECREF(metadata);
    return entry;
}

/* ---------------------------------------------------------------- direct JSON -------- */

/* A JSON line of the common entry shape parsed straight into a LogEntry, without orjson's
 * intermediate dict and its key lookups. It takes: one object whose keys are entry fields
 * (each at most once); strings without escapes or control characters (ASCII, or UTF-8
 * that decodes strictly); tags as an array of such strings; metadata as an object whose
 * values are such strings, numbers, true, false or null. Anything else (an escape, a
 * nested value, an unknown key, a timestamp parse_iso does not take, bad JSON) returns 0
 * and the line goes through orjson and fast_entry as before, so a line this parser takes
 * gets exactly what that path would build (tests/test_speedups.py compares them on
 * random and mutated lines). */

typedef struct {
    const unsigned char *p, *end;
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

/* What scan_string found in a string token. */
#define PLAIN_ASCII 1     /* ASCII, no escape */
#define PLAIN_UTF8 0      /* bytes above 0x7F (UTF-8 if valid), no escape */
#define ESCAPED (-1)      /* at least one backslash escape */

/* The string token at c->p (a '"'): 1 with its raw bytes (between the quotes) in *s, *len
 * and in *form one of the above; 0 for a control character or no closing quote. */
static inline int
scan_string(Cursor *c, const unsigned char **s, Py_ssize_t *len, int *form)
{
    const unsigned char *p = c->p + 1, *start = p;
    unsigned char high = 0;
    int escaped = 0;
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

static int
hex4(const unsigned char *s, unsigned int *out)
{
    unsigned int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = s[i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= h - '0';
        else if (h >= 'a' && h <= 'f')
            v |= h - 'a' + 10;
        else if (h >= 'A' && h <= 'F')
            v |= h - 'A' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* The raw bytes of an escaped token with its escapes replaced (UTF-8 for \uXXXX and
 * surrogate pairs): the length written to out (which has room for len bytes: no escape
 * grows), or -1 for an invalid escape or a lone surrogate (left to orjson). */
static Py_ssize_t
unescape(const unsigned char *s, Py_ssize_t len, unsigned char *out)
{
    Py_ssize_t o = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        if (++i >= len)
            return -1;
        switch (s[i]) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned int cp, low;
            if (len - i - 1 < 4 || !hex4(s + i + 1, &cp))
                return -1;
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (len - i - 1 < 6 || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                    !hex4(s + i + 3, &low) || low < 0xDC00 || low > 0xDFFF)
                    return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if (cp < 0x80) {
                out[o++] = (unsigned char)cp;
            } else if (cp < 0x800) {
                out[o++] = (unsigned char)(0xC0 | (cp >> 6));
                out[o++] = (unsigned char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                out[o++] = (unsigned char)(0xE0 | (cp >> 12));
                out[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                out[o++] = (unsigned char)(0x80 | (cp & 0x3F));
            } else {
                out[o++] = (unsigned char)(0xF0 | (cp >> 18));
                out[o++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                out[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                out[o++] = (unsigned char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return -1;
        }
    }
    return o;
}

/* A str of UTF-8 bytes; NULL with *bail set when they are not valid UTF-8. */
static PyObject *
utf8_str(const unsigned char *s, Py_ssize_t len, int *bail)
{
    PyObject *u = PyUnicode_DecodeUTF8((const char *)s, len, NULL);
    if (u == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        *bail = 1;
    }
    return u;
}

/* A str of an escaped token's bytes; NULL with *bail set for an escape left to orjson. */
static PyObject *
escaped_str(const unsigned char *s, Py_ssize_t len, int *bail)
{
    unsigned char stack[256] = {0};  /* zeroed: GCC cannot see that unescape fills it */
    unsigned char *buf = len <= (Py_ssize_t)sizeof stack ? stack : PyMem_Malloc(len);
    if (buf == NULL)
        return PyErr_NoMemory();
    Py_ssize_t n = unescape(s, len, buf);
    PyObject *u = NULL;
    if (n < 0)
        *bail = 1;
    else
        u = utf8_str(buf, n, bail);
    if (buf != stack)
        PyMem_Free(buf);
    return u;
}

/* A str of the token's bytes (form: what scan_string found); NULL with *bail set when they
 * are not valid UTF-8 or hold an escape left to orjson. */
static PyObject *
token_str(const unsigned char *s, Py_ssize_t len, int form, int *bail)
{
    if (form == PLAIN_ASCII) {
        PyObject *u = PyUnicode_New(len, 127);
        if (u != NULL)
            memcpy(PyUnicode_DATA(u), s, len);
        return u;
    }
    return form == ESCAPED ? escaped_str(s, len, bail) : utf8_str(s, len, bail);
}

/* The next token as a str (a string token), or NULL with *bail set (not one). */
static PyObject *
string_value(Cursor *c, int *bail)
{
    const unsigned char *s;
    Py_ssize_t len;
    int ascii;
    if (!at(c, '"') || !scan_string(c, &s, &len, &ascii)) {
        *bail = 1;
        return NULL;
    }
    return token_str(s, len, ascii, bail);
}

static inline int
literal(Cursor *c, const char *word, Py_ssize_t n)
{
    if (c->end - c->p < n || memcmp(c->p, word, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* A string token as a str, or if_null (a new reference) for null. */
static PyObject *
string_or(Cursor *c, int *bail, PyObject *if_null)
{
    if (literal(c, "null", 4)) {
        Py_INCREF(if_null);
        return if_null;
    }
    return string_value(c, bail);
}

static inline int
is_digit(const Cursor *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* Skip one or more digits: 0 when there is none. */
static inline int
skip_digits(Cursor *c)
{
    const unsigned char *start = c->p;
    while (is_digit(c))
        c->p++;
    return c->p != start;
}

/* A number by the JSON grammar: an int when it has no fraction or exponent (at most 18
 * digits here), else a float (correctly rounded, as orjson's). NULL with *bail set for
 * anything else, or a value this parser leaves to orjson (a longer int, an overflow). */
static PyObject *
number_value(Cursor *c, int *bail)
{
    const unsigned char *start = c->p;
    int is_float = 0;
    if (at(c, '-'))
        c->p++;
    if (at(c, '0'))
        c->p++;
    else if (!skip_digits(c))
        goto bail;
    if (at(c, '.')) {
        c->p++;
        if (!skip_digits(c))
            goto bail;
        is_float = 1;
    }
    if (at(c, 'e') || at(c, 'E')) {
        c->p++;
        if (at(c, '+') || at(c, '-'))
            c->p++;
        if (!skip_digits(c))
            goto bail;
        is_float = 1;
    }
    Py_ssize_t n = c->p - start;
    if (!is_float) {
        const unsigned char *q = start + (*start == '-');
        if (c->p - q > 18)
            goto bail;
        long long v = 0;
        for (; q < c->p; q++)
            v = v * 10 + (*q - '0');
        return PyLong_FromLongLong(*start == '-' ? -v : v);
    }
    /* Clinger's fast path: at most 15 significant digits and a power of ten up to 22 are
     * both exact doubles, so one IEEE multiplication or division rounds correctly: the
     * value strtod gives, without its per-call setup. */
    {
        const unsigned char *q = start + (*start == '-');
        int64_t mantissa = 0, exp10 = 0;
        int significant = 0, after_point = -1;
        for (; q < c->p && *q != 'e' && *q != 'E'; q++) {
            if (*q == '.') {
                after_point = 0;
                continue;
            }
            if (after_point >= 0)
                after_point++;
            if (mantissa != 0 || *q != '0')
                significant++;
            if (significant <= 15)
                mantissa = mantissa * 10 + (*q - '0');
        }
        exp10 = after_point > 0 ? -after_point : 0;
        if (q < c->p) {  /* the exponent: e, an optional sign, digits (checked above) */
            q++;
            int neg = *q == '-';
            if (*q == '+' || *q == '-')
                q++;
            int64_t e = 0;
            for (; q < c->p && e <= 1000; q++)
                e = e * 10 + (*q - '0');
            exp10 += neg ? -e : e;
        }
        static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        if (significant <= 15 && exp10 >= -22 && exp10 <= 22) {
            double d = (double)mantissa;
            d = exp10 < 0 ? d / pow10[-exp10] : d * pow10[exp10];
            return PyFloat_FromDouble(*start == '-' ? -d : d);
        }
    }
    char buf[64];
    if (n >= (Py_ssize_t)sizeof buf)
        goto bail;
    memcpy(buf, start, n);
    buf[n] = '\0';
    double d = PyOS_string_to_double(buf, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred())
        return NULL;
    if (!isfinite(d))
        goto bail;
    return PyFloat_FromDouble(d);
bail:
    *bail = 1;
    return NULL;
}

/* Metadata keys recur line after line: one shared str per short ASCII key (direct-mapped
 * by an FNV-1a hash of its bytes), its hash computed once. */
#define META_KEYS 256
static PyObject *meta_keys[META_KEYS];

static PyObject *
meta_key(const unsigned char *s, Py_ssize_t len, int ascii, int *bail)
{
    if (ascii != PLAIN_ASCII || len > 48)
        return token_str(s, len, ascii, bail);
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    PyObject **slot = &meta_keys[(h ^ (h >> 29)) & (META_KEYS - 1)];
    PyObject *k = *slot;
    if (k != NULL && PyUnicode_GET_LENGTH(k) == len && memcmp(PyUnicode_DATA(k), s, len) == 0) {
        Py_INCREF(k);
        return k;
    }
    k = token_str(s, len, 1, bail);
    if (k == NULL || PyObject_Hash(k) == -1) {
        Py_XDECREF(k);
        return NULL;
    }
    Py_INCREF(k);
    Py_XSETREF(*slot, k);
    return k;
}

/* A metadata value: a string, a number, true, false or null (a nested value: *bail). */
static PyObject *
scalar_value(Cursor *c, int *bail)
{
    if (c->p >= c->end) {
        *bail = 1;
        return NULL;
    }
    switch (*c->p) {
    case '"':
        return string_value(c, bail);
    case 't':
        if (literal(c, "true", 4))
            Py_RETURN_TRUE;
        break;
    case 'f':
        if (literal(c, "false", 5))
            Py_RETURN_FALSE;
        break;
    case 'n':
        if (literal(c, "null", 4))
            Py_RETURN_NONE;
        break;
    default:
        return number_value(c, bail);
    }
    *bail = 1;
    return NULL;
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

static PyObject *
tags_value(Cursor *c, int *bail)
{
    if (literal(c, "null", 4))
        return PyList_New(0);
    if (!at(c, '[')) {
        *bail = 1;
        return NULL;
    }
    PyObject *tags = PyList_New(0);
    if (tags == NULL)
        return NULL;
    int failed = 0;
    FOR_EACH_ITEM(c, ']', bail, {
        PyObject *t = string_value(c, bail);
        if (t == NULL || PyList_Append(tags, t) < 0) {
            Py_XDECREF(t);
            failed = 1;
            *bail = *bail || !PyErr_Occurred();
            break;
        }
        Py_DECREF(t);
    });
    if (failed || *bail) {
        Py_DECREF(tags);
        return NULL;
    }
    return tags;
}

static PyObject *
metadata_value(Cursor *c, int *bail)
{
    if (literal(c, "null", 4))
        return PyDict_New();
    if (!at(c, '{')) {
        *bail = 1;
        return NULL;
    }
    PyObject *metadata = PyDict_New();
    if (metadata == NULL)
        return NULL;
    int failed = 0;
    FOR_EACH_ITEM(c, '}', bail, {
        const unsigned char *s;
        Py_ssize_t len;
        int ascii;
        if (!at(c, '"') || !scan_string(c, &s, &len, &ascii)) {
            *bail = 1;
            break;
        }
        skip_ws(c);
        if (!at(c, ':')) {
            *bail = 1;
            break;
        }
        c->p++;
        skip_ws(c);
        PyObject *key = meta_key(s, len, ascii, bail);
        PyObject *value = key == NULL ? NULL : scalar_value(c, bail);
        int rc = value == NULL ? -1 : PyDict_SetItem(metadata, key, value);
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (rc < 0) {
            failed = 1;
            break;
        }
    });
    if (failed || *bail) {
        Py_DECREF(metadata);
        return NULL;
    }
    return metadata;
}

static signed char field_len[N_SLOTS];

/* The slot of a top-level key (-1: not an entry field; "ts" is not one). */
static inline int
field_of(const unsigned char *s, Py_ssize_t len)
{
    for (int k = 0; k < N_SLOTS; k++)
        if (field_len[k] == len && slot_names[k][0] == s[0] && k != S_TS &&
            memcmp(slot_names[k], s, len) == 0)
            return k;
    return -1;
}

/* The canonical level of a level string token; NULL with *bail set when it is not a level
 * name (the Python path raises the error). */
static PyObject *
level_value(Cursor *c, int *bail)
{
    if (literal(c, "null", 4)) {
        Py_INCREF(str_info);
        return str_info;
    }
    const unsigned char *s;
    Py_ssize_t len;
    int ascii;
    if (!at(c, '"') || !scan_string(c, &s, &len, &ascii)) {
        *bail = 1;
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        if (common_spellings[i][0] == (len ? s[0] : 0) &&
            (Py_ssize_t)strlen(common_spellings[i]) == len &&
            memcmp(common_spellings[i], s, len) == 0) {
            Py_INCREF(common_names[i]);
            return common_names[i];
        }
    }
    PyObject *spelling = token_str(s, len, ascii, bail);
    if (spelling == NULL)
        return NULL;
    PyObject *canonical = PyDict_GetItemWithError(level_cache, spelling);
    Py_DECREF(spelling);
    if (canonical == NULL) {
        *bail = !PyErr_Occurred();
        return NULL;
    }
    Py_INCREF(canonical);
    return canonical;
}

static PyObject *
source_value(Cursor *c, int *bail)
{
    return string_or(c, bail, str_empty);
}

static PyObject *
optional_string(Cursor *c, int *bail)
{
    return string_or(c, bail, Py_None);
}

/* read's value of a token that starts with open (NULL with *bail set otherwise): a stored
 * chunk's tags and metadata, where null would not mean an empty list or dict. */
static PyObject *
opened_by(Cursor *c, unsigned char open, PyObject *(*read)(Cursor *, int *), int *bail)
{
    if (!at(c, open)) {
        *bail = 1;
        return NULL;
    }
    return read(c, bail);
}

/* How the value of each entry field is read (the timestamp has its own path). */
typedef PyObject *(*FieldReader)(Cursor *, int *);
static const FieldReader field_readers[N_SLOTS] = {
    [S_LEVEL] = level_value,         [S_MESSAGE] = string_value,
    [S_SOURCE] = source_value,       [S_THREAD_ID] = optional_string,
    [S_REQUEST_ID] = optional_string, [S_USER_ID] = optional_string,
    [S_TAGS] = tags_value,           [S_METADATA] = metadata_value,
};

/* 1 and the entry in *out; 0: not a line for this parser (use orjson); -1: an error. */
static int
direct_entry(const unsigned char *line, Py_ssize_t n, PyObject **out)
{
    Cursor cur = {line, line + n}, *c = &cur;
    PyObject *v[N_SLOTS] = {NULL};
    double instant = 0;
    int bail = 0, seen = 0;
    skip_ws(c);
    if (!at(c, '{'))
        return 0;
    FOR_EACH_ITEM(c, '}', &bail, {
        const unsigned char *s;
        Py_ssize_t len;
        int ascii;
        if (!at(c, '"') || !scan_string(c, &s, &len, &ascii)) {
            bail = 1;
            break;
        }
        int k = field_of(s, len);
        if (k < 0 || (seen & (1 << k))) {
            bail = 1;  /* an unknown key goes to metadata, a repeated one: orjson decides */
            break;
        }
        seen |= 1 << k;
        skip_ws(c);
        if (!at(c, ':')) {
            bail = 1;
            break;
        }
        c->p++;
        skip_ws(c);
        switch (k) {
        case S_TIMESTAMP:
            if (!at(c, '"') || !scan_string(c, &s, &len, &ascii) || ascii != PLAIN_ASCII ||
                !parse_iso(s, len, &instant)) {
                bail = 1;
                break;
            }
            v[k] = token_str(s, len, 1, &bail);
            break;
        default:
            v[k] = field_readers[k](c, &bail);
        }
        if (v[k] == NULL) {
            bail = bail || !PyErr_Occurred();
            break;
        }
    });
    int rc = -1;
    if (PyErr_Occurred())
        goto done;
    rc = 0;
    skip_ws(c);
    if (bail || c->p != c->end || v[S_TIMESTAMP] == NULL)
        goto done;
    for (int k = S_LEVEL; k <= S_USER_ID; k++) {  /* the defaults of absent fields */
        if (v[k] == NULL) {
            v[k] = k == S_LEVEL ? str_info : k <= S_SOURCE ? str_empty : Py_None;
            Py_INCREF(v[k]);
        }
    }
    rc = -1;
    if (v[S_TAGS] == NULL && (v[S_TAGS] = PyList_New(0)) == NULL)
        goto done;
    if (v[S_METADATA] == NULL && (v[S_METADATA] = PyDict_New()) == NULL)
        goto done;
    *out = new_entry(v, instant);
    rc = *out == NULL ? -1 : 1;
done:
    for (int k = 0; k < N_SLOTS; k++)
        Py_XDECREF(v[k]);
    return rc;
}

static PyObject *
py_direct_entry(PyObject *self, PyObject *line)
{
    if (check_arg(line, &PyBytes_Type, "direct_entry expects bytes") < 0)
        return NULL;
    PyObject *entry = NULL;
    int r = direct_entry((const unsigned char *)PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line),
                         &entry);
    return found_or_none(r, entry);
}

/* An error a bad line may raise (the Python loop reports exactly these). */
static int
line_error(void)
{
    return PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_TypeError) ||
           PyErr_ExceptionMatches(PyExc_OverflowError);
}

/* The entry of one JSON line; NULL without an exception for a line to reject (the Python
 * reader re-reads it for the reason), NULL with one for an error that is not the line's. */
static PyObject *
line_entry(PyObject *line)
{
    PyObject *entry = NULL;
    if (PyBytes_CheckExact(line)) {
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(line);
        if (blank_line(s, s + PyBytes_GET_SIZE(line)))
            return NULL;  /* rejected without an exception: the reader skips blank lines */
        int r = direct_entry((const unsigned char *)PyBytes_AS_STRING(line),
                             PyBytes_GET_SIZE(line), &entry);
        if (r != 0)
            return entry;  /* NULL with an error that is not the line's when r < 0 */
    }
    PyObject *data = PyObject_CallOneArg(loads, line);
    if (data != NULL) {
        if (PyDict_CheckExact(data)) {
            entry = fast_entry(data);
            if (entry == NULL && !PyErr_Occurred())
                entry = PyObject_CallOneArg(from_json, data);
        }
        Py_DECREF(data);
    }
    if (entry == NULL && PyErr_Occurred() && line_error())
        PyErr_Clear();
    return entry;
}

static PyObject *
entries_from_lines(PyObject *self, PyObject *lines)
{
    if (check_arg(lines, &PyList_Type, "entries_from_lines expects a list of bytes") < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(lines), bad = 0;
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *entry = line_entry(PyList_GET_ITEM(lines, i));
        if (entry == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(out);
                return NULL;
            }
            Py_INCREF(Py_None);
            entry = Py_None;
            bad++;
        }
        PyList_SET_ITEM(out, i, entry);
    }
    return Py_BuildValue("(Nn)", out, bad);
}

static PyObject *
py_parse_iso(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg) || !PyUnicode_IS_ASCII(arg))
        Py_RETURN_NONE;
    double instant;
    if (!parse_iso((const unsigned char *)PyUnicode_DATA(arg), PyUnicode_GET_LENGTH(arg),
                   &instant))
        Py_RETURN_NONE;
    return PyFloat_FromDouble(instant);
}

/* ---------------------------------------------------------------- postings ----------- */

/* The postings of one batch are collected in C: every term of a kind (levels, sources, tags,
 * words) gets a number, and every number a growing vector of uint32 ids. At the end each
 * vector becomes an array('I'), which pyroaring turns into a bitmap without a Python int per
 * id (BitMap(list) converts each int; about 250 instructions per id saved). */

/* Postings are appended in arrival order to one array of (term number, id) pairs
 * (sequential writes), with the last id and the count of each term in small dense arrays;
 * registry_emit sorts them by term with a counting sort. A growing vector per term instead
 * spends its time in cache misses and reallocations (perf: 6% of file ingestion). */
typedef struct {
    PyObject **terms;   /* owned references */
    uint32_t *last;     /* the last id posted per term */
    Py_ssize_t *count;  /* ids posted per term */
    Py_ssize_t n, cap;
    uint32_t *pairs;    /* term number, id, term number, id, ... */
    Py_ssize_t npairs, pairs_cap;
} Registry;

static void
registry_free(Registry *r)
{
    for (Py_ssize_t i = 0; i < r->n; i++)
        Py_DECREF(r->terms[i]);
    PyMem_Free(r->terms);
    PyMem_Free(r->last);
    PyMem_Free(r->count);
    PyMem_Free(r->pairs);
    memset(r, 0, sizeof(*r));
}

static int
grow(void **array, Py_ssize_t cap, size_t item)
{
    void *bigger = PyMem_Realloc(*array, cap * item);
    if (bigger == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *array = bigger;
    return 0;
}

/* A new term number for term (a new reference is taken). */
static Py_ssize_t
registry_add(Registry *r, PyObject *term)
{
    if (r->n == r->cap) {
        Py_ssize_t cap = r->cap ? r->cap * 2 : 64;
        if (grow((void **)&r->terms, cap, sizeof(PyObject *)) < 0 ||
            grow((void **)&r->last, cap, sizeof(uint32_t)) < 0 ||
            grow((void **)&r->count, cap, sizeof(Py_ssize_t)) < 0)
            return -1;
        r->cap = cap;
    }
    Py_INCREF(term);
    r->terms[r->n] = term;
    r->last[r->n] = 0;
    r->count[r->n] = 0;
    return r->n++;
}

/* Post id under term number tn unless it is already the last id there. */
static inline int
registry_post(Registry *r, Py_ssize_t tn, uint32_t id)
{
    if (r->count[tn] && r->last[tn] == id)
        return 0;
    if (r->npairs == r->pairs_cap) {
        Py_ssize_t cap = r->pairs_cap ? r->pairs_cap * 2 : 4096;
        if (grow((void **)&r->pairs, cap, 2 * sizeof(uint32_t)) < 0)
            return -1;
        r->pairs_cap = cap;
    }
    r->pairs[2 * r->npairs] = (uint32_t)tn;
    r->pairs[2 * r->npairs + 1] = id;
    r->npairs++;
    r->last[tn] = id;
    r->count[tn]++;
    return 0;
}

/* out[term] = array('I', ids) for every term of r: the pairs counting-sorted by term into
 * one array of all the ids, sliced per term (a slice is a memcpy; calling array() per term
 * costs five times more). Ids stay in posting order within a term. */
static int
registry_emit(Registry *r, PyObject *out)
{
    Py_ssize_t *start = PyMem_Malloc((r->n + 1) * sizeof(Py_ssize_t));
    if (start == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < r->n; i++) {
        start[i] = total;
        total += r->count[i];
    }
    start[r->n] = total;
    PyObject *raw = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(uint32_t));
    if (raw == NULL) {
        PyMem_Free(start);
        return -1;
    }
    uint32_t *dst = (uint32_t *)PyBytes_AS_STRING(raw);
    for (Py_ssize_t k = 0; k < r->npairs; k++)
        dst[start[r->pairs[2 * k]]++] = r->pairs[2 * k + 1];
    PyObject *all = PyObject_CallFunction(array_type, "CO", 'I', raw);
    Py_DECREF(raw);
    if (all == NULL) {
        PyMem_Free(start);
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < r->n; i++) {
        Py_ssize_t stop = start[i];  /* advanced to the end of term i by the scatter */
        PyObject *arr = PySequence_GetSlice(all, stop - r->count[i], stop);
        if (arr == NULL) {
            rc = -1;
            break;
        }
        rc = PyDict_SetItem(out, r->terms[i], arr);
        Py_DECREF(arr);
    }
    Py_DECREF(all);
    PyMem_Free(start);
    return rc;
}

/* Open addressing from a 64-bit hash to a term number (-1: empty). For levels, sources and
 * tags the hash is the canonical object's address; for ASCII words an FNV-1a hash of the
 * case-folded bytes, confirmed by comparing them with the term. */
#define INLINE_KEY 20
#define NOT_ASCII UINT32_MAX

typedef struct {
    uint64_t hash;
    Py_ssize_t tn;
    uint32_t len;                     /* of an ASCII key; NOT_ASCII: compared by identity */
    unsigned char key[INLINE_KEY];    /* the first bytes of an ASCII key, compared in place */
} Slot;

static Slot
ascii_slot(uint64_t h, Py_ssize_t tn, const unsigned char *w, Py_ssize_t len)
{
    Slot s = {h, tn, (uint32_t)len, {0}};
    memcpy(s.key, w, len < INLINE_KEY ? len : INLINE_KEY);
    return s;
}

/* Whether slot s holds the ASCII key w[0:len] (term: the slot's term object). A short key is
 * compared in the slot itself: no pointer to follow, no cache miss. */
static inline int
slot_is_ascii(const Slot *s, uint64_t h, const unsigned char *w, Py_ssize_t len,
              PyObject *const *terms)
{
    if (s->hash != h || s->len != (uint32_t)len)
        return 0;
    if (len <= INLINE_KEY)
        return memcmp(s->key, w, len) == 0;
    return memcmp(PyUnicode_DATA(terms[s->tn]), w, len) == 0;
}

typedef struct {
    Slot *slots;
    size_t mask, used;
} Table;

static int
table_init(Table *t, size_t size)
{
    t->slots = PyMem_Malloc(size * sizeof(Slot));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < size; i++)
        t->slots[i].tn = -1;
    t->mask = size - 1;
    t->used = 0;
    return 0;
}

static int
table_grow(Table *t)
{
    Table bigger;
    if (table_init(&bigger, (t->mask + 1) * 2) < 0)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        Slot *s = &t->slots[i];
        if (s->tn < 0)
            continue;
        size_t j = s->hash & bigger.mask;
        while (bigger.slots[j].tn >= 0)
            j = (j + 1) & bigger.mask;
        bigger.slots[j] = *s;
    }
    bigger.used = t->used;
    PyMem_Free(t->slots);
    *t = bigger;
    return 0;
}

static uint64_t
pointer_hash(PyObject *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* canon[s] (setting it to s when absent): one shared object per distinct string. */
static PyObject *
canonical(PyObject *canon, PyObject *s)
{
    PyObject *c = PyDict_GetItemWithError(canon, s);
    if (c != NULL)
        return c;
    if (PyErr_Occurred() || PyDict_SetItem(canon, s, s) < 0)
        return NULL;
    return s;
}

/* The term number of a level, source or tag value, and in *out its canonical object (the
 * one canon holds). An ASCII string is found by its bytes (an FNV-1a hash: orjson's fresh
 * strings would otherwise each be hashed with SipHash for the canon dict); anything else
 * goes through canon and is found by identity. */
static Py_ssize_t
value_term(Table *t, Registry *r, PyObject *canon, PyObject *value, PyObject **out)
{
    PyObject *c = NULL;
    int ascii = PyUnicode_CheckExact(value) && PyUnicode_IS_ASCII(value);
    if (!ascii) {  /* its canonical object may still be an ASCII str (value a str subclass) */
        c = canonical(canon, value);
        if (c == NULL)
            return -1;
        value = c;
        ascii = PyUnicode_CheckExact(value) && PyUnicode_IS_ASCII(value);
    }
    const unsigned char *w = NULL;
    Py_ssize_t len = 0;
    uint64_t h;
    if (ascii) {
        w = PyUnicode_DATA(value);
        len = PyUnicode_GET_LENGTH(value);
        h = FNV_OFFSET;
        for (Py_ssize_t i = 0; i < len; i++)
            h = (h ^ w[i]) * FNV_PRIME;
    } else {
        h = pointer_hash(c);
    }
    size_t j = h & t->mask;
    for (;;) {
        Slot *s = &t->slots[j];
        if (s->tn < 0)
            break;
        if (ascii ? slot_is_ascii(s, h, w, len, r->terms)
                  : (s->len == NOT_ASCII && r->terms[s->tn] == c)) {
            *out = r->terms[s->tn];
            return s->tn;
        }
        j = (j + 1) & t->mask;
    }
    if (c == NULL && (c = canonical(canon, value)) == NULL)
        return -1;
    Py_ssize_t tn = registry_add(r, c);
    if (tn < 0)
        return -1;
    t->slots[j] = ascii ? ascii_slot(h, tn, w, len) : (Slot){h, tn, NOT_ASCII, {0}};
    if (++t->used * 2 > t->mask + 1 && table_grow(t) < 0)
        return -1;
    *out = c;
    return tn;
}


/* ASCII byte -> its lower-case form when it is a word character (\w: letters, digits, _),
 * else 0. Filled by the module's exec function. */
static unsigned char word_lower[256];

/* The words of a batch: ASCII words by their bytes, other words by a dict. */
typedef struct {
    Table table;
    Registry reg;
    PyObject *others;  /* non-ASCII word -> term number */
} Words;

/* The term number of the case-folded ASCII word w[0:len] whose FNV-1a hash is h. */
static Py_ssize_t
ascii_word(Words *ws, const unsigned char *w, Py_ssize_t len, uint64_t h)
{
    Table *t = &ws->table;
    size_t j = h & t->mask;
    for (;;) {
        Slot *s = &t->slots[j];
        if (s->tn < 0)
            break;
        if (slot_is_ascii(s, h, w, len, ws->reg.terms))
            return s->tn;
        j = (j + 1) & t->mask;
    }
    PyObject *term = PyUnicode_New(len, 127);
    if (term == NULL)
        return -1;
    memcpy(PyUnicode_DATA(term), w, len);
    Py_ssize_t tn = registry_add(&ws->reg, term);
    Py_DECREF(term);
    if (tn < 0)
        return -1;
    t->slots[j] = ascii_slot(h, tn, w, len);
    if (++t->used * 2 > t->mask + 1 && table_grow(t) < 0)
        return -1;
    return tn;
}

/* The term number of a word given as a str (from tokens, or words() of a non-ASCII text). */
static Py_ssize_t
str_word(Words *ws, PyObject *word)
{
    if (!PyUnicode_Check(word)) {
        PyErr_Format(PyExc_TypeError, "a word must be a str, not %s", Py_TYPE(word)->tp_name);
        return -1;
    }
    if (PyUnicode_IS_ASCII(word)) {
        const unsigned char *w = PyUnicode_DATA(word);
        Py_ssize_t len = PyUnicode_GET_LENGTH(word);
        uint64_t h = FNV_OFFSET;
        for (Py_ssize_t i = 0; i < len; i++)
            h = (h ^ w[i]) * FNV_PRIME;
        return ascii_word(ws, w, len, h);
    }
    PyObject *found = PyDict_GetItemWithError(ws->others, word);
    if (found != NULL)
        return PyLong_AsSsize_t(found);
    if (PyErr_Occurred())
        return -1;
    Py_ssize_t tn = registry_add(&ws->reg, word);
    if (tn < 0)
        return -1;
    PyObject *num = PyLong_FromSsize_t(tn);
    if (num == NULL)
        return -1;
    int rc = PyDict_SetItem(ws->others, word, num);
    Py_DECREF(num);
    return rc < 0 ? -1 : tn;
}

/* Post the words of one message. */
static int
post_message(Words *ws, PyObject *message, uint32_t id, unsigned char **buf,
             Py_ssize_t *buf_size)
{
    if (!(PyUnicode_CheckExact(message) && PyUnicode_IS_ASCII(message))) {
        PyObject *toks = PyObject_CallOneArg(words_fn, message);
        if (toks == NULL)
            return -1;
        int rc = 0;
        if (!PyList_Check(toks)) {
            PyErr_SetString(PyExc_TypeError, "words() must return a list");
            rc = -1;
        }
        for (Py_ssize_t k = 0; rc == 0 && k < PyList_GET_SIZE(toks); k++) {
            Py_ssize_t tn = str_word(ws, PyList_GET_ITEM(toks, k));
            rc = tn < 0 ? -1 : registry_post(&ws->reg, tn, id);
        }
        Py_DECREF(toks);
        return rc;
    }
    const unsigned char *s = PyUnicode_DATA(message);
    Py_ssize_t len = PyUnicode_GET_LENGTH(message);
    if (len > *buf_size) {
        unsigned char *nb = PyMem_Realloc(*buf, len);
        if (nb == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *buf = nb;
        *buf_size = len;
    }
    unsigned char *out = *buf;
    Py_ssize_t p = 0;
    for (;;) {
        while (p < len && !word_lower[s[p]])
            p++;
        if (p >= len)
            return 0;
        Py_ssize_t start = p;
        uint64_t h = FNV_OFFSET;
        unsigned char ch;
        while (p < len && (ch = word_lower[s[p]]) != 0) {
            out[p] = ch;
            h = (h ^ ch) * FNV_PRIME;
            p++;
        }
        Py_ssize_t tn = ascii_word(ws, out + start, p - start, h);
        if (tn < 0 || registry_post(&ws->reg, tn, id) < 0)
            return -1;
    }
}

/* The postings of one batch under construction. */
typedef struct {
    PyObject *canon;
    Registry regs[3];  /* levels, sources, tags */
    Table tables[3];
    Words ws;
    unsigned char *buf;
    Py_ssize_t buf_size;
} Gatherer;

static int
gatherer_init(Gatherer *g, PyObject *canon)
{
    memset(g, 0, sizeof(*g));
    g->canon = canon;
    for (int k = 0; k < 3; k++)
        if (table_init(&g->tables[k], 64) < 0)
            return -1;
    if (table_init(&g->ws.table, 1024) < 0 || (g->ws.others = PyDict_New()) == NULL)
        return -1;
    return 0;
}

static void
gatherer_free(Gatherer *g)
{
    for (int k = 0; k < 3; k++) {
        registry_free(&g->regs[k]);
        PyMem_Free(g->tables[k].slots);
    }
    registry_free(&g->ws.reg);
    PyMem_Free(g->ws.table.slots);
    Py_XDECREF(g->ws.others);
    PyMem_Free(g->buf);
}

static int
gatherer_emit(Gatherer *g, PyObject *levels, PyObject *sources, PyObject *tags, PyObject *words)
{
    return (registry_emit(&g->regs[0], levels) < 0 || registry_emit(&g->regs[1], sources) < 0 ||
            registry_emit(&g->regs[2], tags) < 0 || registry_emit(&g->ws.reg, words) < 0)
               ? -1 : 0;
}

/* Post every term of entry e under id; toks: its words, or NULL to tokenize its message. */
static int
gather_entry(Gatherer *g, PyObject *e, uint32_t id, PyObject *toks)
{
    if (!PyObject_TypeCheck(e, entry_type)) {
        PyErr_Format(PyExc_TypeError, "expected a LogEntry, got %s", Py_TYPE(e)->tp_name);
        return -1;
    }
    PyObject *level = SLOT(e, S_LEVEL), *source = SLOT(e, S_SOURCE);
    PyObject *tags = SLOT(e, S_TAGS), *message = SLOT(e, S_MESSAGE);
    if (level == NULL || source == NULL || tags == NULL || message == NULL) {
        PyErr_SetString(PyExc_AttributeError, "LogEntry is not fully initialised");
        return -1;
    }
    untrack_if_acyclic(e);
    /* one object per distinct level, source and tag (sources and tags are pointed at it:
     * about 130 bytes saved per entry on the benchmark corpus) */
    PyObject *c;
    Py_ssize_t tn = value_term(&g->tables[0], &g->regs[0], g->canon, level, &c);
    if (tn < 0 || registry_post(&g->regs[0], tn, id) < 0)
        return -1;
    tn = value_term(&g->tables[1], &g->regs[1], g->canon, source, &c);
    if (tn < 0 || registry_post(&g->regs[1], tn, id) < 0)
        return -1;
    if (c != source) {
        Py_INCREF(c);
        Py_SETREF(SLOT(e, S_SOURCE), c);
    }
    PyObject *seq = PySequence_Fast(tags, "tags must be a sequence");
    if (seq == NULL)
        return -1;
    int rc = 0;
    for (Py_ssize_t k = 0; rc == 0 && k < PySequence_Fast_GET_SIZE(seq); k++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, k);
        tn = value_term(&g->tables[2], &g->regs[2], g->canon, t, &c);
        if (tn < 0) {
            rc = -1;
            break;
        }
        if (c != t && PyList_Check(tags)) {
            Py_INCREF(c);
            PyList_SetItem(tags, k, c);
        }
        rc = registry_post(&g->regs[2], tn, id);
    }
    Py_DECREF(seq);
    if (rc < 0)
        return -1;
    if (toks == NULL)
        return post_message(&g->ws, message, id, &g->buf, &g->buf_size);
    seq = PySequence_Fast(toks, "tokens must be lists of words");
    if (seq == NULL)
        return -1;
    for (Py_ssize_t k = 0; rc == 0 && k < PySequence_Fast_GET_SIZE(seq); k++) {
        tn = str_word(&g->ws, PySequence_Fast_GET_ITEM(seq, k));
        rc = tn < 0 ? -1 : registry_post(&g->ws.reg, tn, id);
    }
    Py_DECREF(seq);
    return rc;
}

static int
check_ids(Py_ssize_t first_id, Py_ssize_t n)
{
    if (first_id < 0 || first_id + n > (Py_ssize_t)UINT32_MAX + 1) {
        PyErr_SetString(PyExc_OverflowError, "entry ids must fit in 32 bits");
        return -1;
    }
    return 0;
}

static PyObject *
gather(PyObject *self, PyObject *args)
{
    PyObject *entries, *canon, *levels_out, *sources_out, *tags_out, *words_out, *tokens;
    Py_ssize_t first_id;
    if (!PyArg_ParseTuple(args, "O!nO!O!O!O!O!O:gather", &PyList_Type, &entries, &first_id,
                          &PyDict_Type, &canon, &PyDict_Type, &levels_out, &PyDict_Type,
                          &sources_out, &PyDict_Type, &tags_out, &PyDict_Type, &words_out,
                          &tokens))
        return NULL;
    if (check_configured() < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(entries);
    if (tokens != Py_None && (!PyList_Check(tokens) || PyList_GET_SIZE(tokens) != n)) {
        PyErr_SetString(PyExc_ValueError, "tokens must be None or one list per entry");
        return NULL;
    }
    if (check_ids(first_id, n) < 0)
        return NULL;
    PyObject *result = NULL;
    Gatherer g;
    if (gatherer_init(&g, canon) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *toks = tokens == Py_None ? NULL : PyList_GET_ITEM(tokens, i);
        if (gather_entry(&g, PyList_GET_ITEM(entries, i), (uint32_t)(first_id + i), toks) < 0)
            goto done;
    }
    if (gatherer_emit(&g, levels_out, sources_out, tags_out, words_out) < 0)
        goto done;
    result = Py_None;
    Py_INCREF(result);
done:
    gatherer_free(&g);
    return result;
}

/* entries_from_lines and gather in one pass over whole blocks of a file: each entry is
 * indexed right after it is built, while it is still in the CPU cache (two passes over a
 * batch read every entry back from memory). Each block holds complete lines (the last block
 * of a file may end without a newline), split here, so a line that parses becomes an entry
 * without ever being a bytes object. Returns (entries, lines, bad): the entries of the good
 * lines (ids from first_id), the number of lines, and (index, line with its newline) of each
 * line that did not parse (blank or bad; the Python reader re-reads those for the reason). */
static PyObject *
ingest_blocks(PyObject *self, PyObject *args)
{
    PyObject *blocks, *canon, *levels_out, *sources_out, *tags_out, *words_out;
    Py_ssize_t first_id;
    if (!PyArg_ParseTuple(args, "O!nO!O!O!O!O!:ingest_blocks", &PyList_Type, &blocks,
                          &first_id, &PyDict_Type, &canon, &PyDict_Type, &levels_out,
                          &PyDict_Type, &sources_out, &PyDict_Type, &tags_out, &PyDict_Type,
                          &words_out))
        return NULL;
    if (check_configured() < 0)
        return NULL;
    Py_ssize_t nblocks = PyList_GET_SIZE(blocks), total = 0;
    for (Py_ssize_t b = 0; b < nblocks; b++) {
        PyObject *block = PyList_GET_ITEM(blocks, b);
        if (!PyBytes_CheckExact(block)) {
            PyErr_SetString(PyExc_TypeError, "ingest_blocks expects a list of bytes");
            return NULL;
        }
        total += PyBytes_GET_SIZE(block);  /* at least one byte per line but the last */
    }
    if (check_ids(first_id, total + 1) < 0)
        return NULL;
    PyObject *entries = PyList_New(0), *bad = PyList_New(0);
    Gatherer g;
    int ready = 0;
    if (entries == NULL || bad == NULL || gatherer_init(&g, canon) < 0)
        goto fail;
    ready = 1;
    Py_ssize_t line_no = 0, good = 0;
    for (Py_ssize_t b = 0; b < nblocks; b++) {
        PyObject *block = PyList_GET_ITEM(blocks, b);
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(block);
        const unsigned char *end = p + PyBytes_GET_SIZE(block);
        while (p < end) {
            const unsigned char *nl = memchr(p, '\n', end - p);
            const unsigned char *stop = nl != NULL ? nl : end;
            const unsigned char *next = nl != NULL ? nl + 1 : end;
            PyObject *entry = NULL;
            if (blank_line(p, stop)) {  /* skipped, as the Python reader skips it */
                line_no++;
                p = next;
                continue;
            }
            int r = direct_entry(p, stop - p, &entry);
            if (r < 0)
                goto fail;
            if (r == 0) {  /* orjson's turn: the line as a bytes object (rare) */
                PyObject *line = PyBytes_FromStringAndSize((const char *)p, stop - p);
                if (line == NULL)
                    goto fail;
                entry = line_entry(line);
                Py_DECREF(line);
                if (entry == NULL) {
                    if (PyErr_Occurred())
                        goto fail;
                    PyObject *raw = PyBytes_FromStringAndSize((const char *)p, next - p);
                    PyObject *item = raw == NULL ? NULL : Py_BuildValue("(nN)", line_no, raw);
                    if (item == NULL || PyList_Append(bad, item) < 0) {
                        Py_XDECREF(item);
                        goto fail;
                    }
                    Py_DECREF(item);
                }
            }
            if (entry != NULL) {
                int rc = PyList_Append(entries, entry);
                Py_DECREF(entry);
                if (rc < 0 || gather_entry(&g, entry, (uint32_t)(first_id + good), NULL) < 0)
                    goto fail;
                good++;
            }
            line_no++;
            p = next;
        }
    }
    if (gatherer_emit(&g, levels_out, sources_out, tags_out, words_out) < 0)
        goto fail;
    gatherer_free(&g);
    return Py_BuildValue("(NnN)", entries, line_no, bad);
fail:
    if (ready)
        gatherer_free(&g);
    Py_XDECREF(entries);
    Py_XDECREF(bad);
    return NULL;
}


/* entries_from_rows(orjson.loads(data), ...) without the intermediate lists, for a stored
 * chunk whose strings the direct parser takes (no escapes) and whose metadata holds only
 * scalars: 1 with the entries in *out, 0 for any other chunk (the caller then takes the
 * orjson path, which also reports a damaged chunk), -1 on an error. */
static int
chunk_entries(const unsigned char *data, Py_ssize_t size, PyObject *stamps, PyObject *canon,
              PyObject **out)
{
    Cursor cur = {data, data + size}, *c = &cur;
    Py_ssize_t n = PyList_GET_SIZE(stamps), i = 0;
    int bail = 0, rc = -1;
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return -1;
    Table table;
    Registry reg = {0};
    if (table_init(&table, 256) < 0) {
        Py_DECREF(list);
        return -1;
    }
    skip_ws(c);
    if (!at(c, '[')) {
        bail = 1;
        goto finish;
    }
    FOR_EACH_ITEM(c, ']', &bail, {
        PyObject *v[N_SLOTS] = {NULL};
        if (i >= n || !at(c, '[')) {
            bail = 1;
            break;
        }
        c->p++;
        for (int k = 0; k < N_SLOTS && !bail && !PyErr_Occurred(); k++) {
            if (k == S_TS)
                continue;
            skip_ws(c);
            if (k != S_TIMESTAMP) {
                if (!at(c, ',')) {
                    bail = 1;
                    break;
                }
                c->p++;
                skip_ws(c);
            }
            PyObject *raw = NULL, *canonical;
            switch (k) {
            case S_TIMESTAMP:
                v[k] = scalar_value(c, &bail);
                break;
            case S_LEVEL:
            case S_SOURCE:
                raw = string_value(c, &bail);
                if (raw != NULL && value_term(&table, &reg, canon, raw, &canonical) >= 0) {
                    Py_INCREF(canonical);
                    v[k] = canonical;
                }
                Py_XDECREF(raw);
                break;
            case S_TAGS:
                v[k] = opened_by(c, '[', tags_value, &bail);
                for (Py_ssize_t t = 0; v[k] != NULL && t < PyList_GET_SIZE(v[k]); t++) {
                    PyObject *tag = PyList_GET_ITEM(v[k], t);
                    if (value_term(&table, &reg, canon, tag, &canonical) < 0) {
                        Py_CLEAR(v[k]);
                        break;
                    }
                    Py_INCREF(canonical);
                    PyList_SET_ITEM(v[k], t, canonical);
                    Py_DECREF(tag);
                }
                break;
            case S_METADATA:
                v[k] = opened_by(c, '{', metadata_value, &bail);
                break;
            default:  /* message, thread_id, request_id, user_id */
                v[k] = field_readers[k](c, &bail);
            }
            if (v[k] == NULL)
                bail = bail || !PyErr_Occurred();
        }
        skip_ws(c);
        PyObject *entry = NULL;
        if (!bail && !PyErr_Occurred() && at(c, ']')) {
            c->p++;
            entry = entry_type->tp_alloc(entry_type, 0);
            if (entry != NULL) {
                v[S_TS] = PyList_GET_ITEM(stamps, i);
                Py_INCREF(v[S_TS]);
                for (int k = 0; k < N_SLOTS; k++) {
                    SLOT(entry, k) = v[k];
                    v[k] = NULL;
                }
                untrack_if_acyclic(entry);
                PyList_SET_ITEM(list, i++, entry);
            }
        } else if (!PyErr_Occurred()) {
            bail = 1;
        }
        for (int k = 0; k < N_SLOTS; k++)
            Py_XDECREF(v[k]);
        if (entry == NULL)
            break;
    });
finish:
    if (!PyErr_Occurred()) {
        skip_ws(c);
        rc = !bail && i == n && c->p == c->end;
    }
    if (rc == 1)
        *out = list;
    else
        Py_DECREF(list);
    registry_free(&reg);
    PyMem_Free(table.slots);
    return rc;
}

static PyObject *
entries_from_chunk(PyObject *self, PyObject *args)
{
    PyObject *data, *stamps, *canon, *out = NULL;
    if (!PyArg_ParseTuple(args, "SO!O!:entries_from_chunk", &data, &PyList_Type, &stamps,
                          &PyDict_Type, &canon))
        return NULL;
    if (check_configured() < 0)
        return NULL;
    int r = chunk_entries((const unsigned char *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                          stamps, canon, &out);
    return found_or_none(r, out);
}

/* ---------------------------------------------------------------- time order --------- */

typedef struct {
    double ts;
    uint32_t id;
} Stamped;

/* 0 when every id of ids[0:n] is in the store (base <= id < base + size), else -1 with
 * IndexError. */
static int
check_store_ids(const uint32_t *ids, Py_ssize_t n, Py_ssize_t base, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t pos = (Py_ssize_t)ids[i] - base;
        if (pos < 0 || pos >= size) {
            PyErr_Format(PyExc_IndexError, "id %u is not in the store", ids[i]);
            return -1;
        }
    }
    return 0;
}

static int
stamped_cmp(const void *a, const void *b)
{
    const Stamped *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The hits of a query in time order, ties in id order (reversed when descending), positions
 * [start, stop) of that order: entries when `entries` is a list, else ids. `in_order` holds
 * ascending ids that arrived in time order (so already ordered by (instant, id)), `late` the
 * others; both uint32 buffers (pyroaring's to_array()), `ts` the store's instants (float64)
 * from id `base`. The specification is Store.sorted_ids: O(k + m log m) for k hits of which
 * m are late, and no Python int or float made for the ones not returned. */
static PyObject *
time_order(PyObject *self, PyObject *args)
{
    Py_buffer a = {0}, l = {0}, t = {0};
    PyObject *entries, *result = NULL;
    Py_ssize_t base, start, stop;
    int descending;
    if (!PyArg_ParseTuple(args, "y*y*y*nOpnn:time_order", &a, &l, &t, &base, &entries,
                          &descending, &start, &stop))
        return NULL;
    Stamped *late = NULL;
    uint32_t *merged = NULL;
    if (a.len % 4 || l.len % 4 || t.len % 8) {
        PyErr_SetString(PyExc_ValueError, "time_order expects uint32 ids and float64 instants");
        goto done;
    }
    if (entries != Py_None && !PyList_CheckExact(entries)) {
        PyErr_SetString(PyExc_TypeError, "entries must be a list or None");
        goto done;
    }
    const uint32_t *ids = a.buf, *late_ids = l.buf;
    const double *ts = t.buf;
    Py_ssize_t na = a.len / 4, nl = l.len / 4, nt = t.len / 8, k = na + nl;
    Py_ssize_t size = entries == Py_None ? nt : Py_MIN(nt, PyList_GET_SIZE(entries));
    if (check_store_ids(ids, na, base, size) < 0 || check_store_ids(late_ids, nl, base, size) < 0)
        goto done;
    start = start < 0 ? 0 : start > k ? k : start;
    stop = stop < start ? start : stop > k ? k : stop;
    late = PyMem_Malloc((nl ? nl : 1) * sizeof(Stamped));
    merged = PyMem_Malloc((k ? k : 1) * sizeof(uint32_t));
    if (late == NULL || merged == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < nl; i++)
        late[i] = (Stamped){ts[late_ids[i] - base], late_ids[i]};
    qsort(late, nl, sizeof(Stamped), stamped_cmp);
    Py_ssize_t i = 0, j = 0, o = 0;
    while (i < na && j < nl) {
        Stamped x = {ts[ids[i] - base], ids[i]};
        merged[o++] = stamped_cmp(&late[j], &x) < 0 ? late[j++].id : ids[i++];
    }
    while (i < na)
        merged[o++] = ids[i++];
    while (j < nl)
        merged[o++] = late[j++].id;
    result = PyList_New(stop - start);
    if (result == NULL)
        goto done;
    for (Py_ssize_t p = start; p < stop; p++) {
        uint32_t id = merged[descending ? k - 1 - p : p];
        PyObject *item;
        if (entries == Py_None) {
            item = PyLong_FromUnsignedLong(id);
            if (item == NULL) {
                Py_CLEAR(result);
                goto done;
            }
        } else {
            item = PyList_GET_ITEM(entries, (Py_ssize_t)id - base);
            Py_INCREF(item);
        }
        PyList_SET_ITEM(result, p - start, item);
    }
done:
    PyMem_Free(late);
    PyMem_Free(merged);
    PyBuffer_Release(&a);
    PyBuffer_Release(&l);
    PyBuffer_Release(&t);
    return result;
}

/* The ids of a uint32 buffer whose instant (ts: float64 from id base) lies in [lo, hi], as
 * array('I'). The specification is the id-by-id check in Store.ids_in_time_range. */
static PyObject *
filter_instants(PyObject *self, PyObject *args)
{
    Py_buffer a = {0}, t = {0};
    Py_ssize_t base;
    double lo, hi;
    PyObject *result = NULL;
    uint32_t *out = NULL;
    if (!PyArg_ParseTuple(args, "y*y*ndd:filter_instants", &a, &t, &base, &lo, &hi))
        return NULL;
    if (check_configured() < 0)
        goto fail;
    if (a.len % 4 || t.len % 8) {
        PyErr_SetString(PyExc_ValueError, "filter_instants expects uint32 ids and float64 instants");
        goto fail;
    }
    const uint32_t *ids = a.buf;
    const double *ts = t.buf;
    Py_ssize_t n = a.len / 4, nt = t.len / 8, kept = 0;
    out = PyMem_Malloc(n ? a.len : 1);
    if (out == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    if (check_store_ids(ids, n, base, nt) < 0)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        double x = ts[ids[i] - base];
        if (lo <= x && x <= hi)
            out[kept++] = ids[i];
    }
    result = PyObject_CallFunction(array_type, "Cy#", 'I', (const char *)out, kept * 4);
fail:
    PyMem_Free(out);
    PyBuffer_Release(&a);
    PyBuffer_Release(&t);
    return result;
}


static int
double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The sorted float values of metadata[field] over entries (NaN, missing and non-numbers left
 * out), as array('d'); None when an entry is not a plain LogEntry with a dict of metadata or
 * a value is an int or a float subclass (the Python path keeps their types). The
 * specification is aggregate.numeric_values: its stable sort keeps 0.0 and -0.0 in the
 * order they came, and so does this one. */
static PyObject *
sorted_numbers(PyObject *self, PyObject *args)
{
    PyObject *entries, *field, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!U:sorted_numbers", &PyList_Type, &entries, &field))
        return NULL;
    if (check_configured() < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(entries), k = 0, z = 0;
    double *values = PyMem_Malloc((n ? n : 1) * sizeof(double));
    unsigned char *zeros = PyMem_Malloc(n ? n : 1);  /* sign of each zero, in order */
    if (values == NULL || zeros == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(entries, i);
        if (Py_TYPE(e) != entry_type)
            goto hand_back;
        PyObject *metadata = SLOT(e, S_METADATA);
        if (metadata == NULL || !PyDict_CheckExact(metadata))
            goto hand_back;
        PyObject *v = PyDict_GetItemWithError(metadata, field);
        if (v == NULL) {
            if (PyErr_Occurred())
                goto done;
            continue;
        }
        if (PyFloat_CheckExact(v)) {
            double d = PyFloat_AS_DOUBLE(v);
            if (d != d)
                continue;
            if (d == 0)
                zeros[z++] = (unsigned char)signbit(d);
            values[k++] = d;
        } else if (PyBool_Check(v)) {
            continue;
        } else if (PyLong_Check(v) || PyFloat_Check(v)) {
            goto hand_back;
        }
    }
    qsort(values, k, sizeof(double), double_cmp);
    if (z) {  /* the zeros sit together: put their signs back in arrival order */
        Py_ssize_t first = 0;
        while (values[first] != 0)
            first++;
        for (Py_ssize_t j = 0; j < z; j++)
            values[first + j] = zeros[j] ? -0.0 : 0.0;
    }
    result = PyObject_CallFunction(array_type, "Cy#", 'd', (const char *)values,
                                   k * (Py_ssize_t)sizeof(double));
    goto done;
hand_back:
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyMem_Free(values);
    PyMem_Free(zeros);
    return result;
}

/* ---------------------------------------------------------------- storage rows ------- */

/* Entries from the field arrays of a stored chunk and their instants (floats). The
 * specification is storage.decode_rows. */
static PyObject *
entries_from_rows(PyObject *self, PyObject *args)
{
    PyObject *rows, *stamps, *canon;
    if (!PyArg_ParseTuple(args, "O!O!O!:entries_from_rows", &PyList_Type, &rows, &PyList_Type,
                          &stamps, &PyDict_Type, &canon))
        return NULL;
    if (check_configured() < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(rows);
    if (PyList_GET_SIZE(stamps) != n) {
        PyErr_SetString(PyExc_ValueError, "one instant per entry");
        return NULL;
    }
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    Table table;
    Registry reg = {0};  /* canonical strings seen in this call (found by their bytes) */
    if (table_init(&table, 256) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *data = PyList_GET_ITEM(rows, i);
        PyObject *ts = PyList_GET_ITEM(stamps, i);
        if (!PyList_CheckExact(data) || PyList_GET_SIZE(data) != 9) {
            PyErr_SetString(PyExc_ValueError, "a stored entry is a JSON array of 9 fields");
            goto fail;
        }
        PyObject **f = ((PyListObject *)data)->ob_item;
        PyObject *level, *source, *c;
        if (value_term(&table, &reg, canon, f[1], &level) < 0 ||
            value_term(&table, &reg, canon, f[3], &source) < 0)
            goto fail;
        PyObject *tags = f[7];
        if (PyList_CheckExact(tags) && PyList_GET_SIZE(tags)) {
            /* a fresh list, as the Python decoder builds */
            PyObject *fresh = PyList_New(PyList_GET_SIZE(tags));
            if (fresh == NULL)
                goto fail;
            for (Py_ssize_t k = 0; k < PyList_GET_SIZE(tags); k++) {
                if (value_term(&table, &reg, canon, PyList_GET_ITEM(tags, k), &c) < 0) {
                    Py_DECREF(fresh);
                    goto fail;
                }
                Py_INCREF(c);
                PyList_SET_ITEM(fresh, k, c);
            }
            tags = fresh;
        } else {
            Py_INCREF(tags);
        }
        PyObject *entry = entry_type->tp_alloc(entry_type, 0);
        if (entry == NULL) {
            Py_DECREF(tags);
            goto fail;
        }
        PyObject *values[N_SLOTS] = {f[0], ts, level, f[2], source, f[4], f[5], f[6], tags, f[8]};
        for (int k = 0; k < N_SLOTS; k++) {
            if (k != S_TAGS)
                Py_INCREF(values[k]);
            SLOT(entry, k) = values[k];
        }
        untrack_if_acyclic(entry);
        PyList_SET_ITEM(out, i, entry);
    }
    registry_free(&reg);
    PyMem_Free(table.slots);
    return out;
fail:
    registry_free(&reg);
    PyMem_Free(table.slots);
    Py_DECREF(out);
    return NULL;
}

/* ---------------------------------------------------------------- storage encode ----- */

/* (stamps, data) of one chunk: stamps the native float64 bytes of the instants, data =
 * dumps([[timestamp, level, message, source, thread_id, request_id, user_id, tags,
 * metadata], ...], default=default, option=option): one orjson call for the chunk. The
 * specification is storage.encode_entries. */
static PyObject *
encode_chunk(PyObject *self, PyObject *args)
{
    PyObject *entries, *dumps, *dflt, *option;
    if (!PyArg_ParseTuple(args, "O!OOO:encode_chunk", &PyList_Type, &entries, &dumps, &dflt,
                          &option))
        return NULL;
    if (check_configured() < 0)
        return NULL;
    static const int fields[9] = {S_TIMESTAMP, S_LEVEL, S_MESSAGE, S_SOURCE, S_THREAD_ID,
                                  S_REQUEST_ID, S_USER_ID, S_TAGS, S_METADATA};
    Py_ssize_t n = PyList_GET_SIZE(entries);
    PyObject *rows = PyList_New(n);
    PyObject *stamps = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    PyObject *kwnames = PyTuple_New(2);
    PyObject *data = NULL;
    if (rows == NULL || stamps == NULL || kwnames == NULL)
        goto fail;
    /* interned: orjson recognises its keyword names by identity */
    for (int k = 0; k < 2; k++) {
        PyObject *name = PyUnicode_InternFromString(k ? "option" : "default");
        if (name == NULL)
            goto fail;
        PyTuple_SET_ITEM(kwnames, k, name);
    }
    double *out = (double *)PyBytes_AS_STRING(stamps);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(entries, i);
        if (!PyObject_TypeCheck(e, entry_type)) {
            PyErr_Format(PyExc_TypeError, "expected a LogEntry, got %s", Py_TYPE(e)->tp_name);
            goto fail;
        }
        PyObject *row = PyList_New(9);
        if (row == NULL)
            goto fail;
        PyList_SET_ITEM(rows, i, row);
        for (int k = 0; k < 9; k++) {
            PyObject *v = SLOT(e, fields[k]);
            if (v == NULL) {
                PyErr_Format(PyExc_AttributeError, "LogEntry.%s is not set",
                             slot_names[fields[k]]);
                goto fail;
            }
            Py_INCREF(v);
            PyList_SET_ITEM(row, k, v);
        }
        PyObject *ts = SLOT(e, S_TS);
        if (ts == NULL) {
            PyErr_SetString(PyExc_AttributeError, "LogEntry.ts is not set");
            goto fail;
        }
        out[i] = PyFloat_AsDouble(ts);
        if (out[i] == -1.0 && PyErr_Occurred())
            goto fail;
    }
    PyObject *call_args[3] = {rows, dflt, option};
    data = PyObject_Vectorcall(dumps, call_args, 1, kwnames);
    if (data == NULL)
        goto fail;
    Py_DECREF(rows);
    Py_DECREF(kwnames);
    return Py_BuildValue("(NN)", stamps, data);
fail:
    Py_XDECREF(rows);
    Py_XDECREF(stamps);
    Py_XDECREF(kwnames);
    return NULL;
}

/* ---------------------------------------------------------------- time index ------- */

static PyObject *
split_ordered(PyObject *self, PyObject *args)
{
    PyObject *stamps;
    Py_ssize_t first_id;
    double top;
    if (!PyArg_ParseTuple(args, "nO!d:split_ordered", &first_id, &PyList_Type, &stamps, &top))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(stamps);
    PyObject *run_ids = PyList_New(0), *run_keys = PyList_New(0), *late = PyList_New(0);
    if (run_ids == NULL || run_keys == NULL || late == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(stamps, i);
        double k = PyFloat_AsDouble(key);
        if (k == -1.0 && PyErr_Occurred())
            goto fail;
        PyObject *id = PyLong_FromSsize_t(first_id + i);
        if (id == NULL)
            goto fail;
        int rc;
        if (k >= top) {
            top = k;
            rc = PyList_Append(run_ids, id);
            if (rc == 0)
                rc = PyList_Append(run_keys, key);
        } else {
            rc = PyList_Append(late, id);
        }
        Py_DECREF(id);
        if (rc < 0)
            goto fail;
    }
    return Py_BuildValue("(NNN)", run_ids, run_keys, late);
fail:
    Py_XDECREF(run_ids);
    Py_XDECREF(run_keys);
    Py_XDECREF(late);
    return NULL;
}

/* ---------------------------------------------------------------- module ------------- */

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(LogEntry, level_cache, entry_from_json, loads, words, array): bind the Python "
     "side."},
    {"entries_from_lines", entries_from_lines, METH_O,
     "entries_from_lines(lines) -> (entries, bad): one LogEntry per JSON line, None where the "
     "line is rejected (the Python reader re-reads those for the exact reason)."},
    {"gather", gather, METH_VARARGS,
     "gather(entries, first_id, canon, levels, sources, tags, words, tokens): fill each dict "
     "with term -> array('I') of the ids of the entries that carry it (tokens None: "
     "tokenize the messages here)."},
    {"entries_from_rows", entries_from_rows, METH_VARARGS,
     "entries_from_rows(rows, stamps, canon) -> entries: LogEntry objects from a stored "
     "chunk's field arrays and instants."},
    {"encode_chunk", encode_chunk, METH_VARARGS,
     "encode_chunk(entries, dumps, default, option) -> (stamps, data): one stored chunk."},
    {"split_ordered", split_ordered, METH_VARARGS,
     "split_ordered(first_id, stamps, top) -> (run_ids, run_keys, late_ids): the ids whose "
     "instant is not below the running maximum (starting at top), and the others."},
    {"direct_entry", py_direct_entry, METH_O,
     "direct_entry(line) -> LogEntry | None: the entry of a JSON line of the common shape "
     "parsed without orjson; None: a line for orjson (the path entries_from_lines then takes)."},
    {"time_order", time_order, METH_VARARGS,
     "time_order(in_order, late, ts, base, entries, descending, start, stop) -> list: "
     "positions [start, stop) of the hits in time order (ties in id order), as entries "
     "when entries is the store's list, else as ids."},
    {"filter_instants", filter_instants, METH_VARARGS,
     "filter_instants(ids, ts, base, lo, hi) -> array('I'): the ids whose instant is in "
     "[lo, hi]."},
    {"entries_from_chunk", entries_from_chunk, METH_VARARGS,
     "entries_from_chunk(data, stamps, canon) -> entries | None: entries_from_rows of a "
     "stored chunk's JSON parsed directly; None: a chunk for orjson."},
    {"sorted_numbers", sorted_numbers, METH_VARARGS,
     "sorted_numbers(entries, field) -> array('d') | None: the sorted float values of a "
     "metadata field; None: values for the Python path."},
    {"ingest_blocks", ingest_blocks, METH_VARARGS,
     "ingest_blocks(blocks, first_id, canon, levels, sources, tags, words) -> (entries, lines, "
     "bad): entries_from_lines and gather in one pass over blocks of whole lines, split "
     "here; the good lines get ids from first_id; bad holds (index, line) of the others."},
    {"parse_iso", py_parse_iso, METH_O,
     "parse_iso(text) -> float | None: the instant of a common ISO 8601 timestamp."},
    {NULL, NULL, 0, NULL},
};

static int
speedups_exec(PyObject *module)
{
    for (int c = 0; c < 128; c++) {
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_';
        word_lower[c] = word ? (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c) : 0;
    }
    for (int k = 0; k < N_SLOTS; k++) {
        field_len[k] = (signed char)strlen(slot_names[k]);
        if (keys[k] == NULL && (keys[k] = PyUnicode_InternFromString(slot_names[k])) == NULL)
            return -1;
    }
    if (str_info == NULL && (str_info = PyUnicode_InternFromString("INFO")) == NULL)
        return -1;
    if (str_empty == NULL && (str_empty = PyUnicode_FromStringAndSize("", 0)) == NULL)
        return -1;
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, speedups_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "log_analytics_engine._speedups",
    "Optional C accelerator of the ingest hot loops (the Python code is the specification).",
    0, methods, module_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&module_def);
}
