/*
 * Float metrics of a metadata field (query/aggregate.py, numeric_values).
 */
#include "_native.h"

static int
double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

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
        PyObject *e = PyList_GET_ITEM(entries, i);
        if (Py_TYPE(e) != st->entry_type)
            goto hand_back;
        PyObject *metadata = SLOT(st, e, S_METADATA);
        if (metadata == NULL || !PyDict_CheckExact(metadata))
            goto hand_back;
        PyObject *v = PyDict_GetItemWithError(metadata, field);
        if (v == NULL) {
            if (PyErr_Occurred())
                goto done;
            continue;
        }
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
