/*
 * Numeric columns for aggregations (index/columns.py, query/numbers.py): a metadata field
 * read into a float64 column once (numeric_column), the numbers of a group's ids gathered
 * from it (gather_numbers), and their exact sum and percentiles (summarize_numbers).
 * The specification is python.py: numeric_column, gather_numbers, summarize_numbers.
 */
#include "_native.h"

#include <float.h>
#include <stdlib.h>

/* A new array('d') of n zeros whose buffer is exported to *view (release it before the array
 * is used). Filling the array's own buffer touches one fresh buffer instead of three (a
 * malloc'd one, the bytes object and the array copying it). */
static PyObject *
new_doubles(const State *st, Py_ssize_t n, Py_buffer *view)
{
    PyObject *one = PyObject_CallFunction(st->array_type, "C(d)", 'd', 0.0);
    if (one == NULL)
        return NULL;
    PyObject *arr = PySequence_Repeat(one, n);
    Py_DECREF(one);
    if (arr == NULL)
        return NULL;
    if (PyObject_GetBuffer(arr, view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* numeric_column(entries, field, first_id) -> (values, ints, odd) | None. One float64 per
 * entry (NaN where the value does not count: missing, bool, text, NaN, ...), the ids of int
 * values and the ids of values a float64 cannot stand for (ints beyond 2**53, int or float
 * subclasses). None when an entry is not an exact LogEntry with a dict of metadata (the
 * Python kernel reads those through .get). */
int
number_kind(PyObject *v, double *d)
{
    if (v == NULL)
        return NUM_NONE;  /* missing */
    if (PyFloat_CheckExact(v)) {
        *d = PyFloat_AS_DOUBLE(v);
        return NUM_VALUE;
    }
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (overflow || x < -EXACT_INT || x > EXACT_INT)
            return NUM_ODD;
        *d = (double)x;
        return NUM_INT;
    }
    if (!PyBool_Check(v) && (PyLong_Check(v) || PyFloat_Check(v)))
        return NUM_ODD;  /* a subclass of int or float */
    return NUM_NONE;
}

PyObject *
py_numeric_column(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *entries, *field, *result = NULL;
    Py_ssize_t first;
    if (!PyArg_ParseTuple(args, "O!Un:numeric_column", &PyList_Type, &entries, &field, &first))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(entries), ni = 0, no = 0;
    if (first < 0 || first + n > (Py_ssize_t)UINT32_MAX + 1) {
        PyErr_SetString(PyExc_OverflowError, "numeric_column: ids must fit in 32 bits");
        return NULL;
    }
    Py_buffer vb = {0};
    uint32_t *ints = PyMem_Malloc((n ? n : 1) * sizeof(uint32_t));
    uint32_t *odd = PyMem_Malloc((n ? n : 1) * sizeof(uint32_t));
    PyObject *ia = NULL, *oa = NULL;
    PyObject *va = new_doubles(st, n, &vb);
    if (va == NULL)
        goto done;
    double *values = vb.buf;
    if (ints == NULL || odd == NULL) {
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
        double d = Py_NAN;
        int kind = number_kind(v, &d);
        if (kind < 0)
            goto done;
        if (kind == NUM_INT)
            ints[ni++] = (uint32_t)(first + i);
        else if (kind == NUM_ODD)
            odd[no++] = (uint32_t)(first + i);
        values[i] = d;
    }
    PyBuffer_Release(&vb);
    ia = PyObject_CallFunction(st->array_type, "Cy#", 'I', (const char *)ints,
                               ni * (Py_ssize_t)sizeof(uint32_t));
    oa = ia ? PyObject_CallFunction(st->array_type, "Cy#", 'I', (const char *)odd,
                                    no * (Py_ssize_t)sizeof(uint32_t)) : NULL;
    if (oa != NULL)
        result = PyTuple_Pack(3, va, ia, oa);
    goto done;
hand_back:
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&vb);
    Py_XDECREF(va);
    Py_XDECREF(ia);
    Py_XDECREF(oa);
    PyMem_Free(ints);
    PyMem_Free(odd);
    return result;
}

/* gather_numbers(ids, values, first, out) -> (k, min_id, max_id): write the non-NaN values of
 * the uint32 ids (in their order) in the float64 column `values` starting at id `first` to
 * out[0:k] (a writable float64 buffer with room for every id), with the id of the first
 * minimum and of the last maximum (-1 when none). The caller reuses `out` across queries:
 * a fresh buffer of a million values cost more in page faults than the gathering. */
PyObject *
py_gather_numbers(PyObject *module, PyObject *args)
{
    Py_buffer a = {0}, c = {0}, o = {0};
    Py_ssize_t first;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*nw*:gather_numbers", &a, &c, &first, &o))
        return NULL;
    if (a.len % 4 || c.len % 8 || o.len % 8) {
        PyErr_SetString(PyExc_ValueError, "gather_numbers expects uint32 ids and float64 values");
        goto done;
    }
    const uint32_t *ids = a.buf;
    const double *col = c.buf;
    double *out = o.buf;
    Py_ssize_t n = a.len / 4, size = c.len / 8, k = 0;
    if (o.len / 8 < n) {
        PyErr_SetString(PyExc_ValueError, "gather_numbers: out has no room for every id");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t pos = (Py_ssize_t)ids[i] - first;
        if (pos < 0 || pos >= size) {
            PyErr_Format(PyExc_IndexError, "id %u is not in the column", ids[i]);
            goto done;
        }
    }
    double lo = 0, hi = 0;
    long long lo_id = -1, hi_id = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = col[ids[i] - first];
        if (v != v)
            continue;
        out[k++] = v;
        if (lo_id < 0 || v < lo) {
            lo = v;
            lo_id = ids[i];
        }
        if (hi_id < 0 || v >= hi) {
            hi = v;
            hi_id = ids[i];
        }
    }
    result = Py_BuildValue("(nLL)", k, lo_id, hi_id);
done:
    PyBuffer_Release(&a);
    PyBuffer_Release(&c);
    PyBuffer_Release(&o);
    return result;
}

