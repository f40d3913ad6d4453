/*
 * Entry records: encode_records, decode_records, take_entries (records.py is the
 * specification and documents the layout).
 *
 * Encoding walks each entry in the order of the specification, so the string tables (a dict
 * of codes, a list of strings, a doorkeeper bytearray, a limit and a count of set bits) are
 * changed exactly as the Python version changes them, including for an entry found unfit
 * half-way (it becomes the EXCEPTION byte and is kept as an object). Decoding checks every
 * read against the end of the records, every table code against its table and every count
 * against the bytes left: corrupt records raise ValueError, never read out of bounds.
 */
#include "_native.h"

#define MAX_ADMITTED 64
#define DOOR_BITS (1 << 20)
#define DOOR_FILL (DOOR_BITS >> 4)
#define MAX_DEPTH 32
#define N_LEVELS 6

/* LEVELS order (TRACE, DEBUG, INFO, WARN, ERROR, FATAL) -> index in common_spellings */
static const int level_common[N_LEVELS] = {5, 3, 0, 2, 1, 4};

#if PY_BIG_ENDIAN
#error "records are written little-endian: this build expects a little-endian machine"
#endif

/* ------------------------------------------------------------------ the output ------- */

int
out_grow(Out *o, Py_ssize_t n)
{
    Py_ssize_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + n) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    unsigned char *p = PyMem_Realloc(o->p, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->p = p;
    o->cap = cap;
    return 0;
}

/* ------------------------------------------------------------------ the tables ------- */

/* The kernels' own index of a table's items by their UTF-8 bytes (open addressing, FNV-1a):
 * strings found there need no str object, no dict lookup and no SipHash. It lives in a
 * capsule in the table's sixth slot; the pointers are the items' own UTF-8, alive as long as
 * the items list holds them (a table only grows; replacing its items resets the slot). */
typedef struct {
    uint32_t off;       /* of the string in the arena */
    uint32_t h;         /* the hash's high half (the low bits pick the slot) */
    uint32_t len_code;  /* len | code << 7: 16 bytes a slot keeps the index in cache */
    uint32_t full;      /* 0: an empty slot */
} MapSlot;

#define SEEN 256    /* direct-mapped cache: str object -> code, for shared strings */

/* The items' UTF-8 side by side in one arena, by code (decoding a message reads its pieces
 * from there, not from scattered str objects), and the hash index over them. */
struct Map {
    MapSlot *slots;
    Py_ssize_t cap, used, indexed;
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *code_off, *code_len;
    Py_ssize_t codes_cap;
    PyObject *seen[SEEN];       /* owned references (a freed address is never matched) */
    Py_ssize_t seen_code[SEEN];
};

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du

};

