/*
 * The archive's kernels: word_lists, the buffers of a segment's words column (the distinct
 * words of each message as term numbers), from the word tokenizer of postings.c.
 */
#include "_native.h"

ORDER_CMP(cmp_u32, uint32_t)

/* word_lists(messages) -> (terms, codes, offsets): the distinct words of each message as
 * term numbers (int32, ascending: the order in which the batch first used its words), the
 * terms in that order, and offsets (int32, one more than the messages): the column buffers
 * of the archive's words list (pyarrow wraps them without a Python object per word). */
PyObject *
py_word_lists(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *messages;
    if (!PyArg_ParseTuple(args, "O!:word_lists", &PyList_Type, &messages))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(messages);
    if (check_ids(0, n) < 0)
        return NULL;
    Words ws;
    memset(&ws, 0, sizeof(ws));
    unsigned char *buf = NULL;
    Py_ssize_t buf_size = 0;
    PyObject *terms = NULL, *codes = NULL, *offsets = NULL, *result = NULL;
    if (table_init(&ws.table, 1024) < 0 || (ws.others = PyDict_New()) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *m = PyList_GET_ITEM(messages, i);
        if (!PyUnicode_Check(m)) {
            PyErr_Format(PyExc_TypeError, "a message must be a str, not %s",
                         Py_TYPE(m)->tp_name);
            goto done;
        }
        if (post_message(&ws, st->words_fn, m, (uint32_t)i, &buf, &buf_size) < 0)
            goto done;
    }
    Registry *r = &ws.reg;
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
    registry_free(&ws.reg);
    PyMem_Free(ws.table.slots);
    Py_XDECREF(ws.others);
    PyMem_Free(buf);
    return result;
}
