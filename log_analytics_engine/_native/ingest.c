/*
 * ingest_records: JSON lines written straight into records and postings, without a LogEntry
 * per line.
 *
 * A line of the direct parser's common shape (parse.c), with every string plain ASCII (no
 * escape, no byte above 0x7F; the message may be plain UTF-8 that decodes strictly, its words
 * then found by tokenize.words), at most MAX_TAGS tags and MAX_META metadata items with
 * distinct keys, is read in two steps: first into spans of the line (nothing written, so a
 * line that turns out not to fit leaves no trace), then written: its record, byte for byte
 * what encode_records writes for the entry the line parses to (the same table admissions in
 * the same order), and its postings, what gather posts for that entry. Any other line is
 * parsed into an entry as ingest_blocks does (direct_entry, else orjson), then encoded with
 * put_record (an entry the records cannot hold stays an object: the chunk's kept dict).
 *
 * The records are cut into chunks of 2**bits ids, numbered from first_id, as EntryChunks
 * seals them: the Python side adopts a chunk whole when it is complete and lines up with the
 * store, and builds the entries of any other chunk to append them as objects. So that a batch
 * ends on a chunk boundary, the kernel stops at a boundary when the bytes left probably do not
 * fill another chunk, and hands them back (rest) for the next batch; final consumes all.
 *
 * The specification: decoding the chunks gives the entries ingest_blocks builds; the bytes
 * are those of encode_records over those entries; the postings those of ingest_blocks (the
 * differential tests compare all three).
 */
#include "_native.h"

/* A plain ASCII string token into *span: 1, or 0 (*bail set) for anything else. */
static inline int
ascii_span(Cursor *c, Span *span, int *bail)
{
    int form;
    if (!at(c, '"') || !scan_string(c, &span->s, &span->n, &form) || form != PLAIN_ASCII) {
        *bail = 1;
        return 0;
    }
    return 1;
}

static int
read_tags(Cursor *c, Line *ln, int *bail)
{
    if (!container_opens(c, '[', bail))
        return !*bail;
    FOR_EACH_ITEM(c, ']', bail, {
        if (ln->ntags == MAX_TAGS) {
            *bail = 1;
            break;
        }
        if (!ascii_span(c, &ln->tags[ln->ntags], bail))
            break;
        ln->ntags++;
    });
    return !*bail;
}

/* A metadata value: the scalars of scalar_value; 1, 0 (*bail) or -1 (an error). */
static int
read_scalar(Cursor *c, Item *it, int *bail)
{
    if (c->p >= c->end) {
        *bail = 1;
        return 0;
    }
    switch (*c->p) {
    case '"':
        it->kind = 5;
        return ascii_span(c, &it->str, bail);
    case 't':
        it->kind = 2;
        if (literal(c, "true", 4))
            return 1;
        break;
    case 'f':
        it->kind = 1;
        if (literal(c, "false", 5))
            return 1;
        break;
    case 'n':
        it->kind = 0;
        if (literal(c, "null", 4))
            return 1;
        break;
    default: {
        it->tok.s = c->p;
        int r = number_token(c, &it->num, bail);
        it->tok.n = c->p - it->tok.s;
        it->kind = it->num.is_int ? 3 : 4;
        return r;
    }
    }
    *bail = 1;
    return 0;
}

static int
read_metadata(Cursor *c, Line *ln, int *bail)
{
    if (!container_opens(c, '{', bail))
        return !*bail;
    int rc = 1;
    FOR_EACH_ITEM(c, '}', bail, {
        if (ln->nmeta == MAX_META) {
            *bail = 1;
            break;
        }
        Item *it = &ln->meta[ln->nmeta];
        if (!ascii_span(c, &it->key, bail))
            break;
        for (int k = 0; k < ln->nmeta; k++) {  /* a repeated key: the dict path decides */
            if (ln->meta[k].key.n == it->key.n &&
                memcmp(ln->meta[k].key.s, it->key.s, (size_t)it->key.n) == 0) {
                *bail = 1;
                break;
            }
        }
        if (*bail)
            break;
        if (!member_colon(c)) {
            *bail = 1;
            break;
        }
        if ((rc = read_scalar(c, it, bail)) <= 0)
            break;
        ln->nmeta++;
    });
    return rc < 0 ? -1 : !*bail;
}

