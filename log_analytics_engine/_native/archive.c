/*
 * The archive's kernels: word_lists and word_lists_utf8, the buffers of a segment's words
 * column (the distinct words of each message as term numbers, from the word tokenizer of
 * postings.c); string_buffers, string_list_buffers, entry_columns and json_array_buffers,
 * the column buffers of entries; archive_columns, the bulk import's reader, from JSON lines
 * straight to column buffers without an entry per line (read_line of ingest.c).
 */
#include "_native.h"

ORDER_CMP(cmp_u32, uint32_t)

/* (terms, codes, offsets) of the words posted in ws for messages 0..n-1 (word_lists). */
static PyObject *
word_lists_result(Words *ws, Py_ssize_t n)
{
    PyObject *terms = NULL, *codes = NULL, *offsets = NULL, *result = NULL;
    Registry *r = &ws->reg;
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
    return result;
}

/* Where the messages of a word_lists call come from, and how message i is posted: a list
 * of str (word_lists) or an Arrow string array's buffers (word_lists_utf8). */
typedef struct {
    State *st;
    PyObject *messages;        /* word_lists */
    Py_buffer offsets, data;   /* word_lists_utf8 */
    Py_ssize_t start;
} Messages;

typedef int (*PostMessage)(Messages *m, Words *ws, Py_ssize_t i, unsigned char **buf,
                           Py_ssize_t *buf_size);

/* (terms, codes, offsets) of the n messages of m, each posted by post. */
static PyObject *
word_lists_of(Messages *m, Py_ssize_t n, PostMessage post)
{
    Words ws;
    memset(&ws, 0, sizeof(ws));
    unsigned char *buf = NULL;
    Py_ssize_t buf_size = 0;
    PyObject *result = NULL;
    if (table_init(&ws.table, 1024) < 0 || (ws.others = PyDict_New()) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++)
        if (post(m, &ws, i, &buf, &buf_size) < 0)
            goto done;
    result = word_lists_result(&ws, n);
done:
    registry_free(&ws.reg);
    PyMem_Free(ws.table.slots);
    Py_XDECREF(ws.others);
    PyMem_Free(buf);
    return result;
}

static int
post_listed(Messages *m, Words *ws, Py_ssize_t i, unsigned char **buf, Py_ssize_t *buf_size)
{
    PyObject *message = PyList_GET_ITEM(m->messages, i);
    if (!PyUnicode_Check(message)) {
        PyErr_Format(PyExc_TypeError, "a message must be a str, not %s",
                     Py_TYPE(message)->tp_name);
        return -1;
    }
    return post_message(ws, m->st->words_fn, message, (uint32_t)i, buf, buf_size);
}

/* word_lists(messages) -> (terms, codes, offsets): the distinct words of each message as
 * term numbers (int32, ascending: the order in which the batch first used its words), the
 * terms in that order, and offsets (int32, one more than the messages): the column buffers
 * of the archive's words list (pyarrow wraps them without a Python object per word). */
PyObject *
py_word_lists(PyObject *module, PyObject *args)
{
    Messages m = {get_state(module), NULL, {0}, {0}, 0};
    if (!PyArg_ParseTuple(args, "O!:word_lists", &PyList_Type, &m.messages))
        return NULL;
    if (check_configured(m.st) < 0 || check_ids(0, PyList_GET_SIZE(m.messages)) < 0)
        return NULL;
    return word_lists_of(&m, PyList_GET_SIZE(m.messages), post_listed);
}

/* Row start + i of the buffers: an ASCII message tokenized from its bytes, any other
 * decoded (strictly) for tokenize.words, as post_message does. */