static inline uint32_t
crc32_of(const char *s, Py_ssize_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < n; i++)
        c = crc_table[(c ^ (unsigned char)s[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static inline uint64_t
fnv1a(const char *s, Py_ssize_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static void
map_free(PyObject *capsule)
{
    Map *m = PyCapsule_GetPointer(capsule, "records.map");
    if (m != NULL) {
        for (int i = 0; i < SEEN; i++)
            Py_XDECREF(m->seen[i]);
        PyMem_Free(m->slots);
        PyMem_Free(m->arena);
        PyMem_Free(m->code_off);
        PyMem_Free(m->code_len);
        PyMem_Free(m);
    }
}

/* Whether a[:n] == b[:n]: inline, 8 bytes at a time (table strings are short). */
static inline int
same_bytes(const char *a, const char *b, Py_ssize_t n)
{
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}

static Py_ssize_t
map_find(const Map *m, uint64_t h, const char *s, Py_ssize_t n)
{
    Py_ssize_t mask = m->cap - 1;
    for (Py_ssize_t i = (Py_ssize_t)(h & (uint64_t)mask);; i = (i + 1) & mask) {
        const MapSlot *slot = &m->slots[i];
        if (!slot->full)
            return -1;
        if (slot->h == (uint32_t)(h >> 32) && (slot->len_code & 0x7F) == (uint32_t)n &&
            same_bytes(m->arena + slot->off, s, n))
            return (Py_ssize_t)(slot->len_code >> 7);
    }
}

static int
slot_put(Map *m, uint64_t h, Py_ssize_t n, Py_ssize_t code)
{
    if (n > 0x7F || code >= (1 << 25))
        return 0;  /* never admitted (MAX_ADMITTED, the limits): left unindexed */
    if (2 * (m->used + 1) > m->cap) {
        Py_ssize_t cap = m->cap ? 2 * m->cap : 1024;
        MapSlot *slots = PyMem_Calloc((size_t)cap, sizeof(MapSlot));
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < m->cap; i++) {
            MapSlot *old = &m->slots[i];
            if (!old->full)
                continue;
            uint64_t oh = fnv1a(m->arena + old->off, old->len_code & 0x7F);
            Py_ssize_t j = (Py_ssize_t)(oh & (uint64_t)(cap - 1));
            while (slots[j].full)
                j = (j + 1) & (cap - 1);
            slots[j] = *old;
        }
        PyMem_Free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    Py_ssize_t j = (Py_ssize_t)(h & (uint64_t)(m->cap - 1));
    while (m->slots[j].full)
        j = (j + 1) & (m->cap - 1);
    m->slots[j] = (MapSlot){m->code_off[code], (uint32_t)(h >> 32),
                            (uint32_t)n | (uint32_t)code << 7, 1};
    m->used++;
    return 0;
}

/* Copy the items not indexed yet into the arena and index them. */
static int
map_sync(Map *m, PyObject *items)
{
    for (; m->indexed < PyList_GET_SIZE(items); m->indexed++) {
        Py_ssize_t code = m->indexed;
        PyObject *item = PyList_GET_ITEM(items, code);
        Py_ssize_t n = 0;
        const char *s = PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, &n) : NULL;
        if (s == NULL) {
            PyErr_Clear();
            n = 0;  /* not a string a record can name: an empty entry, never found */
        }
        if (code >= m->codes_cap) {
            Py_ssize_t cap = m->codes_cap ? 2 * m->codes_cap : 1024;
            uint32_t *off = PyMem_Realloc(m->code_off, sizeof(uint32_t) * (size_t)cap);
            if (off == NULL)
                return PyErr_NoMemory(), -1;
            m->code_off = off;
            uint32_t *len = PyMem_Realloc(m->code_len, sizeof(uint32_t) * (size_t)cap);
            if (len == NULL)
                return PyErr_NoMemory(), -1;
            m->code_len = len;
            m->codes_cap = cap;
        }
        if (m->arena_len + (size_t)n > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a string table passed 4 GiB");
            return -1;
        }
        if (m->arena_len + (size_t)n > m->arena_cap) {
            size_t cap = m->arena_cap ? m->arena_cap : 65536;
            while (cap < m->arena_len + (size_t)n)
                cap *= 2;
            char *arena = PyMem_Realloc(m->arena, cap);
            if (arena == NULL)
                return PyErr_NoMemory(), -1;
            m->arena = arena;
            m->arena_cap = cap;
        }
        if (n)
            memcpy(m->arena + m->arena_len, s, (size_t)n);
        m->code_off[code] = (uint32_t)m->arena_len;
        m->code_len[code] = (uint32_t)n;
        m->arena_len += (size_t)n;
        if (s != NULL && slot_put(m, fnv1a(s, n), n, code) < 0)
            return -1;
    }
    return 0;
}

/* The index of a table (the list [codes, items, door, limit, set, index]), made or brought
 * up to date with its items; borrowed from the table's capsule. */
static Map *
table_map(PyObject *table, PyObject *items)
{
    PyObject *index = PyList_GET_ITEM(table, 5);
    Map *m;
    if (PyCapsule_IsValid(index, "records.map")) {
        m = PyCapsule_GetPointer(index, "records.map");
        if (m->indexed > PyList_GET_SIZE(items)) {  /* items replaced: start over */
            memset(m->slots, 0, sizeof(MapSlot) * (size_t)m->cap);
            m->used = m->indexed = 0;
            m->arena_len = 0;
            for (int i = 0; i < SEEN; i++)
                Py_CLEAR(m->seen[i]);
        }
    } else {
        m = PyMem_Calloc(1, sizeof(Map));
        if (m == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        PyObject *capsule = PyCapsule_New(m, "records.map", map_free);
        if (capsule == NULL) {
            PyMem_Free(m);
            return NULL;
        }
        if (PyList_SetItem(table, 5, capsule) < 0)  /* steals */
            return NULL;
    }
    if (map_sync(m, items) < 0)
        return NULL;
    return m;
}

static int
table_bind(StrTable *t, PyObject *table)
{
    if (!PyList_CheckExact(table) || PyList_GET_SIZE(table) != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "a table is a list [codes, items, door, limit, set, index]");
        return -1;
    }
    t->table = table;
    t->codes = PyList_GET_ITEM(table, 0);
    t->items = PyList_GET_ITEM(table, 1);
    PyObject *door = PyList_GET_ITEM(table, 2);
    if (!PyDict_CheckExact(t->codes) || !PyList_CheckExact(t->items) ||
        !PyByteArray_CheckExact(door) || PyByteArray_GET_SIZE(door) != DOOR_BITS / 8) {
        PyErr_SetString(PyExc_TypeError, "a table is a list [codes, items, door, limit, set]");
        return -1;
    }
    t->door = (unsigned char *)PyByteArray_AS_STRING(door);
    t->limit = PyLong_AsSsize_t(PyList_GET_ITEM(table, 3));
    t->door_set = PyLong_AsSsize_t(PyList_GET_ITEM(table, 4));
    if ((t->limit == -1 || t->door_set == -1) && PyErr_Occurred())
        return -1;
    Map *m = table_map(table, t->items);
    if (m == NULL)
        return -1;
    t->map = m;
    t->admits = 1;
    return 0;
}

/* Write the doorkeeper's count back into the Python list. */
static int
table_sync(StrTable *t)
{
    PyObject *n = PyLong_FromSsize_t(t->door_set);
    if (n == NULL)
        return -1;
    return PyList_SetItem(t->table, 4, n);  /* steals n */
}

/* Bind the three tables of the list `list` (names, words, values). */
int
tables_bind(StrTable *tables, PyObject *list)
{
    if (!PyList_CheckExact(list) || PyList_GET_SIZE(list) != N_TABLES) {
        PyErr_SetString(PyExc_TypeError, "three tables expected");
        return -1;
    }
    for (int k = 0; k < N_TABLES; k++)
        if (table_bind(&tables[k], PyList_GET_ITEM(list, k)) < 0)
            return -1;
    return 0;
}

int
tables_sync(StrTable *tables)
{
    int rc = 0;
    for (int k = 0; k < N_TABLES; k++)
        if (table_sync(&tables[k]) < 0)
            rc = -1;
    return rc;
}

/* array(typecode) holding a copy of nbytes of data. */
PyObject *
new_array(const State *st, char typecode, const void *data, Py_ssize_t nbytes)
{
    PyObject *raw = PyBytes_FromStringAndSize((const char *)data, nbytes);
    if (raw == NULL)
        return NULL;
    PyObject *arr = PyObject_CallFunction(st->array_type, "CO", typecode, raw);
    Py_DECREF(raw);
    return arr;
}

/* ------------------------------------------------------------------ encoding --------- */


/* The string of UTF-8 raw[:n] (s: its str when there is one, else NULL: made only if it is
 * admitted) through table t: a code or the bytes inline. */
int
put_utf8(Out *o, PyObject *s, const char *raw, Py_ssize_t n, StrTable *t)
{
    if (t->admits) {
        uint64_t h = fnv1a(raw, n);
        Py_ssize_t c = t->map->cap ? map_find(t->map, h, raw, n) : -1;
        if (c >= 0)
            return put_varint(o, ((uint64_t)c << 1) | 1);
        if (n <= MAX_ADMITTED && PyList_GET_SIZE(t->items) < t->limit) {
            uint32_t bit = crc32_of(raw, n) & (DOOR_BITS - 1);
            unsigned char mask = (unsigned char)(1u << (bit & 7));
            if (t->door[bit >> 3] & mask) {
                c = PyList_GET_SIZE(t->items);
                PyObject *item = s != NULL ? Py_NewRef(s)
                    : PyUnicode_DecodeUTF8(raw, n, "strict");
                PyObject *code = item ? PyLong_FromSsize_t(c) : NULL;
                if (code == NULL || PyList_Append(t->items, item) < 0 ||
                    PyDict_SetItem(t->codes, item, code) < 0) {
                    Py_XDECREF(item);
                    Py_XDECREF(code);
                    return -1;
                }
                Py_DECREF(code);
                Py_DECREF(item);  /* the list holds it */
                if (map_sync(t->map, t->items) < 0)
                    return -1;
                return put_varint(o, ((uint64_t)c << 1) | 1);
            }
            t->door[bit >> 3] |= mask;
            if (++t->door_set >= DOOR_FILL) {
                memset(t->door, 0, DOOR_BITS / 8);
                t->door_set = 0;
            }
        }
    }
    if (put_varint(o, (uint64_t)n << 1) < 0)
        return -1;
    return put_bytes(o, raw, n);
}

static int
put_string(Out *o, PyObject *s, StrTable *t)
{
    if (!PyUnicode_CheckExact(s))
        return UNFIT;
    Map *m = t->map;
    int slot = (int)(((uintptr_t)s >> 4) & (SEEN - 1));
    if (m != NULL && m->seen[slot] == s)  /* a shared string met before (source, key, tag) */
        return put_varint(o, ((uint64_t)m->seen_code[slot] << 1) | 1);
    Py_ssize_t n;
    const char *raw = PyUnicode_AsUTF8AndSize(s, &n);
    if (raw == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            return UNFIT;
        }
        return -1;
    }
    if (m != NULL && m->cap) {
        Py_ssize_t c = map_find(m, fnv1a(raw, n), raw, n);
        if (c >= 0) {
            Py_INCREF(s);
            Py_XSETREF(m->seen[slot], s);
            m->seen_code[slot] = c;
            return put_varint(o, ((uint64_t)c << 1) | 1);
        }
    }
    return put_utf8(o, s, raw, n, t);
}

static int put_object(Out *o, PyObject *d, StrTable *tables, int depth);

static int
put_value(Out *o, PyObject *v, StrTable *tables, int depth)
{
    if (v == Py_None)
        return put_byte(o, 0);
    if (PyBool_Check(v))
        return put_byte(o, v == Py_True ? 2 : 1);
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (overflow)
            return UNFIT;
        if (put_byte(o, 3) < 0)
            return -1;
        uint64_t z = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
        return put_varint(o, z);
    }
    if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        if (put_byte(o, 4) < 0)
            return -1;
        return put_bytes(o, &d, 8);
    }
    if (PyUnicode_CheckExact(v)) {
        if (put_byte(o, 5) < 0)
            return -1;
        return put_string(o, v, &tables[T_VALUES]);
    }
    if (PyList_CheckExact(v)) {
        if (depth >= MAX_DEPTH)
            return UNFIT;
        if (put_byte(o, 6) < 0 || put_varint(o, (uint64_t)PyList_GET_SIZE(v)) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            int r = put_value(o, PyList_GET_ITEM(v, i), tables, depth + 1);
            if (r)
                return r;
        }
        return 0;
    }
    if (PyDict_CheckExact(v)) {
        if (depth >= MAX_DEPTH)
            return UNFIT;
        if (put_byte(o, 7) < 0)
            return -1;
        return put_object(o, v, tables, depth + 1);
    }
    return UNFIT;
}