/* Step one: 1 with the line in *ln, 0 for a line for the entry path, -1 for an error. */
int
read_line(State *st, const unsigned char *line, Py_ssize_t n, Line *ln)
{
    Cursor cur = {line, line + n, st}, *c = &cur;
    int bail = 0, seen = 0, rc = 1;
    skip_ws(c);
    if (!at(c, '{'))
        return 0;
    FOR_EACH_ITEM(c, '}', &bail, {
        Span key;
        if (!ascii_span(c, &key, &bail))
            break;
        int k = entry_member(c, key.s, key.n, &seen);
        if (k < 0) {
            bail = 1;
            break;
        }
        switch (k) {
        case S_TIMESTAMP:
            if (ascii_span(c, &ln->ts, &bail) && !parse_iso(ln->ts.s, ln->ts.n, &ln->instant))
                bail = 1;
            break;
        case S_LEVEL:
            ln->level = field_readers[S_LEVEL](c, &bail);
            if (ln->level == NULL)
                rc = bail ? 1 : -1;
            break;
        case S_MESSAGE: {  /* plain ASCII, or plain UTF-8 that decodes strictly */
            int form;
            if (!at(c, '"') || !scan_string(c, &ln->message.s, &ln->message.n, &form) ||
                form == ESCAPED) {
                bail = 1;
                break;
            }
            if (form == PLAIN_UTF8) {
                ln->text = PyUnicode_DecodeUTF8((const char *)ln->message.s, ln->message.n,
                                                "strict");
                if (ln->text == NULL) {
                    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                        rc = -1;
                    else
                        PyErr_Clear();
                    bail = 1;  /* not UTF-8: the entry path rejects the line */
                }
            }
            break;
        }
        case S_SOURCE:
            ln->has_source = !literal(c, "null", 4);
            if (ln->has_source)
                ascii_span(c, &ln->source, &bail);
            break;
        case S_THREAD_ID:
        case S_REQUEST_ID:
        case S_USER_ID:
            ln->has_id[k - S_THREAD_ID] = !literal(c, "null", 4);
            if (ln->has_id[k - S_THREAD_ID])
                ascii_span(c, &ln->ids[k - S_THREAD_ID], &bail);
            break;
        case S_TAGS:
            read_tags(c, ln, &bail);
            break;
        case S_METADATA:
            if (read_metadata(c, ln, &bail) < 0)
                rc = -1;
            break;
        }
        if (rc < 0)
            break;
    });
    if (rc < 0)
        return -1;
    skip_ws(c);
    if (bail || c->p != c->end || !(seen & (1 << S_TIMESTAMP)))
        return 0;
    if (ln->level == NULL) {
        ln->level = st->str_info;
        Py_INCREF(ln->level);
    }
    return level_code(st, ln->level) >= 0;  /* else put_record decides (UNFIT) */
}

/* The words of each words-table item met in this call, by code: 0 not met yet, 1 some
 * words (tokenized each time), 2 none, else 3 + the term number of the one word it is. A
 * piece found in the table is then posted without being tokenized and looked up again. */
typedef struct {
    int32_t *words;
    Py_ssize_t cap;
} PieceCache;

