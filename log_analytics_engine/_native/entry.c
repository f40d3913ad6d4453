/*
 * LogEntry objects: building one from its field values, taking it out of the cyclic garbage
 * collector when nothing it holds can lead back to it, and the path from an orjson dict of
 * the common shape (entry.entry_from_json is its specification).
 */
#include "_native.h"

/* The slot a JSON key names (-1: not an entry field). orjson hands out the same key
 * objects line after line, so a small cache of key objects (holding a reference, replaced
 * round-robin) turns the nine dict lookups per line into a few pointer compares. */
static int
key_index(State *st, PyObject *key)
{
    for (int i = 0; i < KEY_CACHE && st->key_obj[i] != NULL; i++)
        if (st->key_obj[i] == key)
            return st->key_slot[i];
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
    Py_XSETREF(st->key_obj[st->key_next], key);
    st->key_slot[st->key_next] = (signed char)slot;
    st->key_next = (st->key_next + 1) % KEY_CACHE;
    return slot;
}

/* The canonical object of a level spelled exactly as a canonical name or WARNING/CRITICAL
 * (a few byte compares instead of hashing a fresh string); NULL: ask _LEVEL_CACHE. */

static PyObject *
common_level(const State *st, PyObject *level)
{
    if (!PyUnicode_IS_ASCII(level))
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(level);
    const char *s = (const char *)PyUnicode_DATA(level);
    for (int i = 0; i < N_COMMON_LEVELS; i++) {
        if (st->common_names[i] != NULL && (Py_ssize_t)strlen(common_spellings[i]) == n &&
            memcmp(common_spellings[i], s, n) == 0)
            return st->common_names[i];
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
void
untrack_if_acyclic(const State *st, PyObject *entry)
{
    if (Py_TYPE(entry) != st->entry_type || !PyObject_GC_IsTracked(entry))
        return;
    PyObject *tags = SLOT(st, entry, S_TAGS), *metadata = SLOT(st, entry, S_METADATA);
    PyObject *timestamp = SLOT(st, entry, S_TIMESTAMP);
    if (tags == NULL || metadata == NULL || timestamp == NULL || !PyList_CheckExact(tags) ||
        !PyDict_CheckExact(metadata) || PyObject_GC_IsTracked(metadata) ||
        PyObject_GC_IsTracked(timestamp))
        return;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tags); i++)
        if (!PyUnicode_CheckExact(PyList_GET_ITEM(tags, i)))
            return;
    for (int k = S_LEVEL; k <= S_USER_ID; k++) {
        PyObject *v = SLOT(st, entry, k);
        if (v != NULL && PyObject_GC_IsTracked(v))
            return;
    }
    if (PyObject_GC_IsTracked(tags))
        PyObject_GC_UnTrack(tags);
    PyObject_GC_UnTrack(entry);
}

/* A LogEntry of the field values v (borrowed; every slot but S_TS set) at instant. */
PyObject *
new_entry(const State *st, PyObject *const *v, double instant)
{
    PyObject *ts = PyFloat_FromDouble(instant);
    if (ts == NULL)
        return NULL;
    PyObject *entry = st->entry_type->tp_alloc(st->entry_type, 0);
    if (entry == NULL) {
        Py_DECREF(ts);
        return NULL;
    }
    for (int k = 0; k < N_SLOTS; k++) {
        if (k != S_TS) {
            Py_INCREF(v[k]);
            SLOT(st, entry, k) = v[k];
        }
    }
    SLOT(st, entry, S_TS) = ts;
    untrack_if_acyclic(st, entry);
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

/* Build a LogEntry from a dict of the common shape; NULL without an exception means
 * "not the common shape: ask entry_from_json". Mirrors entry.entry_from_json exactly
 * (nested metadata is not the common shape: entry_from_json normalises it). */
PyObject *
fast_entry(State *st, PyObject *data)
{
    PyObject *v[N_SLOTS] = {NULL};
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(data, &pos, &key, &value)) {
        int k = key_index(st, key);
        if (k < 0)
            return NULL;  /* unknown keys go to metadata: the Python path */
        v[k] = value;
    }
    PyObject *raw = v[S_TIMESTAMP];
    if (raw == NULL || !PyUnicode_CheckExact(raw) || !PyUnicode_IS_ASCII(raw))
        return NULL;
    PyObject *level = v[S_LEVEL];
    if (level == NULL || level == Py_None) {
        level = st->str_info;
    } else {
        if (!PyUnicode_CheckExact(level))
            return NULL;
        PyObject *canonical = common_level(st, level);
        if (canonical == NULL)
            canonical = PyDict_GetItemWithError(st->level_cache, level);
        if (canonical == NULL)
            return NULL;
        level = canonical;
    }
    PyObject *message = v[S_MESSAGE];
    if (message == NULL)
        message = st->str_empty;
    else if (!PyUnicode_CheckExact(message))
        return NULL;
    PyObject *source = v[S_SOURCE];
    if (source == NULL || source == Py_None)
        source = st->str_empty;
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
    entry = new_entry(st, v, instant);
done:
    Py_XDECREF(tags);
    Py_XDECREF(metadata);
    return entry;
}