static int
put_object(Out *o, PyObject *d, StrTable *tables, int depth)
{
    if (put_varint(o, (uint64_t)PyDict_GET_SIZE(d)) < 0)
        return -1;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &key, &value)) {
        int r = put_string(o, key, &tables[T_NAMES]);
        if (r)
            return r;
        r = put_value(o, value, tables, depth);
        if (r)
            return r;
    }
    return 0;
}

/* value as `width` decimal digits (zero-padded) at buf[*n]. */
static inline void
put_digits(char *buf, int *n, int value, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        buf[*n + k] = (char)('0' + value % 10);
        value /= 10;
    }
    *n += width;
}

/* The instant printed with `digits` fraction digits and the suffix (0 'Z', 1 '+00:00') into
 * buf (>= 40 bytes): its length, or 0 outside years 1-9999 (render_timestamp's None). */
static Py_ssize_t
render(double instant, int digits, int suffix, char *buf)
{
    if (!isfinite(instant))
        return 0;
    double scaled = nearbyint(instant * 1e6);   /* round half to even, as round() */
    if (!(scaled > -9.2e18 && scaled < 9.2e18))
        return 0;
    int64_t us = (int64_t)scaled;
    int64_t day_us = INT64_C(86400000000);
    int64_t days = us / day_us, rem = us % day_us;
    if (rem < 0) {
        rem += day_us;
        days -= 1;
    }
    /* civil from days (H. Hinnant), days since 1970-01-01 */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y += 1;
    if (y < 1 || y > 9999)
        return 0;
    int64_t secs = rem / 1000000, micro = rem % 1000000;
    int fields[6] = {(int)y, (int)m, (int)d, (int)(secs / 3600), (int)(secs / 60 % 60),
                     (int)(secs % 60)};
    static const char seps[6] = {'-', '-', 'T', ':', ':', 0};
    int n = 0;
    put_digits(buf, &n, fields[0], 4);
    for (int k = 1; k < 6; k++) {
        buf[n++] = seps[k - 1];
        put_digits(buf, &n, fields[k], 2);
    }
    if (digits > 0) {
        char frac[6];
        int f = 0;
        put_digits(frac, &f, (int)micro, 6);
        buf[n++] = '.';
        memcpy(buf + n, frac, (size_t)digits);
        n += digits;
    }
    if (suffix == 0) {
        buf[n++] = 'Z';
    } else {
        memcpy(buf + n, "+00:00", 6);
        n += 6;
    }
    buf[n] = '\0';
    return n;
}

/* _timestamp_code of the specification: the code + 3, or 0 for a literal. */
int
timestamp_code(const char *s, Py_ssize_t len, double instant)
{
    int suffix;
    Py_ssize_t body;
    if (len >= 1 && s[len - 1] == 'Z') {
        suffix = 0;
        body = len - 1;
    } else if (len >= 6 && memcmp(s + len - 6, "+00:00", 6) == 0) {
        suffix = 1;
        body = len - 6;
    } else {
        return 0;
    }
    int digits = body > 20 ? (int)(body - 20) : 0;
    if (body != 19 && !(body >= 21 && body <= 26))
        return 0;
    char buf[48];
    Py_ssize_t n = render(instant, digits, suffix, buf);
    if (n != len || memcmp(buf, s, (size_t)n) != 0)
        return 0;
    return (digits | suffix << 4) + 3;
}

int
level_code(State *st, PyObject *level)
{
    if (level == NULL || !PyUnicode_CheckExact(level))
        return -1;
    for (int k = 0; k < N_LEVELS; k++)
        if (level == st->common_names[level_common[k]])
            return k;
    for (int k = 0; k < N_LEVELS; k++) {
        int eq = PyUnicode_Compare(level, st->common_names[level_common[k]]);
        if (eq == 0)
            return k;
    }
    if (PyErr_Occurred())
        PyErr_Clear();
    return -1;
}

static inline int
same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* One record (the specification's _record): 0, UNFIT or -1. */
int
put_record(State *st, Out *o, PyObject *e, StrTable *tables)
{
    if (Py_TYPE(e) != st->entry_type)
        return UNFIT;
    if (entry_ready(st, e) < 0)
        return -1;
    PyObject *v[N_SLOTS];
    for (int k = 0; k < N_SLOTS; k++)
        v[k] = SLOT(st, e, k);
    int level = level_code(st, v[S_LEVEL]);
    if (level < 0 || v[S_TS] == NULL || !PyFloat_CheckExact(v[S_TS]))
        return UNFIT;
    double instant = PyFloat_AS_DOUBLE(v[S_TS]);
    PyObject *thread = v[S_THREAD_ID], *request = v[S_REQUEST_ID], *user = v[S_USER_ID];
    PyObject *text = v[S_TIMESTAMP];
    if (text == NULL || thread == NULL || request == NULL || user == NULL)
        return UNFIT;   /* a slot never set: the specification's AttributeError */
    unsigned char flags = (unsigned char)((thread != Py_None) | (request != Py_None) << 1 |
                                          (user != Py_None) << 2);
    if (put_byte(o, (unsigned char)level) < 0 || put_byte(o, flags) < 0)
        return -1;
    int r;
    if (PyUnicode_CheckExact(text)) {
        int code = !PyUnicode_IS_ASCII(text) ? 0
            : timestamp_code((const char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                             instant);
        if (put_varint(o, (uint64_t)code) < 0)
            return -1;
        if (!code) {
            StrTable inline_only = {0};
            r = put_string(o, text, &inline_only);
            if (r)
                return r;
        }
    } else if (PyFloat_CheckExact(text) && same_bits(PyFloat_AS_DOUBLE(text), instant)) {
        if (put_byte(o, 1) < 0)
            return -1;
    } else if (PyLong_CheckExact(text)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(text, &overflow);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (overflow)
            return UNFIT;
        if (put_byte(o, 2) < 0 || put_varint(o, ((uint64_t)x << 1) ^ (uint64_t)(x >> 63)) < 0)
            return -1;
    } else {
        return UNFIT;
    }
    if (v[S_SOURCE] == NULL)
        return UNFIT;
    if ((r = put_string(o, v[S_SOURCE], &tables[T_NAMES])))
        return r;
    PyObject *message = v[S_MESSAGE];
    if (message == NULL || !PyUnicode_CheckExact(message))
        return UNFIT;
    /* the pieces of message.split(" "), on its UTF-8 (a space is never inside a character) */
    Py_ssize_t mlen;
    const char *m = PyUnicode_AsUTF8AndSize(message, &mlen);
    if (m == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            return UNFIT;
        }
        return -1;
    }
    Py_ssize_t count = 1;
    for (const char *q = m; (q = memchr(q, ' ', (size_t)(m + mlen - q))) != NULL; q++)
        count++;
    if (put_varint(o, (uint64_t)count) < 0)
        return -1;
    if (count == 1) {
        if ((r = put_utf8(o, message, m, mlen, &tables[T_WORDS])))
            return r;
    } else {
        const char *start = m, *end = m + mlen;
        for (;;) {
            const char *q = memchr(start, ' ', (size_t)(end - start));
            const char *stop = q ? q : end;
            if ((r = put_utf8(o, NULL, start, stop - start, &tables[T_WORDS])))
                return r;
            if (q == NULL)
                break;
            start = q + 1;
        }
    }
    PyObject *ids[3] = {thread, request, user};
    for (int k = 0; k < 3; k++)
        if (ids[k] != Py_None && (r = put_string(o, ids[k], &tables[T_VALUES])))
            return r;
    PyObject *tags = v[S_TAGS];
    if (tags == NULL || !PyList_CheckExact(tags))
        return UNFIT;
    if (put_varint(o, (uint64_t)PyList_GET_SIZE(tags)) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tags); i++)
        if ((r = put_string(o, PyList_GET_ITEM(tags, i), &tables[T_NAMES])))
            return r;
    PyObject *metadata = v[S_METADATA];
    if (metadata == NULL || !PyDict_CheckExact(metadata))
        return UNFIT;
    return put_object(o, metadata, tables, 0);
}