/* ---------------------------------------------------------------- exact sum --------- */

ORDER_CMP(double_cmp, double)

/* math.fsum of v[0:n] in that order: CPython's algorithm (Shewchuk's partials, the special
 * sum of infinities, the half-even fix-up), with its errors. 0 and *out, or -1. */
static int
fsum_ordered(const double *v, Py_ssize_t n, double *out)
{
    Py_ssize_t i, j, np = 0, m = 32;
    double ps[32], *p = ps;
    double x, y, t, xsave, special_sum = 0.0, inf_sum = 0.0, hi, yr, lo = 0.0;
    for (Py_ssize_t k = 0; k < n; k++) {
        x = v[k];
        xsave = x;
        for (i = j = 0; j < np; j++) {
            y = p[j];
            if (fabs(x) < fabs(y)) {
                t = x;
                x = y;
                y = t;
            }
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                p[i++] = lo;
            x = hi;
        }
        np = i;
        if (x != 0.0) {
            if (!isfinite(x)) {
                if (isfinite(xsave)) {
                    PyErr_SetString(PyExc_OverflowError, "intermediate overflow in fsum");
                    goto error;
                }
                if (isinf(xsave))
                    inf_sum += xsave;
                special_sum += xsave;
                np = 0;
            } else {
                if (np >= m) {
                    Py_ssize_t nm = 2 * m;
                    double *bigger = PyMem_Malloc(nm * sizeof(double));
                    if (bigger == NULL) {
                        PyErr_NoMemory();
                        goto error;
                    }
                    memcpy(bigger, p, np * sizeof(double));
                    if (p != ps)
                        PyMem_Free(p);
                    p = bigger;
                    m = nm;
                }
                p[np++] = x;
            }
        }
    }
    if (special_sum != 0.0) {
        if (isnan(inf_sum)) {
            PyErr_SetString(PyExc_ValueError, "-inf + inf in fsum");
            goto error;
        }
        *out = special_sum;
        goto ok;
    }
    hi = 0.0;
    if (np > 0) {
        hi = p[--np];
        while (np > 0) {
            x = hi;
            y = p[--np];
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                break;
        }
        if (np > 0 && ((lo < 0.0 && p[np - 1] < 0.0) || (lo > 0.0 && p[np - 1] > 0.0))) {
            y = lo * 2.0;
            x = hi + y;
            yr = x - hi;
            if (y == yr)
                hi = x;
        }
    }
    *out = hi;
ok:
    if (p != ps)
        PyMem_Free(p);
    return 0;
error:
    if (p != ps)
        PyMem_Free(p);
    return -1;
}

/* ---------------------------------------------------------------- selection --------- */

static inline void
swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* Put the k-th smallest of v[left:right) at v[k], smaller or equal ones before it, greater or
 * equal ones after (v holds no NaN). Quickselect on a median of three, falling back to a
 * sort of what is left after 2 log2(n) + 8 rounds, so hostile values cost O(n log n) at
 * worst. */
static void
select_kth(double *v, Py_ssize_t left, Py_ssize_t right, Py_ssize_t k)
{
    int budget = 8;
    for (Py_ssize_t s = right - left; s > 1; s >>= 1)
        budget += 2;
    while (right - left > 16) {
        if (budget-- == 0) {
            qsort(v + left, (size_t)(right - left), sizeof(double), double_cmp);
            return;
        }
        Py_ssize_t mid = left + (right - left) / 2, last = right - 1;
        if (v[mid] < v[left])
            swap_d(&v[mid], &v[left]);
        if (v[last] < v[left])
            swap_d(&v[last], &v[left]);
        if (v[last] < v[mid])
            swap_d(&v[last], &v[mid]);
        double pivot = v[mid];
        Py_ssize_t i = left, j = last;
        while (i <= j) {  /* Hoare partition: [left, j] <= pivot <= [i, right) */
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) {
                swap_d(&v[i], &v[j]);
                i++;
                j--;
            }
        }
        if (k <= j)
            right = j + 1;
        else if (k >= i)
            left = i;
        else
            return;  /* j < k < i: v[k] equals the pivot, in place */
    }
    for (Py_ssize_t a = left + 1; a < right; a++) {  /* insertion sort of the rest */
        double x = v[a];
        Py_ssize_t b = a;
        while (b > left && x < v[b - 1]) {
            v[b] = v[b - 1];
            b--;
        }
        v[b] = x;
    }
}