/* Post the words of one message piece s[:n] whose record starts at o->p[mark]. */
static int
post_piece(Gatherer *g, PieceCache *pc, const Out *o, Py_ssize_t mark, const char *s,
           Py_ssize_t n, uint32_t id)
{
    const unsigned char *p = o->p + mark;
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {  /* the varint just written */
        v |= (uint64_t)(*p & 0x7F) << shift;
        if (!(*p++ & 0x80))
            break;
    }
    int32_t *known = (v & 1) && (v >> 1) < (uint64_t)pc->cap ? &pc->words[v >> 1] : NULL;
    if (known == NULL || *known == 0) {
        Py_ssize_t tn = 0;
        int kind = piece_words(&g->ws, (const unsigned char *)s, n, &tn);
        if (kind < 0)
            return -1;
        int32_t what = kind == ONE_WORD ? (int32_t)(3 + tn) : kind == NO_WORD ? 2 : 1;
        if (known != NULL)
            *known = what;
        if (kind == ONE_WORD)
            return registry_post(&g->ws.reg, tn, id);
        if (kind == NO_WORD)
            return 0;
    } else if (*known >= 3) {
        return registry_post(&g->ws.reg, *known - 3, id);
    } else if (*known == 2) {
        return 0;
    }
    return post_ascii_words(&g->ws, (const unsigned char *)s, n, id, &g->buf, &g->buf_size);
}

/* Step two: the record of *ln (put_record's layout) and its postings under id. */
static int
write_line(State *st, const Line *ln, Out *o, StrTable *tables, Gatherer *g, PieceCache *pc,
           uint32_t id)
{
    int level = level_code(st, ln->level);  /* read_line checked it */
    unsigned char flags = (unsigned char)(ln->has_id[0] | ln->has_id[1] << 1 | ln->has_id[2] << 2);
    int code = timestamp_code((const char *)ln->ts.s, ln->ts.n, ln->instant);
    if (put_byte(o, (unsigned char)level) < 0 || put_byte(o, flags) < 0 ||
        put_varint(o, (uint64_t)code) < 0)
        return -1;
    if (!code && (put_varint(o, (uint64_t)ln->ts.n << 1) < 0 ||
                  put_bytes(o, ln->ts.s, ln->ts.n) < 0))
        return -1;
    Span source = ln->has_source ? ln->source : (Span){(const unsigned char *)"", 0};
    if (put_utf8(o, NULL, (const char *)source.s, source.n, &tables[T_NAMES]))
        return -1;
    /* the message's pieces (message.split(" ")) */
    const char *m = ln->message.s != NULL ? (const char *)ln->message.s : "";
    const char *end = m + ln->message.n;
    Py_ssize_t count = 1;
    for (const char *q = m; (q = memchr(q, ' ', (size_t)(end - q))) != NULL; q++)
        count++;
    if (put_varint(o, (uint64_t)count) < 0)
        return -1;
    for (const char *start = m;;) {
        const char *q = memchr(start, ' ', (size_t)(end - start));
        const char *stop = q ? q : end;
        Py_ssize_t mark = o->len;
        if (put_utf8(o, NULL, start, stop - start, &tables[T_WORDS]) ||
            (ln->text == NULL && post_piece(g, pc, o, mark, start, stop - start, id) < 0))
            return -1;
        if (q == NULL)
            break;
        start = q + 1;
    }
    for (int k = 0; k < 3; k++)
        if (ln->has_id[k] &&
            put_utf8(o, NULL, (const char *)ln->ids[k].s, ln->ids[k].n, &tables[T_VALUES]))
            return -1;
    if (put_varint(o, (uint64_t)ln->ntags) < 0)
        return -1;
    for (int k = 0; k < ln->ntags; k++)
        if (put_utf8(o, NULL, (const char *)ln->tags[k].s, ln->tags[k].n, &tables[T_NAMES]))
            return -1;
    if (put_varint(o, (uint64_t)ln->nmeta) < 0)
        return -1;
    for (int k = 0; k < ln->nmeta; k++) {
        const Item *it = &ln->meta[k];
        if (put_utf8(o, NULL, (const char *)it->key.s, it->key.n, &tables[T_NAMES]) ||
            put_byte(o, it->kind) < 0)
            return -1;
        if (it->kind == 3) {
            long long x = it->num.iv;
            if (put_varint(o, ((uint64_t)x << 1) ^ (uint64_t)(x >> 63)) < 0)
                return -1;
        } else if (it->kind == 4) {
            if (put_bytes(o, &it->num.dv, 8) < 0)
                return -1;
        } else if (it->kind == 5) {
            if (put_utf8(o, NULL, (const char *)it->str.s, it->str.n, &tables[T_VALUES]))
                return -1;
        }
    }
    /* the postings, in gather_entry's order */
    PyObject *canonical;
    Py_ssize_t tn = value_term(&g->tables[0], &g->regs[0], g->canon, ln->level, &canonical);
    if (tn < 0 || registry_post(&g->regs[0], tn, id) < 0)
        return -1;
    tn = ascii_term(&g->tables[1], &g->regs[1], g->canon, source.s, source.n);
    if (tn < 0 || registry_post(&g->regs[1], tn, id) < 0)
        return -1;
    for (int k = 0; k < ln->ntags; k++) {
        tn = ascii_term(&g->tables[2], &g->regs[2], g->canon, ln->tags[k].s, ln->tags[k].n);
        if (tn < 0 || registry_post(&g->regs[2], tn, id) < 0)
            return -1;
    }
    if (ln->text != NULL)  /* the words of a non-ASCII message: tokenize.words() */
        return post_message(&g->ws, st->words_fn, ln->text, id, &g->buf, &g->buf_size);
    return 0;  /* the words were posted piece by piece (a space is never in a word) */
}

