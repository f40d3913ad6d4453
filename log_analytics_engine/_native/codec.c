/*
 * The durable copy's chunks (storage/sqlite.py): encode_chunk writes one, entries_from_rows
 * builds the entries of a decoded one, entries_from_chunk parses a common one directly.
 */
#include "_native.h"

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

/* entries_from_rows(orjson.loads(data), ...) without the intermediate lists, for a stored
 * chunk whose strings the direct parser takes (no escapes) and whose metadata holds only
 * scalars: 1 with the entries in *out, 0 for any other chunk (the caller then takes the
 * orjson path, which also reports a damaged chunk), -1 on an error. */
static int
chunk_entries(State *st, const unsigned char *data, Py_ssize_t size, PyObject *stamps,
              PyObject *canon, PyObject **out)
{
    Cursor cur = {data, data + size, st}, *c = &cur;
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
            entry = st->entry_type->tp_alloc(st->entry_type, 0);
            if (entry != NULL) {
                v[S_TS] = PyList_GET_ITEM(stamps, i);
                Py_INCREF(v[S_TS]);
                for (int k = 0; k < N_SLOTS; k++) {
                    SLOT(st, entry, k) = v[k];
                    v[k] = NULL;
                }
                untrack_if_acyclic(st, entry);
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

PyObject *
py_entries_from_chunk(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *data, *stamps, *canon, *out = NULL;
    if (!PyArg_ParseTuple(args, "SO!O!:entries_from_chunk", &data, &PyList_Type, &stamps,
                          &PyDict_Type, &canon))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    int r = chunk_entries(st, (const unsigned char *)PyBytes_AS_STRING(data),
                          PyBytes_GET_SIZE(data), stamps, canon, &out);
    return found_or_none(r, out);
}

/* ---------------------------------------------------------------- storage rows ------- */

/* Entries from the field arrays of a stored chunk and their instants (floats). The
 * specification is storage.decode_rows. */
PyObject *
py_entries_from_rows(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *rows, *stamps, *canon;
    if (!PyArg_ParseTuple(args, "O!O!O!:entries_from_rows", &PyList_Type, &rows, &PyList_Type,
                          &stamps, &PyDict_Type, &canon))
        return NULL;
    if (check_configured(st) < 0)
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
        PyObject *entry = st->entry_type->tp_alloc(st->entry_type, 0);
        if (entry == NULL) {
            Py_DECREF(tags);
            goto fail;
        }
        PyObject *values[N_SLOTS] = {f[0], ts, level, f[2], source, f[4], f[5], f[6], tags, f[8]};
        for (int k = 0; k < N_SLOTS; k++) {
            if (k != S_TAGS)
                Py_INCREF(values[k]);
            SLOT(st, entry, k) = values[k];
        }
        untrack_if_acyclic(st, entry);
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
PyObject *
py_encode_chunk(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *entries, *dumps, *dflt, *option;
    if (!PyArg_ParseTuple(args, "O!OOO:encode_chunk", &PyList_Type, &entries, &dumps, &dflt,
                          &option))
        return NULL;
    if (check_configured(st) < 0)
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
        if (!PyObject_TypeCheck(e, st->entry_type)) {
            PyErr_Format(PyExc_TypeError, "expected a LogEntry, got %s", Py_TYPE(e)->tp_name);
            goto fail;
        }
        if (entry_ready(st, e) < 0)
            goto fail;
        PyObject *row = PyList_New(9);
        if (row == NULL)
            goto fail;
        PyList_SET_ITEM(rows, i, row);
        for (int k = 0; k < 9; k++) {
            PyObject *v = SLOT(st, e, fields[k]);
            if (v == NULL) {
                PyErr_Format(PyExc_AttributeError, "LogEntry.%s is not set",
                             slot_names[fields[k]]);
                goto fail;
            }
            Py_INCREF(v);
            PyList_SET_ITEM(row, k, v);
        }
        PyObject *ts = SLOT(st, e, S_TS);
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