ORDER_CMP(pos_cmp, Py_ssize_t)

/* summarize_numbers(values, qs, total) -> (sum | None, [percentiles]): math.fsum of the
 * values (in ascending order) and the q-th percentile for each q (linear interpolation,
 * as query.aggregate.percentile), of a writable non-empty float64 buffer without NaN, which
 * is reordered in place. The positions the percentiles read are selected in ascending
 * order, each selection only over what lies above the previous one: O(k) expected. The sum
 * runs over the values in their order when no prefix of any order can overflow (k * max|v|
 * below DBL_MAX / 4): fsum is then exact whatever the order; otherwise over the sorted
 * values, as the specification does. */
PyObject *
py_summarize_numbers(PyObject *module, PyObject *args)
{
    Py_buffer b = {0};
    PyObject *qs_obj, *qs = NULL, *result = NULL, *percentiles = NULL, *sum = NULL;
    int total;
    Py_ssize_t *wanted = NULL;
    double *qv = NULL;
    if (!PyArg_ParseTuple(args, "w*Op:summarize_numbers", &b, &qs_obj, &total))
        return NULL;
    if (b.len % 8) {
        PyErr_SetString(PyExc_ValueError, "summarize_numbers expects float64 values");
        goto done;
    }
    double *v = b.buf;
    Py_ssize_t n = b.len / 8;
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "summarize_numbers needs at least one value");
        goto done;
    }
    qs = PySequence_Fast(qs_obj, "summarize_numbers expects a sequence of percentiles");
    if (qs == NULL)
        goto done;
    Py_ssize_t nq = PySequence_Fast_GET_SIZE(qs);
    qv = PyMem_Malloc((nq ? nq : 1) * sizeof(double));
    wanted = PyMem_Malloc((2 * nq + 1) * sizeof(Py_ssize_t));
    if (qv == NULL || wanted == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t nw = 0;
    for (Py_ssize_t i = 0; i < nq; i++) {
        qv[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(qs, i));
        if (qv[i] == -1.0 && PyErr_Occurred())
            goto done;
        if (!(qv[i] >= 0.0 && qv[i] <= 100.0)) {
            PyErr_SetString(PyExc_ValueError, "a percentile lies in [0, 100]");
            goto done;
        }
        if (n > 1) {
            double pos = ((double)(n - 1) * qv[i]) / 100.0;
            Py_ssize_t lo = (Py_ssize_t)floor(pos);
            wanted[nw++] = lo;
            wanted[nw++] = lo + 1 < n - 1 ? lo + 1 : n - 1;
        }
    }
    double sum_value = 0.0;
    if (total) {  /* before the selections reorder the values: either order is exact */
        double big = 0.0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (isfinite(v[i]) && fabs(v[i]) > big)
                big = fabs(v[i]);
        if (big >= (DBL_MAX / 4) / (double)n)
            qsort(v, (size_t)n, sizeof(double), double_cmp);
        if (fsum_ordered(v, n, &sum_value) < 0)
            goto done;
    }
    qsort(wanted, (size_t)nw, sizeof(Py_ssize_t), pos_cmp);
    Py_ssize_t done_below = 0;  /* v[:done_below] hold their sorted values, the rest >= */
    for (Py_ssize_t i = 0; i < nw; i++) {
        Py_ssize_t k = wanted[i];
        if (k < done_below)
            continue;
        select_kth(v, done_below, n, k);
        done_below = k + 1;
    }
    percentiles = PyList_New(nq);
    if (percentiles == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < nq; i++) {
        double r;
        if (n == 1) {
            r = v[0];
        } else {
            double pos = ((double)(n - 1) * qv[i]) / 100.0;
            Py_ssize_t lo = (Py_ssize_t)floor(pos), hi = lo + 1 < n - 1 ? lo + 1 : n - 1;
            double diff = v[hi] - v[lo];
            double frac = pos - (double)lo;
            double step = diff * frac;  /* two roundings, as Python's; never fused */
            r = v[lo] + step;
        }
        PyObject *f = PyFloat_FromDouble(r);
        if (f == NULL)
            goto done;
        PyList_SET_ITEM(percentiles, i, f);
    }
    sum = total ? PyFloat_FromDouble(sum_value) : Py_NewRef(Py_None);
    if (sum != NULL)
        result = PyTuple_Pack(2, sum, percentiles);
done:
    Py_XDECREF(sum);
    Py_XDECREF(percentiles);
    Py_XDECREF(qs);
    PyMem_Free(qv);
    PyMem_Free(wanted);
    PyBuffer_Release(&b);
    return result;
}