/* The chunks under construction. */
typedef struct {
    State *st;
    int bits;
    Out o;
    uint32_t *offsets;  /* 2**bits + 1 */
    Py_ssize_t pos;     /* the next position in the chunk */
    Py_ssize_t start;   /* the position of the chunk's first id */
    PyObject *kept;     /* position -> entry, or NULL */
    PyObject *chunks;   /* the finished (data, offsets, kept) */
    int open;
} Cutter;

/* Open the chunk of id (at its position: the ones below hold nothing). */
static void
cutter_start(Cutter *k, Py_ssize_t id)
{
    k->o.len = 0;
    k->start = k->pos = id & (((Py_ssize_t)1 << k->bits) - 1);
    memset(k->offsets, 0, sizeof(uint32_t) * (size_t)(k->start + 1));
    k->open = 1;
}

static int
cutter_finish(Cutter *k)
{
    if (!k->open)
        return 0;
    k->open = 0;
    PyObject *data = PyBytes_FromStringAndSize((const char *)k->o.p, k->o.len);
    PyObject *offs = data ? new_array(k->st, 'I', k->offsets,
                                      (Py_ssize_t)sizeof(uint32_t) * (k->pos + 1)) : NULL;
    PyObject *kept = k->kept != NULL ? k->kept : Py_None;
    PyObject *chunk = offs ? PyTuple_Pack(3, data, offs, kept) : NULL;
    Py_XDECREF(data);
    Py_XDECREF(offs);
    Py_CLEAR(k->kept);
    int rc = chunk == NULL ? -1 : PyList_Append(k->chunks, chunk);
    Py_XDECREF(chunk);
    return rc;
}

/* Close the record just written at k->pos (an exception byte and the entry for a kept one). */
static int
cutter_next(Cutter *k, PyObject *kept_entry)
{
    if (kept_entry != NULL) {
        if (k->kept == NULL && (k->kept = PyDict_New()) == NULL)
            return -1;
        PyObject *pos = PyLong_FromSsize_t(k->pos);
        int rc = pos == NULL ? -1 : PyDict_SetItem(k->kept, pos, kept_entry);
        Py_XDECREF(pos);
        if (rc < 0)
            return -1;
    }
    if (k->o.len > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a chunk's records passed 4 GiB");
        return -1;
    }
    k->offsets[++k->pos] = (uint32_t)k->o.len;
    return 0;
}

/* A line for the entry path: its entry built (1), rejected without an exception (0: a bad
 * line), or an error (-1). */
