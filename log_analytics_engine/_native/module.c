/*
 * The optional C accelerator for the ingest and query hot loops (see system_design.md, "The
 * C accelerator"): the module, its state and its method table. The sources are listed in
 * _native.h; the Python kernels in python.py are their specification.
 *
 * Built by setup.py as an optional extension: without a compiler the package still works.
 * Multi-phase initialisation (PEP 489): what configure() binds and every cache of Python
 * objects lives in the module's state, released by its clear and free functions.
 */
#include "_native.h"

const char *const slot_names[N_SLOTS] = {
    "timestamp", "ts", "level", "message", "source", "thread_id", "request_id", "user_id",
    "tags", "metadata"};

const char *const common_spellings[N_COMMON_LEVELS] = {
    "INFO", "ERROR", "WARN", "DEBUG", "FATAL", "TRACE", "WARNING", "CRITICAL"};

State *
get_state(PyObject *module)
{
    return (State *)PyModule_GetState(module);
}

PyObject *
py_configure(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
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
    Py_ssize_t offsets[N_SLOTS];
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
        offsets[k] = def->offset;
    }
    Py_ssize_t record_offset = 0;  /* no _record slot: entries are never built lazily */
    PyObject *rdescr = PyDict_GetItemString(((PyTypeObject *)cls)->tp_dict, "_record");
    if (rdescr != NULL && Py_IS_TYPE(rdescr, &PyMemberDescr_Type) &&
        ((PyMemberDescrObject *)rdescr)->d_member->type == T_OBJECT_EX)
        record_offset = ((PyMemberDescrObject *)rdescr)->d_member->offset;
    PyObject *canonical[N_COMMON_LEVELS];
    for (int i = 0; i < N_COMMON_LEVELS; i++) {
        canonical[i] = PyDict_GetItemString(cache, common_spellings[i]);
        if (canonical[i] == NULL || !PyUnicode_CheckExact(canonical[i])) {
            PyErr_Format(PyExc_ValueError, "the level cache lacks %s", common_spellings[i]);
            return NULL;
        }
    }
    /* every check passed: bind (nothing above changed the state) */
    memcpy(st->slot_offset, offsets, sizeof offsets);
    st->record_offset = record_offset;
    for (int i = 0; i < N_COMMON_LEVELS; i++) {
        Py_INCREF(canonical[i]);
        Py_XSETREF(st->common_names[i], canonical[i]);
    }
    Py_INCREF(cls); Py_XSETREF(st->entry_type, (PyTypeObject *)cls);
    Py_INCREF(cache); Py_XSETREF(st->level_cache, cache);
    Py_INCREF(fallback); Py_XSETREF(st->from_json, fallback);
    Py_INCREF(json_loads); Py_XSETREF(st->loads, json_loads);
    Py_INCREF(words); Py_XSETREF(st->words_fn, words);
    Py_INCREF(array); Py_XSETREF(st->array_type, array);
    Py_RETURN_NONE;
}

int
check_configured(const State *st)
{
    if (st->entry_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_speedups.configure() was not called");
        return -1;
    }
    return 0;
}

/* check_configured, then that arg is exactly of type (else TypeError: what it expects). */
int
check_arg(const State *st, PyObject *arg, PyTypeObject *type, const char *expects)
{
    if (check_configured(st) < 0)
        return -1;
    if (!Py_IS_TYPE(arg, type)) {
        PyErr_SetString(PyExc_TypeError, expects);
        return -1;
    }
    return 0;
}

/* What a parser's result r says to Python: obj (r > 0), None (r == 0: not for this parser)
 * or the error (r < 0). */
PyObject *
found_or_none(int r, PyObject *obj)
{
    if (r < 0)
        return NULL;
    if (r == 0)
        Py_RETURN_NONE;
    return obj;
}

/* ---------------------------------------------------------------- module ------------- */

