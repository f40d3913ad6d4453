/*
 * The time order of query hits (time_order), time-range checks of ids (filter_instants) and
 * the in-order run of a batch for the time index (split_ordered): index/store.py.
 */
#include "_native.h"

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
PyObject *
py_time_order(PyObject *module, PyObject *args)
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
PyObject *
py_filter_instants(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    Py_buffer a = {0}, t = {0};
    Py_ssize_t base;
    double lo, hi;
    PyObject *result = NULL;
    uint32_t *out = NULL;
    if (!PyArg_ParseTuple(args, "y*y*ndd:filter_instants", &a, &t, &base, &lo, &hi))
        return NULL;
    if (check_configured(st) < 0)
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
    result = PyObject_CallFunction(st->array_type, "Cy#", 'I', (const char *)out, kept * 4);
fail:
    PyMem_Free(out);
    PyBuffer_Release(&a);
    PyBuffer_Release(&t);
    return result;
}

/* ---------------------------------------------------------------- time index ------- */

/* The ids first_id, first_id + 1, ... of stamps whose instant is not below the running
 * maximum (from top), with their instants, and the other (late) ids. The specification is
 * python.split_ordered. */
PyObject *
py_split_ordered(PyObject *module, PyObject *args)
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