int
entry_line(State *st, const unsigned char *p, const unsigned char *stop, PyObject **entry)
{
    int r = direct_entry(st, p, stop - p, entry);
    if (r != 0)
        return r;
    PyObject *line = PyBytes_FromStringAndSize((const char *)p, stop - p);
    if (line == NULL)
        return -1;
    *entry = line_entry(st, line);
    Py_DECREF(line);
    return *entry != NULL ? 1 : PyErr_Occurred() ? -1 : 0;
}

/* ingest_records(blocks, first_id, canon, levels, sources, tags, words, tables, bits, final)
 * -> (chunks, stamps, lines, bad, rest) */
PyObject *
py_ingest_records(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *blocks, *canon, *levels_out, *sources_out, *tags_out, *words_out, *tables_arg;
    Py_ssize_t first_id;
    int bits, final;  /* final: consume every line (the last batch of a file) */
    if (!PyArg_ParseTuple(args, "O!nO!O!O!O!O!O!ip:ingest_records", &PyList_Type, &blocks,
                          &first_id, &PyDict_Type, &canon, &PyDict_Type, &levels_out,
                          &PyDict_Type, &sources_out, &PyDict_Type, &tags_out, &PyDict_Type,
                          &words_out, &PyList_Type, &tables_arg, &bits, &final))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    if (bits < 1 || bits > 20) {
        PyErr_SetString(PyExc_ValueError, "bits must be in 1..20");
        return NULL;
    }
    Py_ssize_t nblocks = PyList_GET_SIZE(blocks);
    Py_ssize_t total = blocks_size(blocks, first_id, "ingest_records");
    if (total < 0)
        return NULL;
    StrTable tables[N_TABLES];
    if (tables_bind(tables, tables_arg) < 0)
        return NULL;
    Py_ssize_t size = (Py_ssize_t)1 << bits, chunk_bytes_guess = 0;
    Cutter k = {st, bits, {NULL, 0, 0}, NULL, 0, 0, NULL, PyList_New(0), 0};
    PyObject *bad = PyList_New(0), *result = NULL, *rest = NULL;
    double *stamps = PyMem_Malloc(sizeof(double) * (size_t)(total + 1));
    k.offsets = PyMem_Malloc(sizeof(uint32_t) * (size_t)(size + 1));
    Gatherer g;
    int ready = 0;
    PieceCache pieces = {NULL, 0};
    if (tables[T_WORDS].limit > 0 && tables[T_WORDS].limit <= (1 << 22)) {
        pieces.cap = tables[T_WORDS].limit;
        pieces.words = PyMem_Calloc((size_t)pieces.cap, sizeof(int32_t));
        if (pieces.words == NULL)
            pieces.cap = 0;  /* no cache: every piece is tokenized */
    }
    if (k.chunks == NULL || bad == NULL || stamps == NULL || k.offsets == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    ready = 1;
    if (gatherer_init(&g, st, canon) < 0)
        goto done;
    Py_ssize_t line_no = 0, good = 0, consumed = 0;
    for (Py_ssize_t b = 0; b < nblocks; b++) {
        PyObject *block = PyList_GET_ITEM(blocks, b);
        const unsigned char *base = (const unsigned char *)PyBytes_AS_STRING(block);
        const unsigned char *p = base, *end = p + PyBytes_GET_SIZE(block);
        while (p < end) {
            const unsigned char *nl = memchr(p, '\n', end - p);
            const unsigned char *stop = nl != NULL ? nl : end;
            const unsigned char *next = nl != NULL ? nl + 1 : end;
            Py_ssize_t id = first_id + good;
            if (!(id & (size - 1)) && k.open) {
                if (cutter_finish(&k) < 0)
                    goto done;
                /* at a boundary: stop if what is left probably does not fill a chunk */
                if (!final) {
                    chunk_bytes_guess = consumed / (line_no ? line_no : 1) * size;
                    Py_ssize_t left = end - p;
                    for (Py_ssize_t r = b + 1; r < nblocks; r++)
                        left += PyBytes_GET_SIZE(PyList_GET_ITEM(blocks, r));
                    if (left < chunk_bytes_guess + chunk_bytes_guess / 4) {
                        if ((rest = PyBytes_FromStringAndSize(NULL, left)) == NULL)
                            goto done;
                        char *dst = PyBytes_AS_STRING(rest);
                        memcpy(dst, p, (size_t)(end - p));
                        dst += end - p;
                        for (Py_ssize_t r = b + 1; r < nblocks; r++) {
                            PyObject *more = PyList_GET_ITEM(blocks, r);
                            memcpy(dst, PyBytes_AS_STRING(more), (size_t)PyBytes_GET_SIZE(more));
                            dst += PyBytes_GET_SIZE(more);
                        }
                        goto finished;
                    }
                }
            }
            consumed += next - p;
            if (blank_line(p, stop)) {
                line_no++;
                p = next;
                continue;
            }
            Line ln;
            memset(&ln, 0, sizeof ln);
            int r = read_line(st, p, stop - p, &ln);
            if (r < 0) {
                Py_XDECREF(ln.level);
                Py_XDECREF(ln.text);
                goto done;
            }
            if (r > 0) {
                if (!k.open)
                    cutter_start(&k, id);
                r = write_line(st, &ln, &k.o, tables, &g, &pieces, (uint32_t)id);
                Py_DECREF(ln.level);
                Py_XDECREF(ln.text);
                if (r < 0 || cutter_next(&k, NULL) < 0)
                    goto done;
                stamps[good++] = ln.instant;
            } else {
                Py_XDECREF(ln.level);
                Py_XDECREF(ln.text);
                PyObject *entry = NULL;
                r = entry_line(st, p, stop, &entry);
                if (r < 0)
                    goto done;
                if (r == 0) {
                    if (add_bad_line(bad, line_no, p, next) < 0)
                        goto done;
                } else {
                    if (!k.open)
                        cutter_start(&k, id);
                    Py_ssize_t mark = k.o.len;
                    PyObject *keep = NULL;
                    int w = gather_entry(&g, entry, (uint32_t)id, NULL);
                    if (w == 0)
                        w = put_record(st, &k.o, entry, tables);
                    if (w == UNFIT) {  /* kept as the object it is */
                        k.o.len = mark;
                        keep = entry;
                        w = put_byte(&k.o, EXCEPTION_BYTE);
                    }
                    if (w < 0 || cutter_next(&k, keep) < 0) {
                        Py_DECREF(entry);
                        goto done;
                    }
                    PyObject *ts = SLOT(st, entry, S_TS);
                    stamps[good++] = PyFloat_AsDouble(ts);
                    Py_DECREF(entry);
                    if (PyErr_Occurred())
                        goto done;
                }
            }
            line_no++;
            p = next;
        }
    }
finished:
    if (cutter_finish(&k) < 0 || gatherer_emit(&g, levels_out, sources_out, tags_out,
                                               words_out) < 0)
        goto done;
    PyObject *stamp_array = new_array(st, 'd', stamps, (Py_ssize_t)sizeof(double) * good);
    if (stamp_array == NULL)
        goto done;
    if (rest == NULL)
        rest = PyBytes_FromStringAndSize(NULL, 0);
    if (rest != NULL)
        result = Py_BuildValue("(ONnOO)", k.chunks, stamp_array, line_no, bad, rest);
done:
    if (tables_sync(tables) < 0)
        Py_CLEAR(result);
    if (ready)
        gatherer_free(&g);
    PyMem_Free(k.o.p);
    PyMem_Free(k.offsets);
    PyMem_Free(stamps);
    PyMem_Free(pieces.words);
    Py_XDECREF(k.kept);
    Py_XDECREF(k.chunks);
    Py_XDECREF(bad);
    Py_XDECREF(rest);
    return result;
}