/* encode_records(entries, tables) -> (bytes, array('I') offsets, list of kept positions) */
PyObject *
py_encode_records(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    PyObject *entries, *tables_arg;
    if (!PyArg_ParseTuple(args, "O!O!:encode_records", &PyList_Type, &entries, &PyList_Type,
                          &tables_arg))
        return NULL;
    if (check_configured(st) < 0)
        return NULL;
    StrTable tables[N_TABLES];
    if (tables_bind(tables, tables_arg) < 0)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(entries);
    Out o = {NULL, 0, 0};
    uint32_t *offsets = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n + 1));
    PyObject *kept = PyList_New(0), *result = NULL;
    if (offsets == NULL || kept == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t start = o.len;
        PyObject *e = PyList_GET_ITEM(entries, i);
        Py_INCREF(e);
        int r = put_record(st, &o, e, tables);
        Py_DECREF(e);
        if (r < 0)
            goto done;
        if (r == UNFIT) {
            o.len = start;
            if (put_byte(&o, EXCEPTION_BYTE) < 0)
                goto done;
            PyObject *pos = PyLong_FromSsize_t(i);
            if (pos == NULL || PyList_Append(kept, pos) < 0) {
                Py_XDECREF(pos);
                goto done;
            }
            Py_DECREF(pos);
        }
        if (o.len > (Py_ssize_t)UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a chunk's records passed 4 GiB");
            goto done;
        }
        offsets[i + 1] = (uint32_t)o.len;
    }
    PyObject *data = PyBytes_FromStringAndSize((const char *)o.p, o.len);
    PyObject *offs = data ? new_array(st, 'I', offsets,
                                      (Py_ssize_t)sizeof(uint32_t) * (n + 1)) : NULL;
    if (data != NULL && offs != NULL)
        result = PyTuple_Pack(3, data, offs, kept);
    Py_XDECREF(data);
    Py_XDECREF(offs);
done:
    if (tables_sync(tables) < 0)
        Py_CLEAR(result);
    PyMem_Free(o.p);
    PyMem_Free(offsets);
    Py_XDECREF(kept);
    return result;
}

/* ------------------------------------------------------------------ decoding --------- */

typedef struct {
    const unsigned char *p, *end;
    PyObject *items[N_TABLES];   /* borrowed lists */
    Map *words;                  /* the words table's arena, by code */
    int depth;
} Reader;

static int
corrupt(void)
{
    PyErr_SetString(PyExc_ValueError, "corrupt entry record");
    return -1;
}

static int
get_varint_long(Reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return corrupt();
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) {
            *out = v;
            return 0;
        }
    }
    return corrupt();
}

static inline int
get_varint(Reader *r, uint64_t *out)
{
    if (r->p < r->end && *r->p < 0x80) {  /* most varints are one byte */
        *out = *r->p++;
        return 0;
    }
    return get_varint_long(r, out);
}

/* A count of items that follow (each at least one byte): a varint no larger than the bytes
 * left, so a corrupt count never allocates or loops past the record. */
static int
get_count(Reader *r, uint64_t *out)
{
    if (get_varint(r, out) < 0)
        return -1;
    if (*out > (uint64_t)(r->end - r->p))
        return corrupt();
    return 0;
}

static inline int
all_ascii(const unsigned char *s, Py_ssize_t n)
{
    uint64_t high = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        high |= w;
    }
    unsigned char tail = 0;
    for (; i < n; i++)
        tail |= s[i];
    return !(high & UINT64_C(0x8080808080808080)) && tail < 0x80;
}

/* A str of n UTF-8 bytes (strict). */
static PyObject *
make_str(const unsigned char *s, Py_ssize_t n)
{
    if (all_ascii(s, n)) {
        PyObject *u = PyUnicode_New(n, 127);
        if (u != NULL)
            memcpy(PyUnicode_DATA(u), s, (size_t)n);
        return u;
    }
    return PyUnicode_DecodeUTF8((const char *)s, n, "strict");
}

/* The string at r: a new reference (a table's item or a new str). */
static PyObject *
get_string(Reader *r, int table)
{
    uint64_t v;
    if (get_varint(r, &v) < 0)
        return NULL;
    if (v & 1) {
        if (table < 0) {
            corrupt();
            return NULL;
        }
        PyObject *items = r->items[table];
        uint64_t code = v >> 1;
        if (code >= (uint64_t)PyList_GET_SIZE(items)) {
            corrupt();
            return NULL;
        }
        PyObject *s = PyList_GET_ITEM(items, (Py_ssize_t)code);
        Py_INCREF(s);
        return s;
    }
    uint64_t n = v >> 1;
    if (n > (uint64_t)(r->end - r->p)) {
        corrupt();
        return NULL;
    }
    PyObject *s = make_str(r->p, (Py_ssize_t)n);
    r->p += n;
    return s;
}

/* The bytes of the string at r, without making a str when it is a table's item:
 * *s and *n point into the table item's UTF-8 or into the records. */
static int
get_string_bytes(Reader *r, int table, const char **s, Py_ssize_t *n)
{
    uint64_t v;
    if (get_varint(r, &v) < 0)
        return -1;
    if (v & 1) {
        PyObject *items = r->items[table];
        uint64_t code = v >> 1;
        if (code >= (uint64_t)PyList_GET_SIZE(items))
            return corrupt();
        Map *m = r->words;
        if (table == T_WORDS && m != NULL && code < (uint64_t)m->indexed) {
            *s = m->arena + m->code_off[code];  /* read before any allocation */
            *n = (Py_ssize_t)m->code_len[code];
            return 0;
        }
        PyObject *item = PyList_GET_ITEM(items, (Py_ssize_t)code);
        if (!PyUnicode_Check(item))
            return corrupt();
        *s = PyUnicode_AsUTF8AndSize(item, n);
        return *s == NULL ? -1 : 0;
    }
    uint64_t len = v >> 1;
    if (len > (uint64_t)(r->end - r->p))
        return corrupt();
    *s = (const char *)r->p;
    *n = (Py_ssize_t)len;
    r->p += len;
    return 0;
}

static PyObject *get_object(Reader *r);