static int
post_buffered(Messages *m, Words *ws, Py_ssize_t i, unsigned char **buf, Py_ssize_t *buf_size)
{
    int32_t a, b;
    const char *offsets = (const char *)m->offsets.buf + (m->start + i) * sizeof(int32_t);
    memcpy(&a, offsets, sizeof(int32_t));
    memcpy(&b, offsets + sizeof(int32_t), sizeof(int32_t));
    if (a < 0 || b < a || b > m->data.len) {
        PyErr_SetString(PyExc_ValueError, "an offset out of the data");
        return -1;
    }
    const unsigned char *s = (const unsigned char *)m->data.buf + a;
    Py_ssize_t len = b - a;
    unsigned char high = 0;
    for (Py_ssize_t j = 0; j < len; j++)
        high |= s[j];
    if (high < 0x80)
        return post_ascii_words(ws, s, len, (uint32_t)i, buf, buf_size);
    PyObject *text = PyUnicode_DecodeUTF8((const char *)s, len, "strict");
    if (text == NULL)
        return -1;
    int rc = post_message(ws, m->st->words_fn, text, (uint32_t)i, buf, buf_size);
    Py_DECREF(text);
    return rc;
}

/* word_lists_utf8(offsets, data, start, n) -> (terms, codes, offsets): word_lists of the n
 * messages from row ``start`` of an Arrow string array's buffers (int32 offsets and UTF-8
 * data, any objects with the buffer protocol), without a str per message
 * (python.word_lists_utf8 is the specification). */
