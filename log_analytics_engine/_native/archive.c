/*
 * The archive's kernels: word_lists, the buffers of a segment's words column (the distinct
 * words of each message as term numbers), from the word tokenizer of postings.c.
 */
#include "_native.h"

ORDER_CMP(cmp_u32, uint32_t)

/* word_lists(messages) -> (terms, codes, offsets): the distinct words of each message as
 * term numbers (int32, ascending: the order in which the batch first used its words), the
 * terms in that order, and offsets (int32, one more than the messages): the column buffers
 * of the archive's words list (pyarrow wraps them without a Python object per word). */
PyObject *
py_word_lists(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *messages;
    if (!PyArg_ParseTuple(args, "O!:word_lists", &PyList_Type, &messages))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(messages);
    if (check_ids(0, n) < 0)
        return NULL;
    Words ws;
    memset(&ws, 0, sizeof(ws));
    unsigned char *buf = NULL;
    Py_ssize_t buf_size = 0;
    PyObject *terms = NULL, *codes = NULL, *offsets = NULL, *result = NULL;
    if (table_init(&ws.table, 1024) < 0 || (ws.others = PyDict_New()) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *m = PyList_GET_ITEM(messages, i);
        if (!PyUnicode_Check(m)) {
            PyErr_Format(PyExc_TypeError, "a message must be a str, not %s",
                         Py_TYPE(m)->tp_name);
            goto done;
        }
        if (post_message(&ws, st->words_fn, m, (uint32_t)i, &buf, &buf_size) < 0)
            goto done;
    }
    Registry *r = &ws.reg;
    if (r->npairs > INT32_MAX || r->n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many words for one segment");
        goto done;
    }
    codes = PyBytes_FromStringAndSize(NULL, r->npairs * (Py_ssize_t)sizeof(uint32_t));
    offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int32_t));
    terms = PyList_New(r->n);
    if (codes == NULL || offsets == NULL || terms == NULL)
        goto done;
    for (Py_ssize_t t = 0; t < r->n; t++) {
        Py_INCREF(r->terms[t]);
        PyList_SET_ITEM(terms, t, r->terms[t]);
    }
    /* the pairs of a message are consecutive (posted message by message): each run of
     * term numbers is sorted in place into the codes */
    uint32_t *code = (uint32_t *)PyBytes_AS_STRING(codes);
    int32_t *off = (int32_t *)PyBytes_AS_STRING(offsets);
    Py_ssize_t k = 0;
    off[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t start = k;
        for (; k < r->npairs && r->pairs[2 * k + 1] == (uint32_t)i; k++) {
            uint32_t tn = r->pairs[2 * k];
            Py_ssize_t j = k;
            if (k - start < 32)  /* insertion sort of a short run */
                for (; j > start && code[j - 1] > tn; j--)
                    code[j] = code[j - 1];
            code[j] = tn;
        }
        if (k - start >= 32)  /* a long run was appended as it came: sort it */
            qsort(code + start, k - start, sizeof(uint32_t), cmp_u32);
        off[i + 1] = (int32_t)k;
    }
    result = PyTuple_Pack(3, terms, codes, offsets);
done:
    Py_XDECREF(terms);
    Py_XDECREF(codes);
    Py_XDECREF(offsets);
    registry_free(&ws.reg);
    PyMem_Free(ws.table.slots);
    Py_XDECREF(ws.others);
    PyMem_Free(buf);
    return result;
}

/* The UTF-8 bytes of each str of ``values`` (None: a null) appended to ``data`` (grown as
 * needed), with ``off`` (int32, n + 1) and ``valid`` (a bitmap, or NULL: no nulls seen yet,
 * allocated at the first None). Returns 0, or -1 with an exception set: TypeError for a
 * value that is neither, UnicodeEncodeError for a lone surrogate, OverflowError past 2 GiB
 * (the int32 offsets of an Arrow string array). */
typedef struct {
    char *data;
    Py_ssize_t size, cap;
} Bytes;