static PyObject *
get_value(Reader *r)
{
    if (r->p >= r->end) {
        corrupt();
        return NULL;
    }
    unsigned char tag = *r->p++;
    uint64_t v;
    switch (tag) {
    case 0:
        Py_RETURN_NONE;
    case 1:
        Py_RETURN_FALSE;
    case 2:
        Py_RETURN_TRUE;
    case 3:
        if (get_varint(r, &v) < 0)
            return NULL;
        return PyLong_FromLongLong((long long)((v >> 1) ^ (~(v & 1) + 1)));
    case 4: {
        if (r->end - r->p < 8) {
            corrupt();
            return NULL;
        }
        double d;
        memcpy(&d, r->p, 8);
        r->p += 8;
        return PyFloat_FromDouble(d);
    }
    case 5:
        return get_string(r, T_VALUES);
    case 6: {
        if (get_count(r, &v) < 0)
            return NULL;
        if (r->depth >= MAX_DEPTH + 1) {
            corrupt();
            return NULL;
        }
        PyObject *list = PyList_New((Py_ssize_t)v);
        if (list == NULL)
            return NULL;
        r->depth++;
        for (Py_ssize_t i = 0; i < (Py_ssize_t)v; i++) {
            PyObject *item = get_value(r);
            if (item == NULL) {
                r->depth--;
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, i, item);
        }
        r->depth--;
        return list;
    }
    case 7: {
        if (r->depth >= MAX_DEPTH + 1) {
            corrupt();
            return NULL;
        }
        r->depth++;
        PyObject *d = get_object(r);
        r->depth--;
        return d;
    }
    default:
        corrupt();
        return NULL;
    }
}

static PyObject *
get_object(Reader *r)
{
    uint64_t n;
    if (get_count(r, &n) < 0)
        return NULL;
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        PyObject *key = get_string(r, T_NAMES);
        PyObject *value = key ? get_value(r) : NULL;
        if (value == NULL || PyDict_SetItem(d, key, value) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    return d;
}

/* The message: its pieces joined with single spaces. */
static PyObject *
get_message(Reader *r)
{
    uint64_t count;
    if (get_count(r, &count) < 0)
        return NULL;
    if (count == 0)  /* never written; the specification joins no pieces */
        return PyUnicode_FromStringAndSize("", 0);
    if (count == 1)
        return get_string(r, T_WORDS);
    char small[1024];
    char *buf = small;
    Py_ssize_t cap = sizeof small, len = 0;
    PyObject *result = NULL;
    for (uint64_t k = 0; k < count; k++) {
        const char *s;
        Py_ssize_t n;
        if (get_string_bytes(r, T_WORDS, &s, &n) < 0)
            goto done;
        Py_ssize_t need = len + n + 1;
        if (need > cap) {
            Py_ssize_t ncap = cap;
            while (ncap < need)
                ncap *= 2;
            char *nbuf = PyMem_Malloc((size_t)ncap);
            if (nbuf == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            memcpy(nbuf, buf, (size_t)len);
            if (buf != small)
                PyMem_Free(buf);
            buf = nbuf;
            cap = ncap;
        }
        if (k)
            buf[len++] = ' ';
        if (n)  /* an empty piece may point at no arena yet */
            memcpy(buf + len, s, (size_t)n);
        len += n;
    }
    result = make_str((const unsigned char *)buf, len);
done:
    if (buf != small)
        PyMem_Free(buf);
    return result;
}

/* The fields after a record's level byte (r at its flags) into v: the timestamp, message,
 * source, ids, tags and metadata as new references. v[S_TS] is the instant's float, shared by
 * a timestamp that is the instant itself. 0, or -1 with an exception (the caller releases
 * what v holds). */
static int
decode_fields(Reader *r, double instant, PyObject **v)
{
    if (r->p >= r->end)
        return corrupt();
    unsigned char flags = *r->p++;
    uint64_t code;
    if (get_varint(r, &code) < 0)
        return -1;
    if (code >= 3) {
        code -= 3;
        if ((code & 0xF) > 6 || (code >> 4) > 1)
            return corrupt();
        char buf[48];
        Py_ssize_t n = render(instant, (int)(code & 0xF), (int)(code >> 4), buf);
        v[S_TIMESTAMP] = n == 0 ? Py_NewRef(Py_None) : PyUnicode_FromStringAndSize(buf, n);
    } else if (code == 1) {  /* the instant itself, as the specification shares it */
        v[S_TIMESTAMP] = Py_NewRef(v[S_TS]);
    } else if (code == 2) {
        uint64_t z;
        if (get_varint(r, &z) < 0)
            return -1;
        v[S_TIMESTAMP] = PyLong_FromLongLong((long long)((z >> 1) ^ (~(z & 1) + 1)));
    } else {
        v[S_TIMESTAMP] = get_string(r, -1);
    }
    if (v[S_TIMESTAMP] == NULL)
        return -1;
    if ((v[S_SOURCE] = get_string(r, T_NAMES)) == NULL)
        return -1;
    if ((v[S_MESSAGE] = get_message(r)) == NULL)
        return -1;
    for (int k = 0; k < 3; k++) {
        int slot = S_THREAD_ID + k;
        if (flags & (1 << k)) {
            if ((v[slot] = get_string(r, T_VALUES)) == NULL)
                return -1;
        } else {
            v[slot] = Py_NewRef(Py_None);
        }
    }
    uint64_t ntags;
    if (get_count(r, &ntags) < 0)
        return -1;
    if ((v[S_TAGS] = PyList_New((Py_ssize_t)ntags)) == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)ntags; i++) {
        PyObject *tag = get_string(r, T_NAMES);
        if (tag == NULL)
            return -1;
        PyList_SET_ITEM(v[S_TAGS], i, tag);
    }
    if ((v[S_METADATA] = get_object(r)) == NULL)
        return -1;
    return 0;
}

/* The entry kept as an object at position pos of a chunk (kept: its dict, or None): a new
 * reference, NULL with an exception. */
static PyObject *
kept_entry(PyObject *kept, Py_ssize_t pos)
{
    PyObject *e = NULL;
    if (kept != Py_None && PyDict_Check(kept)) {
        PyObject *key = PyLong_FromSsize_t(pos);
        if (key == NULL)
            return NULL;
        e = PyDict_GetItemWithError(kept, key);
        Py_DECREF(key);
        if (e == NULL && PyErr_Occurred())
            return NULL;
    }
    if (e == NULL) {
        PyErr_Format(PyExc_ValueError, "record %zd was kept as an object but is missing", pos);
        return NULL;
    }
    return Py_NewRef(e);
}

static int tables_of(PyObject *tables, PyObject **out, Map **words, PyObject **hold);

/* A lazy entry's record: its chunk's records (an object with the buffer interface), the
 * tables its codes index, where it starts and its instant. Nothing it references can lead
 * back to an entry, so it is not tracked by the cyclic collector. */
typedef struct {
    PyObject_HEAD
    PyObject *data;
    PyObject *tables;
    Py_ssize_t start;
    double instant;
} Record;

static void
record_dealloc(PyObject *self)
{
    Record *rec = (Record *)self;
    PyTypeObject *type = Py_TYPE(self);
    Py_XDECREF(rec->data);
    Py_XDECREF(rec->tables);
    type->tp_free(self);
    Py_DECREF(type);
}

/* Decode the record of the lazy entry e (its _record slot set) into its unset slots and
 * clear the slot. Slots set meanwhile (by the owner, or by a finalizer reading the entry
 * during an allocation here) keep their values. */
int
fill_lazy(const State *st, PyObject *e)
{
    if (Py_TYPE(e) != st->entry_type || st->record_offset <= 0)
        return 0;
    PyObject **slot = (PyObject **)((char *)e + st->record_offset);
    if (*slot == NULL)
        return 0;
    if (!Py_IS_TYPE(*slot, st->record_type)) {
        PyErr_SetString(PyExc_TypeError, "LogEntry._record is not a record");
        return -1;
    }
    Record *rec = (Record *)Py_NewRef(*slot);
    PyObject *items[N_TABLES], *hold = NULL, *v[N_SLOTS] = {NULL};
    Map *words = NULL;
    Py_buffer data;
    int rc = -1;
    if (PyObject_GetBuffer(rec->data, &data, PyBUF_SIMPLE) < 0) {
        Py_DECREF(rec);
        return -1;
    }
    if (tables_of(rec->tables, items, &words, &hold) < 0)
        goto done;
    if (rec->start < 0 || rec->start >= data.len) {
        corrupt();
        goto done;
    }
    Reader r = {(const unsigned char *)data.buf + rec->start + 1,
                (const unsigned char *)data.buf + data.len,
                {items[0], items[1], items[2]}, words, 0};
    PyObject *ts = SLOT(st, e, S_TS);
    v[S_TS] = ts != NULL && PyFloat_CheckExact(ts) && PyFloat_AS_DOUBLE(ts) == rec->instant
        ? Py_NewRef(ts) : PyFloat_FromDouble(rec->instant);
    if (v[S_TS] == NULL || decode_fields(&r, rec->instant, v) < 0)
        goto done;
    for (int k = 0; k < N_SLOTS; k++) {
        if (k == S_TS || k == S_LEVEL)
            continue;
        PyObject **at = &SLOT(st, e, k);
        if (*at == NULL) {
            *at = v[k];   /* the reference moved */
            v[k] = NULL;
        }
    }
    if (*slot == (PyObject *)rec)
        Py_CLEAR(*slot);
    PyObject *tags = SLOT(st, e, S_TAGS);  /* decoded: strings only, as the entry was untracked */
    if (tags != NULL && PyList_CheckExact(tags) && PyObject_GC_IsTracked(tags) &&
        !PyObject_GC_IsTracked(e)) {
        Py_ssize_t i = 0;
        while (i < PyList_GET_SIZE(tags) && PyUnicode_CheckExact(PyList_GET_ITEM(tags, i)))
            i++;
        if (i == PyList_GET_SIZE(tags))
            PyObject_GC_UnTrack(tags);
    }
    rc = 0;
done:
    for (int k = 0; k < N_SLOTS; k++)
        Py_XDECREF(v[k]);
    Py_XDECREF(hold);
    PyBuffer_Release(&data);
    Py_DECREF(rec);
    return rc;
}

/* entry_getattr(entry, name): LogEntry.__getattr__ as the accelerator installs it (no
 * Python frame): fill a lazy entry, then read the attribute; AttributeError otherwise. */
PyObject *
py_entry_getattr(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "entry_getattr(entry, name)");
        return NULL;
    }
    if (fill_lazy(get_state(module), args[0]) < 0)
        return NULL;
    return PyObject_GenericGetAttr(args[0], args[1]);
}