PyObject *
py_word_lists_utf8(PyObject *module, PyObject *args)
{
    Messages m = {get_state(module), NULL, {0}, {0}, 0};
    PyObject *off_obj, *data_obj;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOnn:word_lists_utf8", &off_obj, &data_obj, &m.start, &n))
        return NULL;
    if (check_configured(m.st) < 0)
        return NULL;
    if (m.start < 0 || n < 0 || check_ids(0, n) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "a negative start or count");
        return NULL;
    }
    if (PyObject_GetBuffer(off_obj, &m.offsets, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(data_obj, &m.data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&m.offsets);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t rows = m.offsets.len / (Py_ssize_t)sizeof(int32_t) - 1;
    if (rows < m.start || rows - m.start < n)
        PyErr_SetString(PyExc_ValueError, "rows beyond the offsets");
    else
        result = word_lists_of(&m, n, post_buffered);
    PyBuffer_Release(&m.offsets);
    PyBuffer_Release(&m.data);
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

/* Append s[:len] to b. */
static int
bytes_append(Bytes *b, const char *s, Py_ssize_t len)
{
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
    memcpy(b->data + b->size, s, (size_t)len);
    b->size += len;
    return 0;
}

static int
append_utf8(Bytes *b, PyObject *s)
{
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &len);
    if (utf8 == NULL)
        return -1;
    return bytes_append(b, utf8, len);
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

/* Row i of n is a null (its offset is left to the caller). */
static int
text_column_null(TextColumn *c, Py_ssize_t i, Py_ssize_t n)
{
    if (c->valid == NULL) {
        c->valid = PyBytes_FromStringAndSize(NULL, (n + 7) / 8);
        if (c->valid == NULL)
            return -1;
        c->bits = (unsigned char *)PyBytes_AS_STRING(c->valid);
        memset(c->bits, 0xff, (size_t)((n + 7) / 8));
    }
    c->bits[i >> 3] &= (unsigned char)~(1u << (i & 7));
    return 0;
}

/* Row i: the UTF-8 s[:len] (0), or, with s NULL, a null of a column of n rows. */
static int
text_column_raw(TextColumn *c, Py_ssize_t i, Py_ssize_t n, const char *s, Py_ssize_t len)
{
    if (s == NULL ? text_column_null(c, i, n) < 0 : bytes_append(&c->b, s, len) < 0)
        return -1;
    c->off[i + 1] = (int32_t)c->b.size;
    return 0;
}

/* Row i of n: v (a str; None only when nullable); ``name`` the value in a TypeError. */
static int
text_column_put(TextColumn *c, Py_ssize_t i, Py_ssize_t n, PyObject *v, int nullable,
                const char *name)
{
    if (v == Py_None && nullable) {
        if (text_column_null(c, i, n) < 0)
            return -1;
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

/* One list<string> column being built (an entry's tags): the list offsets (int32, n + 1,
 * a bytes object), the items' offsets (grown as needed) and their UTF-8. */
typedef struct {
    PyObject *lists;
    int32_t *lo, *off;
    Py_ssize_t count, cap;
    Bytes b;
} TagColumn;

static int
tag_column_init(TagColumn *t, Py_ssize_t n)
{
    memset(t, 0, sizeof(*t));
    t->lists = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int32_t));
    t->cap = n + 1;
    t->off = PyMem_Malloc((size_t)t->cap * sizeof(int32_t));
    if (t->lists == NULL || t->off == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    t->lo = (int32_t *)PyBytes_AS_STRING(t->lists);
    t->lo[0] = 0;
    t->off[0] = 0;
    return 0;
}

/* Append the item s[:len] to the row being built. */
static int
tag_column_item(TagColumn *t, const char *s, Py_ssize_t len)
{
    if (t->count + 1 >= t->cap) {
        if (t->cap > INT32_MAX / 2) {
            PyErr_SetString(PyExc_OverflowError, "too many values for one text list column");
            return -1;
        }
        int32_t *grown = PyMem_Realloc(t->off, (size_t)t->cap * 2 * sizeof(int32_t));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        t->off = grown;
        t->cap *= 2;
    }
    if (bytes_append(&t->b, s, len) < 0)
        return -1;
    t->off[++t->count] = (int32_t)t->b.size;
    return 0;
}

/* Row i ends after the items appended so far. */
static void
tag_column_end_row(TagColumn *t, Py_ssize_t i)
{
    t->lo[i + 1] = (int32_t)t->count;
}

/* Row i: the items of ``tags``, which must be a list of str (TypeError otherwise). */
static int
tag_column_list(TagColumn *t, Py_ssize_t i, PyObject *tags)
{
    if (tags == NULL || !PyList_Check(tags)) {
        PyErr_SetString(PyExc_TypeError, "an entry's tags must be a list");
        return -1;
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(tags); j++) {
        PyObject *tag = PyList_GET_ITEM(tags, j);
        Py_ssize_t len;
        const char *s = PyUnicode_Check(tag) ? PyUnicode_AsUTF8AndSize(tag, &len) : NULL;
        if (s == NULL) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "a tag must be a str, not %s",
                             Py_TYPE(tag)->tp_name);
            return -1;
        }
        if (tag_column_item(t, s, len) < 0)
            return -1;
    }
    tag_column_end_row(t, i);
    return 0;
}

/* (list offsets, offsets, data), as string_list_buffers returns them. */
static PyObject *
tag_column_result(TagColumn *t)
{
    PyObject *offsets = PyBytes_FromStringAndSize((const char *)t->off,
                                                  (t->count + 1) * (Py_ssize_t)sizeof(int32_t));
    PyObject *data = offsets == NULL ? NULL
        : PyBytes_FromStringAndSize(t->b.data ? t->b.data : "", t->b.size);
    PyObject *result = data == NULL ? NULL : PyTuple_Pack(3, t->lists, offsets, data);
    Py_XDECREF(offsets);
    Py_XDECREF(data);
    return result;
}

static void
tag_column_free(TagColumn *t)
{
    Py_XDECREF(t->lists);
    PyMem_Free(t->off);
    PyMem_Free(t->b.data);
}

/* A tuple of text_column_result of each of the count columns. */
static PyObject *
text_columns_tuple(TextColumn *cols, int count)
{
    PyObject *texts = PyTuple_New(count);
    for (int c = 0; texts != NULL && c < count; c++) {
        PyObject *col = text_column_result(&cols[c]);
        if (col == NULL)
            Py_CLEAR(texts);
        else
            PyTuple_SET_ITEM(texts, c, col);
    }
    return texts;
}

#define N_TEXT 7
static const int text_slots[N_TEXT] = {S_TIMESTAMP, S_LEVEL, S_SOURCE, S_MESSAGE,
                                       S_THREAD_ID, S_REQUEST_ID, S_USER_ID};
static const char *const text_names[N_TEXT] = {
    "an entry's timestamp", "an entry's level", "an entry's source", "an entry's message",
    "an entry's thread_id", "an entry's request_id", "an entry's user_id"};

/* Row i (of n) of the text columns of the slots text_slots[first:] of an exact, ready
 * LogEntry (cols[0] for text_slots[first]): str, or None from thread_id on. */
static int
entry_texts(const State *st, PyObject *e, TextColumn *cols, int first, Py_ssize_t i,
            Py_ssize_t n)
{
    for (int c = first; c < N_TEXT; c++) {
        PyObject *v = SLOT(st, e, text_slots[c]);
        if (v == NULL) {
            PyErr_Format(PyExc_TypeError, "%s is not set", text_names[c]);
            return -1;
        }
        if (text_column_put(&cols[c - first], i, n, v, c >= 4, text_names[c]) < 0)
            return -1;
    }
    return 0;
}

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
    TagColumn tags;
    int inited = 0, tags_ready = 0;
    PyObject *instants = NULL, *messages = NULL, *metadata = NULL, *result = NULL;
    for (; inited < N_TEXT; inited++)
        if (text_column_init(&text[inited], n) < 0)
            goto done;
    tags_ready = 1;  /* tag_column_init leaves it safe to free, even when it fails */
    if (tag_column_init(&tags, n) < 0)
        goto done;
    instants = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    messages = PyList_New(n);
    metadata = PyList_New(n);
    if (instants == NULL || messages == NULL || metadata == NULL)
        goto done;
    double *ts = (double *)PyBytes_AS_STRING(instants);
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
        ok = ok && entry_texts(st, e, text, 0, i, n) == 0 &&
             tag_column_list(&tags, i, SLOT(st, e, S_TAGS)) == 0;
        if (ok) {
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
    PyObject *tag_cols = tag_column_result(&tags);
    PyObject *texts = tag_cols == NULL ? NULL : text_columns_tuple(text, N_TEXT);
    if (texts != NULL)
        result = PyTuple_Pack(5, instants, texts, tag_cols, messages, metadata);
    Py_XDECREF(texts);
    Py_XDECREF(tag_cols);
done:
    for (int c = 0; c < inited; c++)
        text_column_free(&text[c]);
    if (tags_ready)
        tag_column_free(&tags);
    PyMem_Free(pos);
    Py_XDECREF(instants);
    Py_XDECREF(messages);
    Py_XDECREF(metadata);
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

/* ------------------------------------------------------------ archive_columns ------- */

/* The text columns of archive_columns, in the order it returns them. */
enum { C_TIMESTAMP, C_TIMESTAMP_JSON, C_LEVEL, C_SOURCE, C_MESSAGE, C_THREAD, C_REQUEST,
       C_USER, C_METADATA, N_COLS };

#define NUM_KEYS 64  /* metadata fields tracked per call; more hands the blocks back */

/* A metadata field with a plain name (a letter or _, then letters, digits, _): per row, 1
 * when its value is a float (then in value), 2 when an int, else 0. */
typedef struct {
    char *name;
    Py_ssize_t len;
    unsigned char *kind;
    double *value;
} NumField;

typedef struct {
    State *st;
    PyObject *dumps;                /* value -> JSON bytes (the archive's codec) */
    Py_ssize_t cap, n;              /* rows allocated (a bound: the lines), rows written */
    PyObject *instants;             /* bytes: cap doubles */
    double *ts;
    TextColumn text[N_COLS];
    int inited;
    TagColumn tags;
    int tags_ready;
    NumField fields[NUM_KEYS];
    int nfields, overflow;
    int recent[MAX_META];           /* the field the item at each position last matched */
} Columns;

/* Whether s[:n] is a plain name (archive_format._PLAIN_KEY), in ASCII whatever the locale. */
static int
plain_name(const char *s, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        char c = s[k];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
              (k > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return n > 0;
}

/* The tracked field named s[:n] (plain), added at its first sight; NULL past NUM_KEYS
 * (overflow set) or with an exception. */
static NumField *
num_field(Columns *k, int item, const char *s, Py_ssize_t n)
{
    if (item >= 0 && item < MAX_META && k->recent[item] < k->nfields) {
        NumField *f = &k->fields[k->recent[item]];
        if (f->len == n && memcmp(f->name, s, (size_t)n) == 0)
            return f;
    }
    for (int j = 0; j < k->nfields; j++) {
        NumField *f = &k->fields[j];
        if (f->len == n && memcmp(f->name, s, (size_t)n) == 0) {
            if (item >= 0 && item < MAX_META)
                k->recent[item] = j;
            return f;
        }
    }
    if (k->nfields == NUM_KEYS) {
        k->overflow = 1;
        return NULL;
    }
    NumField *f = &k->fields[k->nfields];
    f->name = PyMem_Malloc((size_t)(n ? n : 1));
    f->kind = PyMem_Calloc((size_t)k->cap, 1);
    f->value = PyMem_Calloc((size_t)k->cap, sizeof(double));
    if (f->name == NULL || f->kind == NULL || f->value == NULL) {
        PyMem_Free(f->name);
        PyMem_Free(f->kind);
        PyMem_Free(f->value);
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(f->name, s, (size_t)n);
    f->len = n;
    if (item >= 0 && item < MAX_META)
        k->recent[item] = k->nfields;
    k->nfields++;
    return f;
}

/* Note the value of a plain field in row i: kind 1 (a float, x) or 2 (an int). */
static int
note_number(Columns *k, int item, const char *name, Py_ssize_t len, int kind, double x)
{
    if (!plain_name(name, len))
        return 0;
    NumField *f = num_field(k, item, name, len);
    if (f == NULL)
        return k->overflow ? 0 : -1;
    f->kind[k->n] = (unsigned char)kind;
    if (kind == 1)
        f->value[k->n] = x;
    return 0;
}

/* Whether a float token is exactly the text orjson writes for its value: no exponent, at
 * most 15 significant digits (so that it is the shortest text that reads back as the same
 * double), no trailing zero after the point but a lone one, and, below 1, at least 1e-4
 * (orjson, as repr, writes smaller numbers with an exponent). */
static int
canonical_float(const unsigned char *s, Py_ssize_t n)
{
    const unsigned char *p = s, *end = s + n;
    if (p < end && *p == '-')
        p++;
    const unsigned char *int_start = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    Py_ssize_t int_digits = p - int_start;
    if (int_digits == 0 || p == end || *p != '.')
        return 0;
    const unsigned char *frac = ++p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    Py_ssize_t frac_digits = p - frac;
    if (p != end || frac_digits == 0)
        return 0;
    int zero_int = int_digits == 1 && *int_start == '0';
    if (frac_digits == 1 && frac[0] == '0')  /* x.0: an integer value */
        return int_digits <= 15;
    if (frac[frac_digits - 1] == '0')
        return 0;
    if (!zero_int)
        return int_digits + frac_digits <= 15;
    Py_ssize_t zeros = 0;
    while (zeros < frac_digits && frac[zeros] == '0')
        zeros++;
    return zeros <= 3 && frac_digits - zeros <= 15;
}

/* Whether repr(x), which orjson writes the same, is positional (no exponent). */
static int
positional_float(double x)
{
    double a = fabs(x);
    return a == 0.0 || (a >= 1e-4 && a < 1e15);
}

/* Append the JSON text of the metadata items of a line of the common shape. */
static int
put_json_items(Bytes *b, const Line *ln)
{
    char num[32];
    if (bytes_append(b, "{", 1) < 0)
        return -1;
    for (int j = 0; j < ln->nmeta; j++) {
        const Item *it = &ln->meta[j];
        if ((j && bytes_append(b, ",", 1) < 0) || bytes_append(b, "\"", 1) < 0 ||
            bytes_append(b, (const char *)it->key.s, it->key.n) < 0 ||
            bytes_append(b, "\":", 2) < 0)
            return -1;
        int rc;
        switch (it->kind) {
        case 0:
            rc = bytes_append(b, "null", 4);
            break;
        case 1:
            rc = bytes_append(b, "false", 5);
            break;
        case 2:
            rc = bytes_append(b, "true", 4);
            break;
        case 3:
            rc = bytes_append(b, num, snprintf(num, sizeof num, "%lld", it->num.iv));
            break;
        case 4:
            if (canonical_float(it->tok.s, it->tok.n)) {
                rc = bytes_append(b, (const char *)it->tok.s, it->tok.n);
            }
            else {
                char *text = PyOS_double_to_string(it->num.dv, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
                if (text == NULL)
                    return -1;
                rc = bytes_append(b, text, (Py_ssize_t)strlen(text));
                PyMem_Free(text);
            }
            break;
        default:
            rc = bytes_append(b, "\"", 1) < 0 ||
                 bytes_append(b, (const char *)it->str.s, it->str.n) < 0 ||
                 bytes_append(b, "\"", 1) < 0 ? -1 : 0;
        }
        if (rc < 0)
            return -1;
    }
    return bytes_append(b, "}", 1);
}

/* The row of a line of the common shape (read_line's spans). 1, 0 when a float of its
 * metadata has no positional text (the entry path takes the line; nothing written), -1. */
static int
put_line(Columns *k, const Line *ln)
{
    for (int j = 0; j < ln->nmeta; j++)
        if (ln->meta[j].kind == 4 && !canonical_float(ln->meta[j].tok.s, ln->meta[j].tok.n) &&
            !positional_float(ln->meta[j].num.dv))
            return 0;
    Py_ssize_t i = k->n, cap = k->cap;
    TextColumn *t = k->text;
    Py_ssize_t level_len;
    const char *level = PyUnicode_AsUTF8AndSize(ln->level, &level_len);
    if (level == NULL)
        return -1;
    k->ts[i] = ln->instant;
    const char *message = ln->message.s != NULL ? (const char *)ln->message.s : "";
    const char *source = ln->has_source ? (const char *)ln->source.s : "";
    if (text_column_raw(&t[C_TIMESTAMP], i, cap, (const char *)ln->ts.s, ln->ts.n) < 0 ||
        text_column_raw(&t[C_TIMESTAMP_JSON], i, cap, NULL, 0) < 0 ||
        text_column_raw(&t[C_LEVEL], i, cap, level, level_len) < 0 ||
        text_column_raw(&t[C_SOURCE], i, cap, source, ln->has_source ? ln->source.n : 0) < 0 ||
        text_column_raw(&t[C_MESSAGE], i, cap, message, ln->message.n) < 0)
        return -1;
    for (int j = 0; j < 3; j++)
        if (text_column_raw(&t[C_THREAD + j], i, cap,
                            ln->has_id[j] ? (const char *)ln->ids[j].s : NULL,
                            ln->ids[j].n) < 0)
            return -1;
    for (int j = 0; j < ln->ntags; j++)
        if (tag_column_item(&k->tags, (const char *)ln->tags[j].s, ln->tags[j].n) < 0)
            return -1;
    tag_column_end_row(&k->tags, i);
    TextColumn *md = &t[C_METADATA];
    if (ln->nmeta == 0) {
        if (text_column_raw(md, i, cap, NULL, 0) < 0)
            return -1;
    }
    else {
        if (put_json_items(&md->b, ln) < 0)
            return -1;
        md->off[i + 1] = (int32_t)md->b.size;
    }
    for (int j = 0; j < ln->nmeta; j++) {
        const Item *it = &ln->meta[j];
        if ((it->kind == 3 || it->kind == 4) &&
            note_number(k, j, (const char *)it->key.s, it->key.n, it->kind == 4 ? 1 : 2,
                        it->num.dv) < 0)
            return -1;
    }
    return 1;
}

/* Row i as the JSON text of v from the dumps callable (bytes). */
static int
put_dumped(Columns *k, TextColumn *c, PyObject *v)
{
    PyObject *raw = PyObject_CallOneArg(k->dumps, v);
    if (raw == NULL)
        return -1;
    int rc = -1;
    if (!PyBytes_Check(raw))
        PyErr_SetString(PyExc_TypeError, "dumps must return bytes");
    else
        rc = text_column_raw(c, k->n, k->cap, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    Py_DECREF(raw);
    return rc;
}

/* The row of an entry the entry path built (an exact LogEntry): as entry_columns reads its
 * slots, with a timestamp given as a number written as JSON, the metadata as its dumps. A
 * value the columns do not take raises TypeError (the caller hands the blocks back). */
static int
put_entry(Columns *k, PyObject *e)
{
    State *st = k->st;
    Py_ssize_t i = k->n, cap = k->cap;
    TextColumn *t = k->text;
    if (Py_TYPE(e) != st->entry_type || entry_ready(st, e) != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "an entry must be a LogEntry");
        return -1;
    }
    PyObject *instant = SLOT(st, e, S_TS), *stamp = SLOT(st, e, S_TIMESTAMP);
    if (instant == NULL || !PyFloat_CheckExact(instant) || stamp == NULL) {
        PyErr_SetString(PyExc_TypeError, "an entry's instant must be a float");
        return -1;
    }
    k->ts[i] = PyFloat_AS_DOUBLE(instant);
    if (PyUnicode_Check(stamp)) {
        if (text_column_put(&t[C_TIMESTAMP], i, cap, stamp, 0, "a timestamp") < 0 ||
            text_column_raw(&t[C_TIMESTAMP_JSON], i, cap, NULL, 0) < 0)
            return -1;
    }
    else if (PyLong_Check(stamp) || PyFloat_Check(stamp)) {
        if (text_column_raw(&t[C_TIMESTAMP], i, cap, NULL, 0) < 0 ||
            put_dumped(k, &t[C_TIMESTAMP_JSON], stamp) < 0)
            return -1;
    }
    else {
        PyErr_SetString(PyExc_TypeError, "a timestamp of another kind");
        return -1;
    }
    PyObject *md = SLOT(st, e, S_METADATA);
    if (entry_texts(st, e, &t[C_LEVEL], 1, i, cap) < 0 ||
        tag_column_list(&k->tags, i, SLOT(st, e, S_TAGS)) < 0)
        return -1;
    if (md == NULL) {
        PyErr_SetString(PyExc_TypeError, "an entry's metadata is not set");
        return -1;
    }
    if (md == Py_None || (PyDict_Check(md) && PyDict_GET_SIZE(md) == 0))
        return text_column_raw(&t[C_METADATA], i, cap, NULL, 0);
    if (!PyDict_Check(md)) {
        PyErr_SetString(PyExc_TypeError, "an entry's metadata must be a dict");
        return -1;
    }
    if (put_dumped(k, &t[C_METADATA], md) < 0)
        return -1;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    int item = 0;
    while (PyDict_Next(md, &pos, &key, &value)) {
        int kind = PyFloat_CheckExact(value) ? 1 : PyLong_CheckExact(value) ? 2 : 0;
        if (kind && PyUnicode_Check(key)) {
            Py_ssize_t len;
            const char *name = PyUnicode_AsUTF8AndSize(key, &len);
            if (name == NULL) {  /* a lone surrogate: not a plain name */
                PyErr_Clear();
            }
            else if (note_number(k, item, name, len, kind,
                                 kind == 1 ? PyFloat_AS_DOUBLE(value) : 0.0) < 0) {
                return -1;
            }
        }
        item++;
    }
    return 0;
}

static void
columns_free(Columns *k)
{
    for (int c = 0; c < k->inited; c++)
        text_column_free(&k->text[c]);
    Py_XDECREF(k->instants);
    if (k->tags_ready)
        tag_column_free(&k->tags);
    for (int j = 0; j < k->nfields; j++) {
        PyMem_Free(k->fields[j].name);
        PyMem_Free(k->fields[j].kind);
        PyMem_Free(k->fields[j].value);
    }
}

/* (instants, texts, tags, fields) of the rows written (see py_archive_columns). */
static PyObject *
columns_result(Columns *k)
{
    PyObject *texts = text_columns_tuple(k->text, N_COLS), *fields = PyList_New(0);
    PyObject *tags = tag_column_result(&k->tags), *result = NULL;
    if (texts == NULL || fields == NULL || tags == NULL)
        goto done;
    for (int j = 0; j < k->nfields; j++) {
        NumField *f = &k->fields[j];
        PyObject *item = Py_BuildValue(
            "(s#y#y#)", f->name, f->len, (const char *)f->kind, k->n,
            (const char *)f->value, k->n * (Py_ssize_t)sizeof(double));
        if (item == NULL || PyList_Append(fields, item) < 0) {
            Py_XDECREF(item);
            goto done;
        }
        Py_DECREF(item);
    }
    result = PyTuple_Pack(4, k->instants, texts, tags, fields);
done:
    Py_XDECREF(texts);
    Py_XDECREF(fields);
    Py_XDECREF(tags);
    return result;
}

/* archive_columns(blocks, dumps) -> (rows, lines, bad, columns) | None: the archive's
 * columns of the entries of blocks of whole lines (entries_from_blocks' blocks), in file
 * order, without a LogEntry for a line of the common shape: read_line's spans are copied
 * into the columns' buffers and the metadata's JSON written here (for a float, its token
 * when that is the text orjson writes, else repr, which orjson writes the same in the
 * positional range; a line with another float takes the entry path). Any other line is
 * built by the entry path and read as entry_columns reads it, its metadata (and a timestamp
 * given as a number) turned into JSON by dumps. bad holds (index, line) of the lines that
 * did not parse, as entries_from_blocks. columns is (instants, texts, tags, fields): texts
 * the (offsets, data, validity or None) of timestamp, timestamp_json, level, source,
 * message, thread_id, request_id, user_id and metadata; tags (list offsets, offsets, data);
 * fields a list of (name, kinds, values) for each metadata field with a plain name that
 * holds a number, kinds one byte per row (1 float, 2 int, 0 other or missing), values the
 * floats (float64 per row). The buffers may be longer than the rows. None: more than
 * NUM_KEYS such fields (the caller takes the entry path). python.archive_columns is the
 * specification. */
PyObject *
py_archive_columns(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *blocks, *dumps;
    if (!PyArg_ParseTuple(args, "O!O:archive_columns", &PyList_Type, &blocks, &dumps))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    if (blocks_size(blocks, 0, "archive_columns") < 0)
        return NULL;
    Py_ssize_t nblocks = PyList_GET_SIZE(blocks), cap = 0;
    for (Py_ssize_t b = 0; b < nblocks; b++) {
        PyObject *block = PyList_GET_ITEM(blocks, b);
        const char *p = PyBytes_AS_STRING(block), *end = p + PyBytes_GET_SIZE(block);
        for (cap++; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
            cap++;
    }
    if (cap >= INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many lines for one batch");
        return NULL;
    }
    Columns k;
    memset(&k, 0, sizeof k);
    k.st = st;
    k.dumps = dumps;
    k.cap = cap;
    PyObject *bad = PyList_New(0), *result = NULL, *columns = NULL;
    if (bad == NULL)
        goto done;
    for (; k.inited < N_COLS; k.inited++)
        if (text_column_init(&k.text[k.inited], cap) < 0)
            goto done;
    k.tags_ready = 1;  /* tag_column_init leaves it safe to free, even when it fails */
    if (tag_column_init(&k.tags, cap) < 0)
        goto done;
    k.instants = PyBytes_FromStringAndSize(NULL, (cap ? cap : 1) * (Py_ssize_t)sizeof(double));
    if (k.instants == NULL)
        goto done;
    k.ts = (double *)PyBytes_AS_STRING(k.instants);
    Py_ssize_t line_no = 0;
    for (Py_ssize_t b = 0; b < nblocks; b++) {
        PyObject *block = PyList_GET_ITEM(blocks, b);
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(block);
        const unsigned char *end = p + PyBytes_GET_SIZE(block), *stop, *next;
        while (next_line(&p, end, &stop, &next, &line_no)) {
            Line ln;
            memset(&ln, 0, sizeof ln);
            int r = read_line(st, p, stop - p, &ln);
            if (r > 0)
                r = put_line(&k, &ln);
            Py_XDECREF(ln.level);
            Py_XDECREF(ln.text);
            if (r < 0)
                goto done;
            if (r == 0) {  /* the entry path */
                PyObject *entry = NULL;
                r = entry_line(st, p, stop, &entry);
                if (r < 0)
                    goto done;
                if (r == 0 && add_bad_line(bad, line_no, p, next) < 0)
                    goto done;
                if (r > 0) {
                    int rc = put_entry(&k, entry);
                    Py_DECREF(entry);
                    if (rc < 0)
                        goto done;
                }
            }
            if (k.overflow) {
                result = Py_NewRef(Py_None);
                goto done;
            }
            k.n += r > 0;
            line_no++;
            p = next;
        }
    }
    columns = columns_result(&k);
    if (columns != NULL)
        result = Py_BuildValue("(nnOO)", k.n, line_no, bad, columns);
done:
    columns_free(&k);
    Py_XDECREF(bad);
    Py_XDECREF(columns);
    return result;
}