static int
append_utf8(Bytes *b, PyObject *s)
{
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &len);
    if (utf8 == NULL)
        return -1;
    if (len == 0)  /* nothing to copy (and no buffer yet, maybe: memcpy wants one) */
        return 0;
    if (len > INT32_MAX - b->size) {
        PyErr_SetString(PyExc_OverflowError, "text column over 2 GiB");
        return -1;
    }
    if (b->size + len > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + len)
            cap *= 2;
        char *grown = PyMem_Realloc(b->data, (size_t)cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->size, utf8, (size_t)len);
    b->size += len;
    return 0;
}

/* append_utf8 of a value that must be a str (TypeError naming ``what`` otherwise). */
static int
append_str(Bytes *b, PyObject *v, const char *what)
{
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "a text value must be %s, not %s", what,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    return append_utf8(b, v);
}

/* One text column being built: the UTF-8 bytes, the int32 offsets (n + 1) and the validity
 * bitmap (NULL until the first null). */
typedef struct {
    Bytes b;
    PyObject *offsets, *valid;
    int32_t *off;
    unsigned char *bits;
} TextColumn;

static int
text_column_init(TextColumn *c, Py_ssize_t n)
{
    memset(c, 0, sizeof(*c));
    c->offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int32_t));
    if (c->offsets == NULL)
        return -1;
    c->off = (int32_t *)PyBytes_AS_STRING(c->offsets);
    c->off[0] = 0;
    return 0;
}

/* Row i of n: v (a str; None only when nullable); ``name`` the value in a TypeError. */
static int
text_column_put(TextColumn *c, Py_ssize_t i, Py_ssize_t n, PyObject *v, int nullable,
                const char *name)
{
    if (v == Py_None && nullable) {
        if (c->valid == NULL) {
            c->valid = PyBytes_FromStringAndSize(NULL, (n + 7) / 8);
            if (c->valid == NULL)
                return -1;
            c->bits = (unsigned char *)PyBytes_AS_STRING(c->valid);
            memset(c->bits, 0xff, (size_t)((n + 7) / 8));
        }
        c->bits[i >> 3] &= (unsigned char)~(1u << (i & 7));
    }
    else if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be %s, not %s", name,
                     nullable ? "a str or None" : "a str", Py_TYPE(v)->tp_name);
        return -1;
    }
    else if (append_utf8(&c->b, v) < 0)
        return -1;
    c->off[i + 1] = (int32_t)c->b.size;
    return 0;
}

/* (offsets, data, validity or None), as string_buffers returns them. */
static PyObject *
text_column_result(TextColumn *c)
{
    PyObject *data = PyBytes_FromStringAndSize(c->b.data ? c->b.data : "", c->b.size);
    if (data == NULL)
        return NULL;
    PyObject *r = PyTuple_Pack(3, c->offsets, data, c->valid ? c->valid : Py_None);
    Py_DECREF(data);
    return r;
}

static void
text_column_free(TextColumn *c)
{
    Py_XDECREF(c->offsets);
    Py_XDECREF(c->valid);
    PyMem_Free(c->b.data);
}

/* string_buffers(values) -> (offsets, data, validity or None): the buffers of an Arrow
 * string array of a list of str and None (validity: the bitmap, bit set = a value; None
 * when no value is null). The strings' UTF-8 is copied once, without a Python object per
 * value. */