/* fill_entry(entry): decode a lazy entry's fields now (pickling, copying); else nothing. */
PyObject *
py_fill_entry(PyObject *module, PyObject *entry)
{
    if (fill_lazy(get_state(module), entry) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyType_Slot record_slots[] = {
    {Py_tp_dealloc, record_dealloc},
    {Py_tp_doc, "The record a LogEntry decodes its fields from on first read."},
    {0, NULL},
};

static PyType_Spec record_spec = {
    "log_analytics_engine._native._speedups.Record", sizeof(Record), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, record_slots,
};

int
records_exec(PyObject *module, State *st)
{
    st->record_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &record_spec, NULL);
    return st->record_type == NULL ? -1 : 0;
}

/* One entry from the record at data[start:] (position pos of its chunk) with the instant;
 * kept: the chunk's dict of entries kept as objects (or None). Lazy (source: the chunk's
 * records object, tables: the tables list): only the instant and level are set, the rest is
 * decoded from a Record on first read. A new reference, NULL with an exception. */
static PyObject *
decode_one(State *st, const unsigned char *data, Py_ssize_t size, Py_ssize_t start,
           Py_ssize_t pos, double instant, PyObject *const *items, Map *words, PyObject *kept,
           PyObject *source, PyObject *tables)
{
    if (start < 0 || start >= size) {
        corrupt();
        return NULL;
    }
    Reader r = {data + start, data + size, {items[0], items[1], items[2]}, words, 0};
    unsigned char level = *r.p++;
    if (level == EXCEPTION_BYTE)
        return kept_entry(kept, pos);
    if (level >= N_LEVELS) {
        corrupt();
        return NULL;
    }
    PyObject *v[N_SLOTS] = {NULL};
    v[S_LEVEL] = Py_NewRef(st->common_names[level_common[level]]);
    if ((v[S_TS] = PyFloat_FromDouble(instant)) == NULL)
        goto fail;
    Record *rec = NULL;
    if (source != NULL) {
        if (r.p >= r.end) {  /* the flags byte at least: the rest is checked on first read */
            corrupt();
            goto fail;
        }
        rec = PyObject_New(Record, st->record_type);
        if (rec == NULL)
            goto fail;
        rec->data = Py_NewRef(source);
        rec->tables = Py_NewRef(tables);
        rec->start = start;
        rec->instant = instant;
    } else if (decode_fields(&r, instant, v) < 0) {
        goto fail;
    }
    PyObject *entry = st->entry_type->tp_alloc(st->entry_type, 0);
    if (entry == NULL) {
        Py_XDECREF(rec);
        goto fail;
    }
    for (int k = 0; k < N_SLOTS; k++)
        SLOT(st, entry, k) = v[k];   /* references moved (NULL: decoded on first read) */
    if (rec != NULL) {
        *(PyObject **)((char *)entry + st->record_offset) = (PyObject *)rec;
        PyObject_GC_UnTrack(entry);  /* a float, a str and a record: no cycle */
    } else {
        untrack_if_acyclic(st, entry);
    }
    return entry;
fail:
    for (int k = 0; k < N_SLOTS; k++)
        Py_XDECREF(v[k]);
    return NULL;
}

/* The items lists of the three tables and the words table's index (capsule in *hold, a new
 * reference: kept alive while decoding). */
static int
tables_of(PyObject *tables, PyObject **out, Map **words, PyObject **hold)
{
    if (!PyList_Check(tables) || PyList_GET_SIZE(tables) != N_TABLES) {
        PyErr_SetString(PyExc_TypeError, "tables must be a list of three tables");
        return -1;
    }
    for (int k = 0; k < N_TABLES; k++) {
        PyObject *t = PyList_GET_ITEM(tables, k);
        if (!PyList_CheckExact(t) || PyList_GET_SIZE(t) != 6 ||
            !PyList_Check(PyList_GET_ITEM(t, 1))) {
            PyErr_SetString(PyExc_TypeError,
                            "a table is a list [codes, items, door, limit, set, index]");
            return -1;
        }
        out[k] = PyList_GET_ITEM(t, 1);
    }
    PyObject *wt = PyList_GET_ITEM(tables, T_WORDS);
    *words = table_map(wt, out[T_WORDS]);
    if (*words == NULL)
        return -1;
    *hold = Py_NewRef(PyList_GET_ITEM(wt, 5));
    return 0;
}

/* decode_records(data, offsets, positions, ts, ts_first, tables, kept) -> list */
PyObject *
py_decode_records(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    Py_buffer data, offsets, positions, ts;
    Py_ssize_t ts_first;
    PyObject *items_arg, *kept, *result = NULL, *items[N_TABLES], *hold = NULL;
    Map *words = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*y*nOO:decode_records", &data, &offsets, &positions,
                          &ts, &ts_first, &items_arg, &kept))
        return NULL;
    if (check_configured(st) < 0 || tables_of(items_arg, items, &words, &hold) < 0)
        goto done;
    if (offsets.len % 4 || positions.len % 4 || ts.len % 8) {
        PyErr_SetString(PyExc_TypeError, "offsets and positions are uint32, ts float64");
        goto done;
    }
    Py_ssize_t noff = offsets.len / 4, npos = positions.len / 4, nts = ts.len / 8;
    const uint32_t *off = offsets.buf, *pos = positions.buf;
    const double *stamps = ts.buf;
    result = PyList_New(npos);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < npos; i++) {
        Py_ssize_t p = pos[i];
        if (p >= noff - 1) {
            PyErr_Format(PyExc_IndexError, "record position %zd out of range", p);
            Py_CLEAR(result);
            goto done;
        }
        Py_ssize_t t = ts_first + p;
        if (t < 0 || t >= nts) {
            PyErr_SetString(PyExc_IndexError, "no instant for a record");
            Py_CLEAR(result);
            goto done;
        }
        PyObject *e = decode_one(st, data.buf, data.len, off[p], p, stamps[t], items, words,
                                 kept, NULL, NULL);
        if (e == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, e);
    }
