/* liveflow._idset: the remembered event ids of one room, 12 bytes per slot instead of ~120 per dict entry.
 *
 * Layout: an open-addressing hash table of `cap` slots in two parallel arrays (allocated with PyMem, so
 * tracemalloc sees them):
 * - keys[i]:  the 64-bit fingerprint of an event id (the str hash of the id, a keyed SipHash cached in the
 *             string; 0 is mapped to 1), 0 = empty slot;
 * - times[i]: the id's event time as an int32 offset from `base` (ms).
 * A fingerprint's home slot is (fp * cap) >> 64 (a multiply-high, so `cap` need not be a power of two);
 * collisions probe linearly, wrapping at `cap`.
 *
 * Invariants:
 * - 0 <= used <= cap * 3 / 4 (rebuilt to a load of at most 3/5 beyond), and every occupied slot is reachable from its home
 *   slot without crossing an empty one (entries are removed only by rebuilding the table);
 * - each fingerprint occupies at most one slot; its time is the latest time it was added with;
 * - every stored time t satisfies base <= t <= base + INT32_MAX (a time beyond that rebuilds with a new base,
 *   dropping entries too old to be offset from it, which are far older than any dedup horizon).
 * Two different ids with the same 64-bit fingerprint are one entry: the second is judged a duplicate. The
 * chance per lookup is about used / 2^64 (1e-13 for 2 million remembered ids).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MIN_CAP 8
#define ADMIT_ACCEPTED 0 /* results of admit() */
#define ADMIT_DUPLICATE 1
#define ADMIT_LATE 2
#define REBASE_SLACK ((int64_t)1 << 30) /* a new base sits this far below the time that forced it */

typedef struct {
    PyObject_HEAD
    uint64_t *keys;
    int32_t *times;
    Py_ssize_t cap;
    Py_ssize_t used;
    int64_t base;
    int based; /* base has been set (by the first add) */
} IdSet;

static inline Py_ssize_t home(uint64_t fp, Py_ssize_t cap) {
    return (Py_ssize_t)(((unsigned __int128)fp * (uint64_t)cap) >> 64);
}

/* The fingerprint of an event id: its str hash (computed once and cached in the string by CPython). */
static int fingerprint(PyObject *arg, uint64_t *out) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "event id must be str, not %.100s", Py_TYPE(arg)->tp_name);
        return -1;
    }
    Py_hash_t value = PyObject_Hash(arg);
    if (value == -1) return -1;
    *out = value == 0 ? 1 : (uint64_t)value;
    return 0;
}

static int event_time(PyObject *arg, int64_t *out) {
    long long value = PyLong_AsLongLong(arg);
    if (value == -1 && PyErr_Occurred()) return -1;
    *out = value;
    return 0;
}

/* Arguments (event_id, t1, ..., tn): the id's fingerprint and n event times; -1 with an exception set. */
static int parse(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t n, const char *usage, uint64_t *fp,
                 int64_t *times) {
    if (nargs != n + 1) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments", usage, n + 1);
        return -1;
    }
    if (fingerprint(args[0], fp) < 0) return -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (event_time(args[k + 1], &times[k]) < 0) return -1;
    }
    return 0;
}

/* The slot holding fp, or the empty slot where it would go. */
static Py_ssize_t probe(const IdSet *self, uint64_t fp) {
    Py_ssize_t i = home(fp, self->cap);
    while (self->keys[i] != 0 && self->keys[i] != fp) {
        if (++i == self->cap) i = 0;
    }
    return i;
}

