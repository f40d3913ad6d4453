/*
 * The word tokenizer and the postings of a batch: gather, and ingest_blocks (the JSON lines
 * kernel and gather in one pass over blocks of a file).
 *
 * The postings of one batch are collected in C: every term of a kind (levels, sources, tags,
 * words) gets a number, and every number a growing vector of uint32 ids. At the end each
 * vector becomes an array('I'), which pyroaring turns into a bitmap without a Python int per
 * id (BitMap(list) converts each int; about 250 instructions per id saved). */
#include "_native.h"

/* Postings are appended in arrival order to one array of (term number, id) pairs
 * (sequential writes), with the last id and the count of each term in small dense arrays;
 * registry_emit sorts them by term with a counting sort. A growing vector per term instead
 * spends its time in cache misses and reallocations (perf: 6% of file ingestion). */

void
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

/* Room for more (term number, id) pairs. */
int
registry_grow_pairs(Registry *r)
{
    Py_ssize_t cap = r->pairs_cap ? r->pairs_cap * 2 : 4096;
    if (grow((void **)&r->pairs, cap, 2 * sizeof(uint32_t)) < 0)
        return -1;
    r->pairs_cap = cap;
    return 0;
}

/* out[term] = array('I', ids) for every term of r: the pairs counting-sorted by term into
 * one array of all the ids, sliced per term (a slice is a memcpy; calling array() per term
 * costs five times more). Ids stay in posting order within a term. */
static int
registry_emit(Registry *r, PyObject *out, PyObject *array_type)
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

/* Tables (_native.h) from a 64-bit hash to a term number. For levels, sources and
 * tags the hash is the canonical object's address; for ASCII words an FNV-1a hash of the
 * case-folded bytes, confirmed by comparing them with the term. */

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


int
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
Py_ssize_t
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


/* value_term of the ASCII string s[:len] given as bytes: found without making a str; a
 * new term (once per batch) makes one. */
Py_ssize_t
ascii_term(Table *t, Registry *r, PyObject *canon, const unsigned char *s, Py_ssize_t len)
{
    uint64_t h = FNV_OFFSET;
    for (Py_ssize_t i = 0; i < len; i++)
        h = (h ^ s[i]) * FNV_PRIME;
    for (size_t j = h & t->mask; t->slots[j].tn >= 0; j = (j + 1) & t->mask)
        if (slot_is_ascii(&t->slots[j], h, s, len, r->terms))
            return t->slots[j].tn;
    PyObject *value = PyUnicode_New(len, 127), *out;
    if (value == NULL)
        return -1;
    memcpy(PyUnicode_DATA(value), s, (size_t)len);
    Py_ssize_t tn = value_term(t, r, canon, value, &out);
    Py_DECREF(value);
    return tn;
}

/* ASCII byte -> its lower-case form when it is a word character (\w: letters, digits, _),
 * else 0 (every byte above 0x7F: a non-ASCII message goes through words()). */
#define WL(c) ((unsigned char)(((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') ||  \
                               (c) == '_' ? (c) : ((c) >= 'A' && (c) <= 'Z') ? (c) + 32 : 0))
#define WL4(c) WL(c), WL((c) + 1), WL((c) + 2), WL((c) + 3)
#define WL16(c) WL4(c), WL4((c) + 4), WL4((c) + 8), WL4((c) + 12)
#define WL64(c) WL16(c), WL16((c) + 16), WL16((c) + 32), WL16((c) + 48)
static const unsigned char word_lower[256] = {WL64(0), WL64(64)};


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

/* What an ASCII piece of a message (no space) holds: ONE_WORD with its term number in *tn
 * (every byte a word character), NO_WORD (none), or SOME_WORDS; -1 on error. */
int
piece_words(Words *ws, const unsigned char *s, Py_ssize_t len, Py_ssize_t *tn)
{
    unsigned char folded[64];
    Py_ssize_t words = 0;
    uint64_t h = FNV_OFFSET;
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned char ch = word_lower[s[i]];
        if (ch) {
            words++;
            if (i < (Py_ssize_t)sizeof folded)
                folded[i] = ch;
            h = (h ^ ch) * FNV_PRIME;
        }
    }
    if (words == 0)
        return NO_WORD;
    if (words != len || len > (Py_ssize_t)sizeof folded)
        return SOME_WORDS;
    *tn = ascii_word(ws, folded, len, h);
    return *tn < 0 ? -1 : ONE_WORD;
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
int
post_message(Words *ws, PyObject *words_fn, PyObject *message, uint32_t id, unsigned char **buf,
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
    return post_ascii_words(ws, PyUnicode_DATA(message), PyUnicode_GET_LENGTH(message), id,
                            buf, buf_size);
}