done:
    Py_XDECREF(hold);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&positions);
    PyBuffer_Release(&ts);
    return result;
}

#define PREFETCH 12  /* ids ahead whose record take_entries asks the cache for */

/* take_entries(ids, chunks, first_block, chunk_bits, ts, base, tables, tail, tail_start,
 *              lazy=False) */
PyObject *
py_take_entries(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    Py_buffer ids, ts, data = {0}, offsets = {0};
    PyObject *chunks, *items_arg, *tail, *result = NULL, *items[N_TABLES], *hold = NULL;
    Map *words = NULL;
    Py_ssize_t first_block, bits, base, tail_start, held = -1;
    int lazy = 0;
    /* owned: a finalizer run by an allocation cannot free them */
    PyObject *kept = NULL, *chunk_held = NULL;
    if (!PyArg_ParseTuple(args, "y*O!nny*nOO!n|p:take_entries", &ids, &PyList_Type, &chunks,
                          &first_block, &bits, &ts, &base, &items_arg, &PyList_Type, &tail,
                          &tail_start, &lazy))
        return NULL;
    lazy = lazy && st->record_offset > 0;
    if (check_configured(st) < 0 || tables_of(items_arg, items, &words, &hold) < 0)
        goto done;
    if (ids.len % 4 || ts.len % 8 || bits < 0 || bits > 30) {
        PyErr_SetString(PyExc_TypeError, "ids are uint32, ts float64, 0 <= chunk_bits <= 30");
        goto done;
    }
    Py_ssize_t n = ids.len / 4, nts = ts.len / 8;
    const uint32_t *id = ids.buf;
    const double *stamps = ts.buf;
    Py_ssize_t mask = ((Py_ssize_t)1 << bits) - 1;
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = id[k];
        PyObject *e;
        if (i < base) {
            PyErr_Format(PyExc_IndexError, "id %zd is below the base %zd", i, base);
            goto fail;
        }
        if (i >= tail_start) {
            if (i - tail_start >= PyList_GET_SIZE(tail)) {
                PyErr_Format(PyExc_IndexError, "id %zd is past the last entry", i);
                goto fail;
            }
            e = PyList_GET_ITEM(tail, i - tail_start);
            Py_INCREF(e);
            PyList_SET_ITEM(result, k, e);
            continue;
        }
        Py_ssize_t slot = (i >> bits) - first_block;
        if (slot != held) {  /* the buffers of the chunk this id is in */
            if (held >= 0) {
                PyBuffer_Release(&data);
                PyBuffer_Release(&offsets);
                held = -1;
            }
            PyObject *chunk = slot >= 0 && slot < PyList_GET_SIZE(chunks)
                ? PyList_GET_ITEM(chunks, slot) : Py_None;
            if (!PyTuple_Check(chunk) || PyTuple_GET_SIZE(chunk) != 3) {
                PyErr_Format(PyExc_IndexError, "id %zd is in no chunk", i);
                goto fail;
            }
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(chunk, 0), &data, PyBUF_SIMPLE) < 0)
                goto fail;
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(chunk, 1), &offsets, PyBUF_SIMPLE) < 0) {
                PyBuffer_Release(&data);
                goto fail;
            }
            Py_XSETREF(kept, Py_NewRef(PyTuple_GET_ITEM(chunk, 2)));
            Py_XSETREF(chunk_held, Py_NewRef(chunk));
            held = slot;
            if (offsets.len % 4) {
                PyErr_SetString(PyExc_TypeError, "offsets are uint32");
                goto fail;
            }
        }
        Py_ssize_t p = i & mask, noff = offsets.len / 4;
        if (p >= noff - 1) {
            PyErr_Format(PyExc_IndexError, "record position %zd out of range", p);
            goto fail;
        }
        if (k + PREFETCH < n) {  /* the record a few ids on, if in this chunk: its first
                                  * byte is a cache miss that otherwise stalls each entry */
            Py_ssize_t j = id[k + PREFETCH];
            if (j >= base && j < tail_start && (j >> bits) - first_block == held &&
                (j & mask) < noff - 1) {
                uint32_t at = ((const uint32_t *)offsets.buf)[j & mask];
                if (at < (uint64_t)data.len)
                    PREFETCH_READ((const char *)data.buf + at);
            }
        }
        if (i - base >= nts) {
            PyErr_SetString(PyExc_IndexError, "no instant for a record");
            goto fail;
        }
        e = decode_one(st, data.buf, data.len, ((const uint32_t *)offsets.buf)[p], p,
                       stamps[i - base], items, words, kept,
                       lazy ? PyTuple_GET_ITEM(chunk_held, 0) : NULL, items_arg);
        if (e == NULL)
            goto fail;
        PyList_SET_ITEM(result, k, e);
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_XDECREF(kept);
    Py_XDECREF(chunk_held);
    Py_XDECREF(hold);
    if (held >= 0) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&offsets);
    }
    PyBuffer_Release(&ids);
    PyBuffer_Release(&ts);
    return result;
}

/* ------------------------------------------------------------------ numeric columns -- */

/* Step over a string (a code, or inline bytes). */
static inline int
skip_string(Reader *r)
{
    uint64_t v;
    if (get_varint(r, &v) < 0)
        return -1;
    if (v & 1)
        return 0;
    if ((v >> 1) > (uint64_t)(r->end - r->p))
        return corrupt();
    r->p += v >> 1;
    return 0;
}

/* Step over a typed value (depth-bounded like get_value). */
static int
skip_value(Reader *r)
{
    if (r->p >= r->end)
        return corrupt();
    unsigned char tag = *r->p++;
    uint64_t v;
    switch (tag) {
    case 0: case 1: case 2:
        return 0;
    case 3:
        return get_varint(r, &v);
    case 4:
        if (r->end - r->p < 8)
            return corrupt();
        r->p += 8;
        return 0;
    case 5:
        return skip_string(r);
    case 6:
    case 7:
        if (get_count(r, &v) < 0)
            return -1;
        if (r->depth >= MAX_DEPTH + 1)
            return corrupt();
        r->depth++;
        for (uint64_t i = 0; i < v; i++)
            if ((tag == 7 && skip_string(r) < 0) || skip_value(r) < 0) {
                r->depth--;
                return -1;
            }
        r->depth--;
        return 0;
    default:
        return corrupt();
    }
}

