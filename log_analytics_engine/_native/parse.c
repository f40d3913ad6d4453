/*
 * The direct JSON parser and the JSON lines kernel (entries_from_lines).
 *
 * A JSON line of the common entry shape parsed straight into a LogEntry, without orjson's
 * intermediate dict and its key lookups. It takes: one object whose keys are entry fields
 * (each at most once); strings without escapes or control characters (ASCII, or UTF-8
 * that decodes strictly); tags as an array of such strings; metadata as an object whose
 * values are such strings, numbers, true, false or null. Anything else (an escape, a
 * nested value, an unknown key, a timestamp parse_iso does not take, bad JSON) returns 0
 * and the line goes through orjson and fast_entry as before, so a line this parser takes
 * gets exactly what that path would build (the differential tests compare them on
 * random and mutated lines, the sanitizer's fuzz run on many more).
 */
#include "_native.h"

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
PyObject *
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
 * anything else, or a value this parser leaves to orjson (a longer int, an overflow);
 * number_token is the same without the object. */
int
number_token(Cursor *c, Number *out, int *bail)
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
        out->is_int = 1;
        out->iv = *start == '-' ? -v : v;
        return 1;
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
            out->is_int = 0;
            out->dv = *start == '-' ? -d : d;
            return 1;
        }
    }
    char buf[64];
    if (n >= (Py_ssize_t)sizeof buf)
        goto bail;
    memcpy(buf, start, n);
    buf[n] = '\0';
    double d = PyOS_string_to_double(buf, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    if (!isfinite(d))
        goto bail;
    out->is_int = 0;
    out->dv = d;
    return 1;
bail:
    *bail = 1;
    return 0;
}

static PyObject *
number_value(Cursor *c, int *bail)
{
    Number num;
    int r = number_token(c, &num, bail);
    if (r <= 0)
        return NULL;
    return num.is_int ? PyLong_FromLongLong(num.iv) : PyFloat_FromDouble(num.dv);
}

/* Metadata keys recur line after line: one shared str per short ASCII key (direct-mapped
 * by an FNV-1a hash of its bytes), its hash computed once. */