/* Move the entries with time >= keep_from into a table of new_cap slots based at new_base. */
static int rebuild(IdSet *self, Py_ssize_t new_cap, int64_t new_base, int64_t keep_from) {
    uint64_t *keys = PyMem_Calloc((size_t)new_cap, sizeof(uint64_t));
    int32_t *times = PyMem_Calloc((size_t)new_cap, sizeof(int32_t));
    if (keys == NULL || times == NULL) {
        PyMem_Free(keys);
        PyMem_Free(times);
        PyErr_NoMemory();
        return -1;
    }
    if (keep_from < new_base) keep_from = new_base;
    Py_ssize_t used = 0;
    for (Py_ssize_t j = 0; j < self->cap; j++) {
        uint64_t fp = self->keys[j];
        if (fp == 0) continue;
        int64_t t = self->base + self->times[j];
        if (t < keep_from) continue;
        Py_ssize_t i = home(fp, new_cap);
        while (keys[i] != 0) {
            if (++i == new_cap) i = 0;
        }
        keys[i] = fp;
        times[i] = (int32_t)(t - new_base);
        used++;
    }
    PyMem_Free(self->keys);
    PyMem_Free(self->times);
    self->keys = keys;
    self->times = times;
    self->cap = new_cap;
    self->used = used;
    self->base = new_base;
    return 0;
}

static Py_ssize_t capacity_for(Py_ssize_t used) {
    Py_ssize_t cap = MIN_CAP;
    while (used * 5 > cap * 3) cap += cap / 2; /* load <= 3/5 right after a rebuild */
    return cap;
}

static int IdSet_init(IdSet *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":IdSet", kwlist)) return -1;
    PyMem_Free(self->keys);
    PyMem_Free(self->times);
    self->keys = PyMem_Calloc(MIN_CAP, sizeof(uint64_t));
    self->times = PyMem_Calloc(MIN_CAP, sizeof(int32_t));
    if (self->keys == NULL || self->times == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->cap = MIN_CAP;
    self->used = 0;
    self->base = 0;
    self->based = 0;
    return 0;
}