static PyMethodDef methods[] = {
    {"configure", py_configure, METH_VARARGS,
     "configure(LogEntry, level_cache, entry_from_json, loads, words, array): bind the Python "
     "side."},
    {"entries_from_lines", py_entries_from_lines, METH_O,
     "entries_from_lines(lines) -> (entries, bad): one LogEntry per JSON line, None where the "
     "line is rejected (the Python reader re-reads those for the exact reason)."},
    {"entries_from_blocks", py_entries_from_blocks, METH_O,
     "entries_from_blocks(blocks) -> (entries, lines, bad): entries_from_lines over blocks of "
     "whole lines, split here; bad holds (index, line) of the lines that did not parse."},
    {"gather", py_gather, METH_VARARGS,
     "gather(entries, first_id, canon, levels, sources, tags, words, tokens): fill each dict "
     "with term -> array('I') of the ids of the entries that carry it (tokens None: "
     "tokenize the messages here)."},
    {"word_lists", py_word_lists, METH_VARARGS,
     "word_lists(messages) -> (terms, codes, offsets): the distinct words of each message as "
     "int32 term numbers in first-use order, and the int32 offsets of each message's run."},
    {"word_lists_utf8", py_word_lists_utf8, METH_VARARGS,
     "word_lists_utf8(offsets, data, start, n) -> (terms, codes, offsets): word_lists of n "
     "messages from row start of an Arrow string array's buffers."},
    {"archive_columns", py_archive_columns, METH_VARARGS,
     "archive_columns(blocks, dumps) -> (rows, lines, bad, columns) | None: the archive's "
     "column buffers of the entries of blocks of whole JSON lines, in file order."},
    {"string_buffers", py_string_buffers, METH_O,
     "string_buffers(values) -> (offsets, data, validity or None): the buffers of an Arrow "
     "string array of a list of str and None."},
    {"string_list_buffers", py_string_list_buffers, METH_O,
     "string_list_buffers(lists) -> (list_offsets, offsets, data): the buffers of an Arrow "
     "list<string> array of a list of lists of str."},
    {"json_array_buffers", py_json_array_buffers, METH_VARARGS,
     "json_array_buffers(data, n) -> (offsets, data, validity or None): the n elements of a "
     "JSON array (one orjson.dumps of a list) as the buffers of an Arrow string array."},
    {"entry_columns", py_entry_columns, METH_VARARGS,
     "entry_columns(entries, order) -> (instants, texts, tags, messages, metadata): the "
     "column buffers of LogEntry objects at the positions order (None: all), in one pass."},
    {"entries_from_rows", py_entries_from_rows, METH_VARARGS,
     "entries_from_rows(rows, stamps, canon) -> entries: LogEntry objects from a stored "
     "chunk's field arrays and instants."},
    {"encode_chunk", py_encode_chunk, METH_VARARGS,
     "encode_chunk(entries, dumps, default, option) -> (stamps, data): one stored chunk."},
    {"split_ordered", py_split_ordered, METH_VARARGS,
     "split_ordered(first_id, stamps, top) -> (run_ids, run_keys, late_ids): the ids whose "
     "instant is not below the running maximum (starting at top), and the others."},
    {"direct_entry", py_direct_entry, METH_O,
     "direct_entry(line) -> LogEntry | None: the entry of a JSON line of the common shape "
     "parsed without orjson; None: a line for orjson (the path entries_from_lines then takes)."},
    {"time_order", py_time_order, METH_VARARGS,
     "time_order(in_order, late, ts, base, entries, descending, start, stop) -> list: "
     "positions [start, stop) of the hits in time order (ties in id order), as entries "
     "when entries is the store's list, else as ids."},
    {"encode_records", py_encode_records, METH_VARARGS,
     "encode_records(entries, tables) -> (records, offsets, kept): a sealed chunk's records "
     "(records.py documents the layout); the tables grow as strings are admitted."},
    {"decode_records", py_decode_records, METH_VARARGS,
     "decode_records(data, offsets, positions, ts, ts_first, items, kept) -> list: the "
     "entries at positions of a chunk's records."},
    {"entry_getattr", (PyCFunction)(void (*)(void))py_entry_getattr, METH_FASTCALL,
     "entry_getattr(entry, name): LogEntry.__getattr__ (a lazy entry decodes its fields)."},
    {"fill_entry", py_fill_entry, METH_O,
     "fill_entry(entry): decode a lazy entry's fields now; nothing for any other object."},
    {"take_entries", py_take_entries, METH_VARARGS,
     "take_entries(ids, chunks, first_block, chunk_bits, ts, base, items, tail, tail_start, "
     "lazy=False) -> list: the entries of ids (any order), built from sealed chunks or taken "
     "from the tail; lazy: built with their instant and level, the rest decoded from their "
     "record on first read."},
    {"filter_instants", py_filter_instants, METH_VARARGS,
     "filter_instants(ids, ts, base, lo, hi) -> array('I'): the ids whose instant is in "
     "[lo, hi]."},
    {"entries_from_chunk", py_entries_from_chunk, METH_VARARGS,
     "entries_from_chunk(data, stamps, canon) -> entries | None: entries_from_rows of a "
     "stored chunk's JSON parsed directly; None: a chunk for orjson."},
    {"count_values", py_count_values, METH_VARARGS,
     "count_values(entries, field) -> dict | None: value -> number of entries for the str "
     "field level or source, in order of first appearance; None when an item is not an "
     "exact LogEntry or the value not an exact str."},
    {"sorted_numbers", py_sorted_numbers, METH_VARARGS,
     "sorted_numbers(entries, field) -> array('d') | None: the sorted float values of a "
     "metadata field; None: values for the Python path."},
    {"numeric_column", py_numeric_column, METH_VARARGS,
     "numeric_column(entries, field, first_id) -> (values, ints, odd) | None: the float64 "
     "column of a metadata field (NaN where a value does not count), the ids of its ints and "
     "of the values a float64 cannot stand for; None: entries for the Python kernel."},
    {"numeric_records", py_numeric_records, METH_VARARGS,
     "numeric_records(data, offsets, start, stop, tables, field, kept, first_id) -> (values, "
     "ints, odd) | None: numeric_column of a chunk's entries at positions [start, stop), read "
     "from their records without building them; None: a kept entry for the entries' path."},
    {"gather_numbers", py_gather_numbers, METH_VARARGS,
     "gather_numbers(ids, values, first, out) -> (k, min_id, max_id): write the non-NaN "
     "values of the ids in a column to out[:k], with the ids of the first minimum and the "
     "last maximum."},
    {"summarize_numbers", py_summarize_numbers, METH_VARARGS,
     "summarize_numbers(values, qs, total) -> (sum | None, percentiles): math.fsum and "
     "linear-interpolation percentiles of a float64 buffer (reordered in place)."},
    {"ingest_blocks", py_ingest_blocks, METH_VARARGS,
     "ingest_blocks(blocks, first_id, canon, levels, sources, tags, words) -> (entries, lines, "
     "bad): entries_from_lines and gather in one pass over blocks of whole lines, split "
     "here; the good lines get ids from first_id; bad holds (index, line) of the others."},
    {"ingest_records", py_ingest_records, METH_VARARGS,
     "ingest_records(blocks, first_id, canon, levels, sources, tags, words, tables, bits, "
     "final) -> (chunks, stamps, lines, bad, rest): ingest_blocks writing records: the good "
     "lines' records in chunks of 2**bits ids from first_id ((data, offsets, kept) each, the "
     "first and last possibly partial), their instants, the lines read, the bad ones, and "
     "unless final the bytes of the lines left for the next batch (the batch ends on a chunk "
     "boundary)."},
    {"parse_iso", py_parse_iso, METH_O,
     "parse_iso(text) -> float | None: the instant of a common ISO 8601 timestamp."},
    {NULL, NULL, 0, NULL},
};