PyObject *
py_string_buffers(PyObject *module, PyObject *values)
{
    (void)module;
    if (!PyList_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "string_buffers expects a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(values);
    if (n >= INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many values for one text column");
        return NULL;
    }
    TextColumn c;
    PyObject *result = NULL;
    if (text_column_init(&c, n) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++)
        if (text_column_put(&c, i, n, PyList_GET_ITEM(values, i), 1, "a text value") < 0)
            goto done;
    result = text_column_result(&c);
done:
    text_column_free(&c);
    return result;
}

/* string_list_buffers(lists) -> (list_offsets, offsets, data): the buffers of an Arrow
 * list<string> array of a list of lists of str (no nulls: an entry's tags). */
PyObject *
py_string_list_buffers(PyObject *module, PyObject *lists)
{
    (void)module;
    if (!PyList_Check(lists)) {
        PyErr_SetString(PyExc_TypeError, "string_list_buffers expects a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(lists), total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *items = PyList_GET_ITEM(lists, i);
        if (!PyList_Check(items)) {
            PyErr_Format(PyExc_TypeError, "a text list must be a list, not %s",
                         Py_TYPE(items)->tp_name);
            return NULL;
        }
        total += PyList_GET_SIZE(items);
    }
    if (n >= INT32_MAX || total >= INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many values for one text list column");
        return NULL;
    }
    Bytes b = {NULL, 0, 0};
    PyObject *lists_off = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int32_t));
    PyObject *offsets = PyBytes_FromStringAndSize(NULL,
                                                  (total + 1) * (Py_ssize_t)sizeof(int32_t));
    PyObject *result = NULL;
    if (lists_off == NULL || offsets == NULL)
        goto done;
    int32_t *lo = (int32_t *)PyBytes_AS_STRING(lists_off);
    int32_t *off = (int32_t *)PyBytes_AS_STRING(offsets);
    Py_ssize_t k = 0;
    lo[0] = 0;
    off[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *items = PyList_GET_ITEM(lists, i);
        Py_ssize_t m = PyList_GET_SIZE(items);
        if (k + m > total) {  /* a list grew since it was counted (another thread) */
            PyErr_SetString(PyExc_RuntimeError, "a text list changed while it was read");
            goto done;
        }
        for (Py_ssize_t j = 0; j < m; j++) {
            if (append_str(&b, PyList_GET_ITEM(items, j), "a str") < 0)
                goto done;
            off[++k] = (int32_t)b.size;
        }
        lo[i + 1] = (int32_t)k;
    }
    if (k != total) {
        PyErr_SetString(PyExc_RuntimeError, "a text list changed while it was read");
        goto done;
    }
    PyObject *data = PyBytes_FromStringAndSize(b.data ? b.data : "", b.size);
    if (data == NULL)
        goto done;
    result = PyTuple_Pack(3, lists_off, offsets, data);
    Py_DECREF(data);
done:
    Py_XDECREF(lists_off);
    Py_XDECREF(offsets);
    PyMem_Free(b.data);
    return result;
}

#define N_TEXT 7
static const int text_slots[N_TEXT] = {S_TIMESTAMP, S_LEVEL, S_SOURCE, S_MESSAGE,
                                       S_THREAD_ID, S_REQUEST_ID, S_USER_ID};
static const char *const text_names[N_TEXT] = {
    "an entry's timestamp", "an entry's level", "an entry's source", "an entry's message",
    "an entry's thread_id", "an entry's request_id", "an entry's user_id"};

/* entry_columns(entries, order) -> (instants, texts, tags, messages, metadata): the columns
 * of the exact LogEntry objects of ``entries`` at the positions ``order`` (None: all, as
 * they are), read from their slots in one pass (python.entry_columns is the
 * specification). */