/* Post the words of an ASCII text s[:len] (buf: scratch space for the case-folded bytes). */
int
post_ascii_words(Words *ws, const unsigned char *s, Py_ssize_t len, uint32_t id,
                 unsigned char **buf, Py_ssize_t *buf_size)
{
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

int
gatherer_init(Gatherer *g, const State *st, PyObject *canon)
{
    memset(g, 0, sizeof(*g));
    g->st = st;
    g->canon = canon;
    for (int k = 0; k < 3; k++)
        if (table_init(&g->tables[k], 64) < 0)
            return -1;
    if (table_init(&g->ws.table, 1024) < 0 || (g->ws.others = PyDict_New()) == NULL)
        return -1;
    return 0;
}

void
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

int
gatherer_emit(Gatherer *g, PyObject *levels, PyObject *sources, PyObject *tags, PyObject *words)
{
    PyObject *array_type = g->st->array_type;
    return (registry_emit(&g->regs[0], levels, array_type) < 0 ||
            registry_emit(&g->regs[1], sources, array_type) < 0 ||
            registry_emit(&g->regs[2], tags, array_type) < 0 ||
            registry_emit(&g->ws.reg, words, array_type) < 0)
               ? -1 : 0;
}

/* Post every term of entry e under id; toks: its words, or NULL to tokenize its message. */
int
gather_entry(Gatherer *g, PyObject *e, uint32_t id, PyObject *toks)
{
    const State *st = g->st;
    if (!PyObject_TypeCheck(e, st->entry_type)) {
        PyErr_Format(PyExc_TypeError, "expected a LogEntry, got %s", Py_TYPE(e)->tp_name);
        return -1;
    }
    if (entry_ready(st, e) < 0)
        return -1;
    PyObject *level = SLOT(st, e, S_LEVEL), *source = SLOT(st, e, S_SOURCE);
    PyObject *tags = SLOT(st, e, S_TAGS), *message = SLOT(st, e, S_MESSAGE);
    if (level == NULL || source == NULL || tags == NULL || message == NULL) {
        PyErr_SetString(PyExc_AttributeError, "LogEntry is not fully initialised");
        return -1;
    }
    untrack_if_acyclic(st, e);
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
        Py_SETREF(SLOT(st, e, S_SOURCE), c);
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
        return post_message(&g->ws, st->words_fn, message, id, &g->buf, &g->buf_size);
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

int
check_ids(Py_ssize_t first_id, Py_ssize_t n)
{
    if (first_id < 0 || first_id + n > (Py_ssize_t)UINT32_MAX + 1) {
        PyErr_SetString(PyExc_OverflowError, "entry ids must fit in 32 bits");
        return -1;
    }
    return 0;
}

PyObject *
py_gather(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *entries, *canon, *levels_out, *sources_out, *tags_out, *words_out, *tokens;
    Py_ssize_t first_id;
    if (!PyArg_ParseTuple(args, "O!nO!O!O!O!O!O:gather", &PyList_Type, &entries, &first_id,
                          &PyDict_Type, &canon, &PyDict_Type, &levels_out, &PyDict_Type,
                          &sources_out, &PyDict_Type, &tags_out, &PyDict_Type, &words_out,
                          &tokens))
        return NULL;
    if (check_configured(st) < 0)
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
    if (gatherer_init(&g, st, canon) < 0)
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

Py_ssize_t
blocks_size(PyObject *blocks, Py_ssize_t first_id, const char *kernel)
{
    Py_ssize_t total = 0;
    for (Py_ssize_t b = 0; b < PyList_GET_SIZE(blocks); b++) {
        PyObject *block = PyList_GET_ITEM(blocks, b);
        if (!PyBytes_CheckExact(block)) {
            PyErr_Format(PyExc_TypeError, "%s expects a list of bytes", kernel);
            return -1;
        }
        total += PyBytes_GET_SIZE(block);  /* at least one byte per line but the last */
    }
    return check_ids(first_id, total + 1) < 0 ? -1 : total;
}

int
add_bad_line(PyObject *bad, Py_ssize_t line_no, const unsigned char *p,
             const unsigned char *next)
{
    PyObject *raw = PyBytes_FromStringAndSize((const char *)p, next - p);
    PyObject *item = raw == NULL ? NULL : Py_BuildValue("(nN)", line_no, raw);
    int rc = item == NULL ? -1 : PyList_Append(bad, item);
    Py_XDECREF(item);
    return rc;
}

/* The entries of blocks of whole lines (the last block of a file may end without a newline),
 * split here, so a line that parses becomes an entry without ever being a bytes object.
 * Appends to entries the entries of the good lines (each gathered into g right after it is
 * built, while it is still in the CPU cache, when g is not NULL, with ids from first_id),
 * and to bad (index, line with its newline) of each line that did not parse but blank ones
 * (the Python reader re-reads those for the reason). Returns the number of lines, or -1. */
static Py_ssize_t
blocks_entries(State *st, PyObject *blocks, Gatherer *g, Py_ssize_t first_id,
               PyObject *entries, PyObject *bad)
{
    Py_ssize_t line_no = 0, good = 0;
    for (Py_ssize_t b = 0; b < PyList_GET_SIZE(blocks); b++) {
        PyObject *block = PyList_GET_ITEM(blocks, b);
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(block);
        const unsigned char *end = p + PyBytes_GET_SIZE(block), *stop, *next;
        while (next_line(&p, end, &stop, &next, &line_no)) {
            PyObject *entry = NULL;
            int r = direct_entry(st, p, stop - p, &entry);
            if (r < 0)
                return -1;
            if (r == 0) {  /* orjson's turn: the line as a bytes object (rare) */
                PyObject *line = PyBytes_FromStringAndSize((const char *)p, stop - p);
                if (line == NULL)
                    return -1;
                entry = line_entry(st, line);
                Py_DECREF(line);
                if (entry == NULL) {
                    if (PyErr_Occurred())
                        return -1;
                    if (add_bad_line(bad, line_no, p, next) < 0)
                        return -1;
                }
            }
            if (entry != NULL) {
                int rc = PyList_Append(entries, entry);
                Py_DECREF(entry);
                if (rc < 0 || (g != NULL &&
                               gather_entry(g, entry, (uint32_t)(first_id + good), NULL) < 0))
                    return -1;
                good++;
            }
            line_no++;
            p = next;
        }
    }
    return line_no;
}

/* entries_from_lines and gather in one pass over whole blocks of a file (two passes over a
 * batch would read every entry back from memory). Returns (entries, lines, bad) as
 * blocks_entries fills them. */
PyObject *
py_ingest_blocks(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *blocks, *canon, *levels_out, *sources_out, *tags_out, *words_out;
    Py_ssize_t first_id;
    if (!PyArg_ParseTuple(args, "O!nO!O!O!O!O!:ingest_blocks", &PyList_Type, &blocks,
                          &first_id, &PyDict_Type, &canon, &PyDict_Type, &levels_out,
                          &PyDict_Type, &sources_out, &PyDict_Type, &tags_out, &PyDict_Type,
                          &words_out))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    if (blocks_size(blocks, first_id, "ingest_blocks") < 0)
        return NULL;
    PyObject *entries = PyList_New(0), *bad = PyList_New(0);
    Gatherer g;
    int ready = 0;
    if (entries == NULL || bad == NULL)
        goto fail;
    ready = 1;  /* gatherer_init leaves g safe to free, even when it fails */
    if (gatherer_init(&g, st, canon) < 0)
        goto fail;
    Py_ssize_t lines = blocks_entries(st, blocks, &g, first_id, entries, bad);
    if (lines < 0 || gatherer_emit(&g, levels_out, sources_out, tags_out, words_out) < 0)
        goto fail;
    gatherer_free(&g);
    return Py_BuildValue("(NnN)", entries, lines, bad);
fail:
    if (ready)
        gatherer_free(&g);
    Py_XDECREF(entries);
    Py_XDECREF(bad);
    return NULL;
}

/* entries_from_lines over whole blocks of a file, split here: (entries, lines, bad) as
 * blocks_entries fills them, without gathering postings (the archive import's reader). */
PyObject *
py_entries_from_blocks(PyObject *module, PyObject *blocks)
{
    State *st = get_state(module);
    if (check_arg(st, blocks, &PyList_Type, "entries_from_blocks expects a list of bytes") < 0)
        return NULL;
    for (Py_ssize_t b = 0; b < PyList_GET_SIZE(blocks); b++) {
        if (!PyBytes_CheckExact(PyList_GET_ITEM(blocks, b))) {
            PyErr_SetString(PyExc_TypeError, "entries_from_blocks expects a list of bytes");
            return NULL;
        }
    }
    PyObject *entries = PyList_New(0), *bad = PyList_New(0);
    Py_ssize_t lines = -1;
    if (entries != NULL && bad != NULL)
        lines = blocks_entries(st, blocks, NULL, 0, entries, bad);
    if (lines < 0) {
        Py_XDECREF(entries);
        Py_XDECREF(bad);
        return NULL;
    }
    return Py_BuildValue("(NnN)", entries, lines, bad);
}