static int
speedups_exec(PyObject *module)
{
    State *st = get_state(module);
    if ((st->str_info = PyUnicode_InternFromString("INFO")) == NULL)
        return -1;
    if ((st->str_empty = PyUnicode_FromStringAndSize("", 0)) == NULL)
        return -1;
    return records_exec(module, st);
}

#define STATE_OBJECTS(st, APPLY)                                                           \
    do {                                                                                   \
        APPLY((st)->entry_type);                                                           \
        APPLY((st)->record_type);                                                          \
        APPLY((st)->level_cache);                                                          \
        APPLY((st)->from_json);                                                            \
        APPLY((st)->loads);                                                                \
        APPLY((st)->words_fn);                                                             \
        APPLY((st)->array_type);                                                           \
        APPLY((st)->str_info);                                                             \
        APPLY((st)->str_empty);                                                            \
        for (int i_ = 0; i_ < N_COMMON_LEVELS; i_++)                                       \
            APPLY((st)->common_names[i_]);                                                 \
        for (int i_ = 0; i_ < KEY_CACHE; i_++)                                             \
            APPLY((st)->key_obj[i_]);                                                      \
        for (int i_ = 0; i_ < META_KEYS; i_++)                                             \
            APPLY((st)->meta_keys[i_]);                                                    \
    } while (0)

static int
speedups_traverse(PyObject *module, visitproc visit, void *arg)
{
    State *st = get_state(module);
    if (st != NULL)
        STATE_OBJECTS(st, Py_VISIT);
    return 0;
}

static int
speedups_clear(PyObject *module)
{
    State *st = get_state(module);
    if (st != NULL)
        STATE_OBJECTS(st, Py_CLEAR);
    return 0;
}

static void
speedups_free(void *module)
{
    speedups_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, speedups_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "log_analytics_engine._native._speedups",
    "Optional C accelerator of the ingest and query hot loops (the Python kernels in "
    "python.py are the specification).",
    sizeof(State), methods, module_slots, speedups_traverse, speedups_clear, speedups_free,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&module_def);
}