PyObject *
py_entry_columns(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *entries, *order;
    if (!PyArg_ParseTuple(args, "OO:entry_columns", &entries, &order))
        return NULL;
    if (!PyList_Check(entries) || (order != Py_None && !PyList_Check(order))) {
        PyErr_SetString(PyExc_TypeError,
                        "entry_columns expects a list of entries and a list of positions");
        return NULL;
    }
    if (check_configured(st) < 0)
        return NULL;
    Py_ssize_t size = PyList_GET_SIZE(entries);
    Py_ssize_t n = order == Py_None ? size : PyList_GET_SIZE(order);
    if (n >= INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many entries for one segment");
        return NULL;
    }
    /* the positions first (as the specification checks them), into a C array: the lists
     * may not change under us (nothing here calls back into Python but fill_lazy) */
    Py_ssize_t *pos = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Py_ssize_t));
    if (pos == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        if (order == Py_None) {
            pos[i] = i;
            continue;
        }
        PyObject *k = PyList_GET_ITEM(order, i);
        if (!PyLong_CheckExact(k)) {
            PyErr_Format(PyExc_TypeError, "a position must be an int, not %s",
                         Py_TYPE(k)->tp_name);
            PyMem_Free(pos);
            return NULL;
        }
        Py_ssize_t v = PyLong_AsSsize_t(k);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            v = -1;
        }
        if (v < 0 || v >= size) {
            PyErr_SetString(PyExc_IndexError, "a position out of range");
            PyMem_Free(pos);
            return NULL;
        }
        pos[i] = v;
    }
    TextColumn text[N_TEXT];
    int inited = 0;
    Bytes tag_data = {NULL, 0, 0};
    PyObject *instants = NULL, *messages = NULL, *metadata = NULL, *tag_lists = NULL;
    PyObject *tag_offsets = NULL, *result = NULL;
    Py_ssize_t tag_count = 0, tag_cap = 0;
    int32_t *toff = NULL;
    for (; inited < N_TEXT; inited++)
        if (text_column_init(&text[inited], n) < 0)
            goto done;
    instants = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    messages = PyList_New(n);
    metadata = PyList_New(n);
    tag_lists = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int32_t));
    if (instants == NULL || messages == NULL || metadata == NULL || tag_lists == NULL)
        goto done;
    double *ts = (double *)PyBytes_AS_STRING(instants);
    int32_t *tlo = (int32_t *)PyBytes_AS_STRING(tag_lists);
    tlo[0] = 0;
    tag_cap = n + 1;
    toff = PyMem_Malloc((size_t)tag_cap * sizeof(int32_t));
    if (toff == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    toff[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pos[i] >= PyList_GET_SIZE(entries)) {  /* fill_lazy ran Python: the list shrank */
            PyErr_SetString(PyExc_RuntimeError, "the entries changed while they were read");
            goto done;
        }
        PyObject *e = PyList_GET_ITEM(entries, pos[i]);
        if (Py_TYPE(e) != st->entry_type) {
            PyErr_Format(PyExc_TypeError, "an entry must be a LogEntry, not %s",
                         Py_TYPE(e)->tp_name);
            goto done;
        }
        Py_INCREF(e);  /* fill_lazy may run Python code */
        int ok = entry_ready(st, e) == 0;
        PyObject *t = ok ? SLOT(st, e, S_TS) : NULL;
        if (ok && (t == NULL || !PyFloat_CheckExact(t))) {
            PyErr_SetString(PyExc_TypeError, "an entry's instant must be a float");
            ok = 0;
        }
        if (ok)
            ts[i] = PyFloat_AS_DOUBLE(t);
        for (int c = 0; ok && c < N_TEXT; c++) {
            PyObject *v = SLOT(st, e, text_slots[c]);
            if (v == NULL) {
                PyErr_Format(PyExc_TypeError, "%s is not set", text_names[c]);
                ok = 0;
            }
            else if (text_column_put(&text[c], i, n, v, c >= 4, text_names[c]) < 0)
                ok = 0;
        }
        PyObject *tags = ok ? SLOT(st, e, S_TAGS) : NULL;
        if (ok && (tags == NULL || !PyList_Check(tags))) {
            PyErr_SetString(PyExc_TypeError, "an entry's tags must be a list");
            ok = 0;
        }
        for (Py_ssize_t j = 0; ok && j < PyList_GET_SIZE(tags); j++) {
            if (tag_count + 1 >= tag_cap) {
                if (tag_cap > INT32_MAX / 2) {
                    PyErr_SetString(PyExc_OverflowError,
                                    "too many values for one text list column");
                    ok = 0;
                    break;
                }
                int32_t *grown = PyMem_Realloc(toff, (size_t)tag_cap * 2 * sizeof(int32_t));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    ok = 0;
                    break;
                }
                toff = grown;
                tag_cap *= 2;
            }
            if (append_str(&tag_data, PyList_GET_ITEM(tags, j), "a str") < 0) {
                ok = 0;
                break;
            }
            toff[++tag_count] = (int32_t)tag_data.size;
        }
        if (ok) {
            tlo[i + 1] = (int32_t)tag_count;
            PyObject *m = SLOT(st, e, S_MESSAGE), *md = SLOT(st, e, S_METADATA);
            if (md == NULL) {
                PyErr_SetString(PyExc_TypeError, "an entry's metadata is not set");
                ok = 0;
            }
            else {
                Py_INCREF(m);
                PyList_SET_ITEM(messages, i, m);
                Py_INCREF(md);
                PyList_SET_ITEM(metadata, i, md);
            }
        }
        Py_DECREF(e);
        if (!ok)
            goto done;
    }
    tag_offsets = PyBytes_FromStringAndSize((const char *)toff,
                                            (tag_count + 1) * (Py_ssize_t)sizeof(int32_t));
    PyObject *tag_bytes = tag_offsets == NULL ? NULL
        : PyBytes_FromStringAndSize(tag_data.data ? tag_data.data : "", tag_data.size);
    if (tag_bytes == NULL)
        goto done;
    PyObject *tag_cols = PyTuple_Pack(3, tag_lists, tag_offsets, tag_bytes);
    Py_DECREF(tag_bytes);
    PyObject *texts = tag_cols == NULL ? NULL : PyTuple_New(N_TEXT);
    if (texts == NULL) {
        Py_XDECREF(tag_cols);
        goto done;
    }
    for (int c = 0; c < N_TEXT; c++) {
        PyObject *col = text_column_result(&text[c]);
        if (col == NULL) {
            Py_DECREF(texts);
            Py_DECREF(tag_cols);
            goto done;
        }
        PyTuple_SET_ITEM(texts, c, col);
    }
    result = PyTuple_Pack(5, instants, texts, tag_cols, messages, metadata);
    Py_DECREF(texts);
    Py_DECREF(tag_cols);