static PyObject *
meta_key(State *st, const unsigned char *s, Py_ssize_t len, int ascii, int *bail)
{
    if (ascii != PLAIN_ASCII || len > 48)
        return token_str(s, len, ascii, bail);
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    PyObject **slot = &st->meta_keys[(h ^ (h >> 29)) & (META_KEYS - 1)];
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
PyObject *
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

PyObject *
tags_value(Cursor *c, int *bail)
{
    if (!container_opens(c, '[', bail))
        return *bail ? NULL : PyList_New(0);
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

PyObject *
metadata_value(Cursor *c, int *bail)
{
    if (!container_opens(c, '{', bail))
        return *bail ? NULL : PyDict_New();
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
        if (!member_colon(c)) {
            *bail = 1;
            break;
        }
        PyObject *key = meta_key(c->st, s, len, ascii, bail);
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

/* The slot of a top-level key (-1: not an entry field; "ts" is not one): its length picks
 * the one or two names it can be. */
int
field_of(const unsigned char *s, Py_ssize_t len)
{
    int k = -1;
    switch (len) {
    case 4: k = S_TAGS; break;
    case 5: k = S_LEVEL; break;
    case 6: k = S_SOURCE; break;
    case 7: k = s[0] == 'm' ? S_MESSAGE : S_USER_ID; break;
    case 8: k = S_METADATA; break;
    case 9: k = s[0] == 't' && s[1] == 'i' ? S_TIMESTAMP : S_THREAD_ID; break;
    case 10: k = S_REQUEST_ID; break;
    default: return -1;
    }
    return memcmp(slot_names[k], s, (size_t)len) == 0 ? k : -1;
}

/* The slot of the entry field whose key (s[:len]) was just read, with c moved past the ':'
 * after it; -1 for a key the direct parsers leave (not a field, or a field seen before: an
 * unknown key goes to metadata, a repeated one is orjson's to decide) or no colon. */
int
entry_member(Cursor *c, const unsigned char *key, Py_ssize_t len, int *seen)
{
    int k = field_of(key, len);
    if (k < 0 || (*seen & (1 << k)) || !member_colon(c))
        return -1;
    *seen |= 1 << k;
    return k;
}

/* The canonical level of a level string token; NULL with *bail set when it is not a level
 * name (the Python path raises the error). */
static PyObject *
level_value(Cursor *c, int *bail)
{
    const State *st = c->st;
    if (literal(c, "null", 4)) {
        Py_INCREF(st->str_info);
        return st->str_info;
    }
    const unsigned char *s;
    Py_ssize_t len;
    int ascii;
    if (!at(c, '"') || !scan_string(c, &s, &len, &ascii)) {
        *bail = 1;
        return NULL;
    }
    for (int i = 0; i < N_COMMON_LEVELS; i++) {
        if (common_spellings[i][0] == (len ? s[0] : 0) &&
            (Py_ssize_t)strlen(common_spellings[i]) == len &&
            memcmp(common_spellings[i], s, len) == 0) {
            Py_INCREF(st->common_names[i]);
            return st->common_names[i];
        }
    }
    PyObject *spelling = token_str(s, len, ascii, bail);
    if (spelling == NULL)
        return NULL;
    PyObject *canonical = PyDict_GetItemWithError(st->level_cache, spelling);
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
    return string_or(c, bail, c->st->str_empty);
}

static PyObject *
optional_string(Cursor *c, int *bail)
{
    return string_or(c, bail, Py_None);
}

/* How the value of each entry field is read (the timestamp has its own path). */
const FieldReader field_readers[N_SLOTS] = {
    [S_LEVEL] = level_value,         [S_MESSAGE] = string_value,
    [S_SOURCE] = source_value,       [S_THREAD_ID] = optional_string,
    [S_REQUEST_ID] = optional_string, [S_USER_ID] = optional_string,
    [S_TAGS] = tags_value,           [S_METADATA] = metadata_value,
};

/* 1 and the entry in *out; 0: not a line for this parser (use orjson); -1: an error. */
int
direct_entry(State *st, const unsigned char *line, Py_ssize_t n, PyObject **out)
{
    Cursor cur = {line, line + n, st}, *c = &cur;
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
        int k = entry_member(c, s, len, &seen);
        if (k < 0) {
            bail = 1;
            break;
        }
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
            v[k] = k == S_LEVEL ? st->str_info : k <= S_SOURCE ? st->str_empty : Py_None;
            Py_INCREF(v[k]);
        }
    }
    rc = -1;
    if (v[S_TAGS] == NULL && (v[S_TAGS] = PyList_New(0)) == NULL)
        goto done;
    if (v[S_METADATA] == NULL && (v[S_METADATA] = PyDict_New()) == NULL)
        goto done;
    *out = new_entry(st, v, instant);
    rc = *out == NULL ? -1 : 1;
done:
    for (int k = 0; k < N_SLOTS; k++)
        Py_XDECREF(v[k]);
    return rc;
}

PyObject *
py_direct_entry(PyObject *module, PyObject *line)
{
    State *st = get_state(module);
    if (check_arg(st, line, &PyBytes_Type, "direct_entry expects bytes") < 0)
        return NULL;
    PyObject *entry = NULL;
    int r = direct_entry(st, (const unsigned char *)PyBytes_AS_STRING(line),
                         PyBytes_GET_SIZE(line), &entry);
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
PyObject *
line_entry(State *st, PyObject *line)
{
    PyObject *entry = NULL;
    if (PyBytes_CheckExact(line)) {
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(line);
        if (blank_line(s, s + PyBytes_GET_SIZE(line)))
            return NULL;  /* rejected without an exception: the reader skips blank lines */
        int r = direct_entry(st, s, PyBytes_GET_SIZE(line), &entry);
        if (r != 0)
            return entry;  /* NULL with an error that is not the line's when r < 0 */
    }
    PyObject *data = PyObject_CallOneArg(st->loads, line);
    if (data != NULL) {
        if (PyDict_CheckExact(data)) {
            entry = fast_entry(st, data);
            if (entry == NULL && !PyErr_Occurred())
                entry = PyObject_CallOneArg(st->from_json, data);
        }
        Py_DECREF(data);
    }
    if (entry == NULL && PyErr_Occurred() && line_error())
        PyErr_Clear();
    return entry;
}

PyObject *
py_entries_from_lines(PyObject *module, PyObject *lines)
{
    State *st = get_state(module);
    if (check_arg(st, lines, &PyList_Type, "entries_from_lines expects a list of bytes") < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(lines), bad = 0;
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *entry = line_entry(st, PyList_GET_ITEM(lines, i));
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
