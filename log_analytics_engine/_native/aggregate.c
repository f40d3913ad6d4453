/*
 * Float metrics of a metadata field (query/aggregate.py, numeric_values) and value counts of
 * level or source (aggregate_logs).
 */
#include "_native.h"

#include <stdlib.h>

ORDER_CMP(double_cmp, double)

/* The sorted float values of metadata[field] over entries (NaN, missing and non-numbers left
 * out), as array('d'); None when an entry is not a plain LogEntry with a dict of metadata or
 * a value is an int or a float subclass (the Python path keeps their types). The
 * specification is aggregate.numeric_values: its stable sort keeps 0.0 and -0.0 in the
 * order they came, and so does this one. */
PyObject *
py_sorted_numbers(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *entries, *field, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!U:sorted_numbers", &PyList_Type, &entries, &field))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(entries), k = 0, z = 0;
    double *values = PyMem_Malloc((n ? n : 1) * sizeof(double));
    unsigned char *zeros = PyMem_Malloc(n ? n : 1);  /* sign of each zero, in order */
    if (values == NULL || zeros == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v;
        int got = entry_metadata_item(st, PyList_GET_ITEM(entries, i), field, &v);
        if (got < 0)
            goto done;
        if (got == 0)
            goto hand_back;
        if (v == NULL)
            continue;
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
    result = PyObject_CallFunction(st->array_type, "Cy#", 'd', (const char *)values,
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

/* count_values(entries, field) -> dict | None: how many entries carry each value of the str
 * slot `field` ("level" or "source": few distinct values; a message is nearly unique, and
 * Counter does better there), as Counter(e.<field> for e in entries) gives;
 * None when an item is not an exact LogEntry or a value not an exact str (the Python path
 * counts those). The values are counted in an open-addressing table of (str, hash, count)
 * that stays small and in cache for the few distinct values of a level or source: each entry
 * costs one read of its slot, of the value's cached hash and, when the value is another
 * object than the one in the table, one memcmp; no reference counting, no generator frame.
 * The dict lists the values in the order they first appear, as a Counter does (so ties of
 * most_common() come out the same). O(n) for n entries plus O(d log d) for d values. */
typedef struct { PyObject *key; Py_hash_t hash; Py_ssize_t count, first; } value_count;

static int
by_first(const void *a, const void *b)
{
    Py_ssize_t x = ((const value_count *)a)->first, y = ((const value_count *)b)->first;
    return (x > y) - (x < y);
}

static int
same_str(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    if (n != PyUnicode_GET_LENGTH(b) || PyUnicode_KIND(a) != PyUnicode_KIND(b))
        return 0;
    return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * PyUnicode_KIND(a)) == 0;
}

PyObject *
py_count_values(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *seq, *field;
    if (!PyArg_ParseTuple(args, "OU:count_values", &seq, &field))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    int k;
    if (PyUnicode_CompareWithASCIIString(field, "level") == 0)
        k = S_LEVEL;
    else if (PyUnicode_CompareWithASCIIString(field, "source") == 0)
        k = S_SOURCE;
    else {
        PyErr_Format(PyExc_ValueError, "count_values: unsupported field %R", field);
        return NULL;
    }
    PyObject *fast = PySequence_Fast(seq, "count_values: expected a sequence of entries");
    if (fast == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    size_t cap = 64, used = 0;
    value_count *table = PyMem_Calloc(cap, sizeof(value_count));
    PyObject *result = NULL;
    if (table == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = items[i];
        if (Py_TYPE(e) != st->entry_type) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (entry_ready(st, e) < 0)
            goto done;
        PyObject *v = SLOT(st, e, k);
        if (v == NULL) {
            PyErr_Format(PyExc_AttributeError, "LogEntry.%s is not set", slot_names[k]);
            goto done;
        }
        if (!PyUnicode_CheckExact(v)) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        Py_hash_t h = PyObject_Hash(v);  /* cached in the str after its first use */
        if (h == -1)
            goto done;
        size_t mask = cap - 1, j = (size_t)h & mask;
        while (table[j].key != NULL && (table[j].hash != h || !same_str(table[j].key, v)))
            j = (j + 1) & mask;
        if (table[j].key == NULL) {
            if (2 * (used + 1) > cap) {  /* grow to keep the table at most half full */
                size_t ncap = cap * 2;
                value_count *bigger = PyMem_Calloc(ncap, sizeof(value_count));
                if (bigger == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                for (size_t m = 0; m < cap; m++) {
                    if (table[m].key == NULL)
                        continue;
                    size_t jm = (size_t)table[m].hash & (ncap - 1);
                    while (bigger[jm].key != NULL)
                        jm = (jm + 1) & (ncap - 1);
                    bigger[jm] = table[m];
                }
                PyMem_Free(table);
                table = bigger;
                cap = ncap;
                mask = cap - 1;
                j = (size_t)h & mask;
                while (table[j].key != NULL)
                    j = (j + 1) & mask;
            }
            table[j].key = v;  /* borrowed: `fast` keeps every entry, and so its value, alive */
            table[j].hash = h;
            table[j].first = i;
            used++;
        }
        table[j].count++;
    }
    size_t d = 0;  /* pack the used slots at the front, in order of first appearance */
    for (size_t m = 0; m < cap; m++)
        if (table[m].key != NULL)
            table[d++] = table[m];
    qsort(table, d, sizeof(value_count), by_first);
    result = PyDict_New();
    if (result == NULL)
        goto done;
    for (size_t m = 0; m < d; m++) {
        PyObject *count = PyLong_FromSsize_t(table[m].count);
        if (count == NULL || PyDict_SetItem(result, table[m].key, count) < 0) {
            Py_XDECREF(count);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(count);
    }
done:
    PyMem_Free(table);
    Py_DECREF(fast);
    return result;
}