done:
    for (int c = 0; c < inited; c++)
        text_column_free(&text[c]);
    PyMem_Free(pos);
    PyMem_Free(toff);
    PyMem_Free(tag_data.data);
    Py_XDECREF(instants);
    Py_XDECREF(messages);
    Py_XDECREF(metadata);
    Py_XDECREF(tag_lists);
    Py_XDECREF(tag_offsets);
    return result;
}

/* json_array_buffers(data, n) -> (offsets, data, validity or None): the elements of the JSON
 * array ``data`` (one orjson.dumps of a list) as the buffers of an Arrow string array,
 * ``null`` as a null (python.json_array_buffers is the specification). */
PyObject *
py_json_array_buffers(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *data;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "O!n:json_array_buffers", &PyBytes_Type, &data, &n))
        return NULL;
    if (n < 0 || n >= INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "a count out of range");
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (len < 2 || s[0] != '[' || s[len - 1] != ']') {
        PyErr_SetString(PyExc_ValueError, "not a JSON array");
        return NULL;
    }
    if (len - 2 > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "text column over 2 GiB");
        return NULL;
    }
    TextColumn c;
    PyObject *result = NULL;
    if (text_column_init(&c, n) < 0)
        goto done;
    /* the elements' bytes are at most the array's: one allocation */
    c.b.cap = len > 2 ? len - 2 : 1;
    c.b.data = PyMem_Malloc((size_t)c.b.cap);
    if (c.b.data == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t count = 0, start = 1;
    int depth = 0, in_string = 0, escaped = 0;
    for (Py_ssize_t i = 1; i < len; i++) {
        unsigned char ch = s[i];
        int end = 0;
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (ch == '\\')
                escaped = 1;
            else if (ch == '"')
                in_string = 0;
            if (i == len - 1)  /* the closing ] inside a string: not an array */
                break;
            continue;
        }
        if (ch == '"')
            in_string = 1;
        else if (ch == '[' || ch == '{')
            depth++;
        else if ((ch == ']' || ch == '}') && i < len - 1) {  /* not the array's own ] */
            if (--depth < 0)
                break;
        }
        else if (ch == ',' && depth == 0)
            end = 1;
        if (i == len - 1)
            end = len > 2;  /* the closing ]: the last element, unless the array is empty */
        if (!end)
            continue;
        Py_ssize_t size = i - start;
        if (size == 0 || count >= n) {
            count = -1;
            break;
        }
        if (size == 4 && memcmp(s + start, "null", 4) == 0) {
            if (text_column_put(&c, count, n, Py_None, 1, "an element") < 0)
                goto done;
        }
        else {
            memcpy(c.b.data + c.b.size, s + start, (size_t)size);
            c.b.size += size;
            c.off[count + 1] = (int32_t)c.b.size;
        }
        count++;
        start = i + 1;
    }
    if (in_string || depth != 0 || count != n) {
        PyErr_Format(PyExc_ValueError, "a JSON array of other than %zd elements", n);
        goto done;
    }
    result = text_column_result(&c);
done:
    text_column_free(&c);
    return result;
}