/* Where metadata[field] of the record at r is: 1 with r at its typed value, 0 when the key
 * is missing; code: the field's code in the names table (-1: none), name/len its UTF-8. */
static int
find_metadata(Reader *r, Py_ssize_t code, const char *name, Py_ssize_t len)
{
    if (r->p >= r->end)
        return corrupt();
    unsigned char flags = *r->p++;
    uint64_t v, ts_code;  /* the timestamp: 2 an int varint, 0 a literal string */
    if (get_varint(r, &ts_code) < 0)
        return -1;
    if (ts_code == 2 && get_varint(r, &v) < 0)
        return -1;
    if (ts_code == 0 && skip_string(r) < 0)
        return -1;
    if (skip_string(r) < 0 || get_count(r, &v) < 0)  /* the source, the message's pieces */
        return -1;
    for (uint64_t i = 0; i < v; i++)
        if (skip_string(r) < 0)
            return -1;
    for (int k = 0; k < 3; k++)
        if ((flags & (1 << k)) && skip_string(r) < 0)
            return -1;
    if (get_count(r, &v) < 0)
        return -1;
    for (uint64_t i = 0; i < v; i++)
        if (skip_string(r) < 0)
            return -1;
    if (get_count(r, &v) < 0)
        return -1;
    for (uint64_t i = 0; i < v; i++) {
        uint64_t key;
        if (get_varint(r, &key) < 0)
            return -1;
        int same;
        if (key & 1) {
            same = code >= 0 && (key >> 1) == (uint64_t)code;
        } else {
            if ((key >> 1) > (uint64_t)(r->end - r->p))
                return corrupt();
            same = (Py_ssize_t)(key >> 1) == len && memcmp(r->p, name, (size_t)len) == 0;
            r->p += key >> 1;
        }
        if (same)
            return 1;
        if (skip_value(r) < 0)
            return -1;
    }
    return 0;
}

/* numeric_records(data, offsets, start, stop, tables, field, kept, first_id)
 *   -> (values, ints, odd) | None
 * numeric_column of the entries at positions [start, stop) of a chunk, read from their
 * records without building them; None when a kept entry is not a plain LogEntry. */
PyObject *
py_numeric_records(PyObject *module, PyObject *args)
{
    State *st = get_state(module);
    Py_buffer data, offsets;
    Py_ssize_t start, stop, first;
    PyObject *tables, *field, *kept, *result = NULL;
    if (!PyArg_ParseTuple(args, "y*y*nnO!UOn:numeric_records", &data, &offsets, &start, &stop,
                          &PyList_Type, &tables, &field, &kept, &first))
        return NULL;
    uint32_t *ints = NULL, *odd = NULL;
    double *values = NULL;
    if (check_configured(st) < 0)
        goto done;
    Py_ssize_t noff = offsets.len / 4, n = stop - start, ni = 0, no = 0;
    if (offsets.len % 4 || start < 0 || stop < start || stop > noff - 1) {
        PyErr_SetString(PyExc_IndexError, "numeric_records: positions out of range");
        goto done;
    }
    if (first < 0 || first + n > (Py_ssize_t)UINT32_MAX + 1) {
        PyErr_SetString(PyExc_OverflowError, "numeric_records: ids must fit in 32 bits");
        goto done;
    }
    if (PyList_GET_SIZE(tables) != N_TABLES || !PyList_Check(PyList_GET_ITEM(tables, T_NAMES)) ||
        PyList_GET_SIZE(PyList_GET_ITEM(tables, T_NAMES)) != 6 ||
        !PyDict_Check(PyList_GET_ITEM(PyList_GET_ITEM(tables, T_NAMES), 0))) {
        PyErr_SetString(PyExc_TypeError, "tables must be a list of three tables");
        goto done;
    }
    PyObject *found = PyDict_GetItemWithError(
        PyList_GET_ITEM(PyList_GET_ITEM(tables, T_NAMES), 0), field);
    if (found == NULL && PyErr_Occurred())
        goto done;
    Py_ssize_t code = found != NULL ? PyLong_AsSsize_t(found) : -1;
    if (code == -1 && PyErr_Occurred())
        goto done;
    Py_ssize_t len;
    const char *name = PyUnicode_AsUTF8AndSize(field, &len);
    if (name == NULL)
        goto done;
    values = PyMem_Malloc(sizeof(double) * (size_t)(n ? n : 1));
    ints = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    odd = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    if (values == NULL || ints == NULL || odd == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const uint32_t *off = offsets.buf;
    const unsigned char *base = data.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t pos = start + i;
        uint32_t id = (uint32_t)(first + i);
        double d = Py_NAN;
        if (off[pos] >= (uint64_t)data.len) {
            corrupt();
            goto done;
        }
        if (base[off[pos]] == EXCEPTION_BYTE) {  /* an entry kept as an object */
            PyObject *key = PyLong_FromSsize_t(pos), *e = NULL, *v = NULL;
            if (key == NULL)
                goto done;
            if (PyDict_Check(kept))
                e = PyDict_GetItemWithError(kept, key);
            Py_DECREF(key);
            if (e == NULL) {
                if (!PyErr_Occurred())
                    PyErr_Format(PyExc_ValueError, "record %zd was kept but is missing", pos);
                goto done;
            }
            int got = entry_metadata_item(st, e, field, &v);
            if (got < 0)
                goto done;
            if (got == 0) {
                result = Py_NewRef(Py_None);
                goto done;
            }
            int kind = number_kind(v, &d);
            if (kind < 0)
                goto done;
            if (kind == NUM_INT)
                ints[ni++] = id;
            else if (kind == NUM_ODD)
                odd[no++] = id;
            values[i] = d;
            continue;
        }
        Reader r = {base + off[pos] + 1, base + data.len, {NULL, NULL, NULL}, NULL, 0};
        int at = find_metadata(&r, code, name, len);
        if (at < 0)
            goto done;
        if (at && r.p < r.end) {
            unsigned char tag = *r.p++;
            if (tag == 4) {
                if (r.end - r.p < 8) {
                    corrupt();
                    goto done;
                }
                memcpy(&d, r.p, 8);
            } else if (tag == 3) {
                uint64_t z;
                if (get_varint(&r, &z) < 0)
                    goto done;
                long long x = (long long)((z >> 1) ^ (~(z & 1) + 1));
                if (-EXACT_INT <= x && x <= EXACT_INT) {
                    d = (double)x;
                    ints[ni++] = id;
                } else {
                    odd[no++] = id;
                }
            }
        }
        values[i] = d;
    }
    PyObject *va = new_array(st, 'd', values, (Py_ssize_t)sizeof(double) * n);
    PyObject *ia = va ? new_array(st, 'I', ints, (Py_ssize_t)sizeof(uint32_t) * ni) : NULL;
    PyObject *oa = ia ? new_array(st, 'I', odd, (Py_ssize_t)sizeof(uint32_t) * no) : NULL;
    if (oa != NULL)
        result = PyTuple_Pack(3, va, ia, oa);
    Py_XDECREF(va);
    Py_XDECREF(ia);
    Py_XDECREF(oa);
done:
    PyMem_Free(values);
    PyMem_Free(ints);
    PyMem_Free(odd);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return result;
}