static void IdSet_dealloc(IdSet *self) {
    PyMem_Free(self->keys);
    PyMem_Free(self->times);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int is_remembered(const IdSet *self, uint64_t fp, int64_t since) {
    Py_ssize_t i = probe(self, fp);
    return self->keys[i] == fp && self->base + self->times[i] >= since;
}

static PyObject *IdSet_remembered(IdSet *self, PyObject *const *args, Py_ssize_t nargs) {
    uint64_t fp;
    int64_t since;
    if (parse(args, nargs, 1, "remembered(event_id, since)", &fp, &since) < 0) return NULL;
    return PyBool_FromLong(is_remembered(self, fp, since));
}

/* Store fp with time ts (or keep its later time); -1 with an exception set on failure. */
static int store(IdSet *self, uint64_t fp, int64_t ts) {
    if (!self->based) {
        self->base = ts - REBASE_SLACK;
        self->based = 1;
    }
    if (ts < self->base) {
        PyErr_Format(PyExc_ValueError, "ts %lld is more than 2^30 ms before the first one", (long long)ts);
        return -1;
    }
    if (ts - self->base > INT32_MAX) {
        int64_t base = ts - REBASE_SLACK;
        if (rebuild(self, self->cap, base, base) < 0) return -1;
    }
    Py_ssize_t i = probe(self, fp);
    if (self->keys[i] == fp) {
        if (self->base + self->times[i] < ts) self->times[i] = (int32_t)(ts - self->base);
        return 0;
    }
    self->keys[i] = fp;
    self->times[i] = (int32_t)(ts - self->base);
    self->used++;
    if (self->used * 4 > self->cap * 3) return rebuild(self, capacity_for(self->used), self->base, self->base);
    return 0;
}

static PyObject *IdSet_add(IdSet *self, PyObject *const *args, Py_ssize_t nargs) {
    uint64_t fp;
    int64_t ts;
    if (parse(args, nargs, 1, "add(event_id, ts)", &fp, &ts) < 0 || store(self, fp, ts) < 0) return NULL;
    Py_RETURN_NONE;
}

/* The whole of dedup-then-lateness in one call, for the per-event path of liveflow.core.ingest. */
static PyObject *IdSet_admit(IdSet *self, PyObject *const *args, Py_ssize_t nargs) {
    uint64_t fp;
    int64_t times[3]; /* ts, since, late_below */
    if (parse(args, nargs, 3, "admit(event_id, ts, since, late_below)", &fp, times) < 0) return NULL;
    int64_t ts = times[0], since = times[1], late_below = times[2];
    if (is_remembered(self, fp, since)) return PyLong_FromLong(ADMIT_DUPLICATE);
    if (ts < late_below) return PyLong_FromLong(ADMIT_LATE);
    if (store(self, fp, ts) < 0) return NULL;
    return PyLong_FromLong(ADMIT_ACCEPTED);
}

static PyObject *IdSet_forget_before(IdSet *self, PyObject *arg) {
    int64_t bound;
    if (event_time(arg, &bound) < 0) return NULL;
    /* count first: most calls of a quiet room have nothing to drop and should not reallocate */
    Py_ssize_t kept = 0;
    for (Py_ssize_t j = 0; j < self->cap; j++) {
        if (self->keys[j] != 0 && self->base + self->times[j] >= bound) kept++;
    }
    if (kept == self->used) Py_RETURN_NONE;
    if (rebuild(self, capacity_for(kept), self->base, bound) < 0) return NULL;
    Py_RETURN_NONE;
}

static Py_ssize_t IdSet_len(IdSet *self) { return self->used; }

static PyObject *IdSet_get_nbytes(IdSet *self, void *closure) {
    (void)closure;
    return PyLong_FromSsize_t(self->cap * (Py_ssize_t)(sizeof(uint64_t) + sizeof(int32_t)));
}

static PyObject *IdSet_sizeof(IdSet *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromSsize_t((Py_ssize_t)sizeof(IdSet) +
                              self->cap * (Py_ssize_t)(sizeof(uint64_t) + sizeof(int32_t)));
}

static PyMethodDef IdSet_methods[] = {
    {"admit", (PyCFunction)(void (*)(void))IdSet_admit, METH_FASTCALL,
     "admit(event_id, ts, since, late_below): 1 if the id is remembered with a time >= since, else 2 if\n"
     "ts < late_below, else 0 after adding the id with time ts."},
    {"remembered", (PyCFunction)(void (*)(void))IdSet_remembered, METH_FASTCALL,
     "remembered(event_id, since): the id is stored with a time >= since."},
    {"add", (PyCFunction)(void (*)(void))IdSet_add, METH_FASTCALL,
     "add(event_id, ts): store the id with time ts (keeping the later time if it is stored)."},
    {"forget_before", (PyCFunction)IdSet_forget_before, METH_O,
     "forget_before(bound): drop every entry with a time < bound and shrink the table to fit."},
    {"__sizeof__", (PyCFunction)IdSet_sizeof, METH_NOARGS, "Bytes of the object and its table."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef IdSet_getset[] = {
    {"nbytes", (getter)IdSet_get_nbytes, NULL, "Bytes of the table (keys and times).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods IdSet_as_sequence = {
    .sq_length = (lenfunc)IdSet_len,
};

static PyTypeObject IdSetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "liveflow._idset.IdSet",
    .tp_doc = "Fingerprints of event ids with their event times: a compact set for dedup.",
    .tp_basicsize = sizeof(IdSet),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)IdSet_init,
    .tp_dealloc = (destructor)IdSet_dealloc,
    .tp_methods = IdSet_methods,
    .tp_getset = IdSet_getset,
    .tp_as_sequence = &IdSet_as_sequence,
};

static struct PyModuleDef idset_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "liveflow._idset",
    .m_doc = "A compact set of event-id fingerprints with event times (see liveflow.core.ingest).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__idset(void) {
    if (PyType_Ready(&IdSetType) < 0) return NULL;
    PyObject *module = PyModule_Create(&idset_module);
    if (module == NULL) return NULL;
    if (PyModule_AddIntConstant(module, "ACCEPTED", ADMIT_ACCEPTED) < 0 ||
        PyModule_AddIntConstant(module, "DUPLICATE", ADMIT_DUPLICATE) < 0 ||
        PyModule_AddIntConstant(module, "LATE", ADMIT_LATE) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&IdSetType);
    if (PyModule_AddObject(module, "IdSet", (PyObject *)&IdSetType) < 0) {
        Py_DECREF(&IdSetType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
