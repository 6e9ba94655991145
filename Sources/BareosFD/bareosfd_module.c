// Module `bareosfd`: the functions of the python-fd API (§3), its constants (§4) and the packet types (§5).
//
// Multi-phase initialisation: every interpreter that imports the module gets its own module object, own heap
// types and own constant objects; nothing Python-level is shared between interpreters. Functions act on the
// instance current on the calling thread (opfd_current), never on state captured at import time.
//
// Old-generation plugins pass an opaque context (PyCapsule "bareos.bpContext") as first argument of every function;
// it is recognised by its type and name, and ignored.
#include "bareosfd_internal.h"

static inline opfd_module_state *module_state(PyObject *module) {
    return (opfd_module_state *)PyModule_GetState(module);
}

// MARK: - Helpers

static opfd_instance *require_instance(void) {
    opfd_instance *instance = opfd_current();
    if (instance == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bareosfd: plugin_ctx is unset");
    }
    return instance;
}

PyObject *opfd_strip_context(PyObject *args) {
    if (PyTuple_GET_SIZE(args) > 0) {
        PyObject *first = PyTuple_GET_ITEM(args, 0);
        if (PyCapsule_CheckExact(first)) {
            const char *name = PyCapsule_GetName(first);
            if (name != NULL && strcmp(name, OPFD_CONTEXT_CAPSULE_NAME) == 0) {
                return PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
            }
        }
    }
    return Py_NewRef(args);
}

// Common start of every function: current instance, then the arguments without a context.
#define BEGIN(ARGS) OPFD_BEGIN(require_instance, ARGS)
#define PARSE OPFD_PARSE

#define PARSE_NONE(KWDS, NAME)                                                                     \
    static char *kwlist[] = {NULL};                                                                \
    int parsed = PyArg_ParseTupleAndKeywords(stripped, KWDS, ":" NAME, kwlist);                    \
    Py_DECREF(stripped);                                                                           \
    if (!parsed) {                                                                                 \
        return NULL;                                                                               \
    }

int opfd_message_text(PyObject *message, opfd_text *text) {
    text->owner = NULL;
    text->data = "";
    text->size = 0;
    if (message == NULL || message == Py_None) {
        return 0;
    }
    if (PyBytes_Check(message)) {
        text->data = PyBytes_AS_STRING(message);
        text->size = PyBytes_GET_SIZE(message);
        return 0;
    }
    if (!PyUnicode_Check(message)) {
        PyErr_Format(PyExc_TypeError, "message must be str or None, not %.100s", Py_TYPE(message)->tp_name);
        return -1;
    }
    return opfd_text_get(message, text);
}

PyObject *opfd_text_or_none(const char *value) {
    if (value == NULL) {
        Py_RETURN_NONE;
    }
    return opfd_decode(value, strlen(value));
}

// MARK: - GetValue / SetValue

static PyObject *accurate_options_set(int options) {
    if (options < 0) {
        Py_RETURN_NONE;
    }
    PyObject *set = PySet_New(NULL);
    if (set == NULL) {
        return NULL;
    }
    for (int bit = 0; bit < 13; bit++) {
        if (options & (1 << bit)) {
            PyObject *value = PyLong_FromLong(1L << bit);
            if (value == NULL || PySet_Add(set, value) < 0) {
                Py_XDECREF(value);
                Py_DECREF(set);
                return NULL;
            }
            Py_DECREF(value);
        }
    }
    PyObject *frozen = PyFrozenSet_New(set);
    Py_DECREF(set);
    return frozen;
}

static PyObject *fd_GetValue(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    BEGIN(args)
    static char *kwlist[] = {"var", NULL};
    int var = 0;
    PARSE(kwds, "i:GetValue", &var)
    const opfd_job *job = &instance->job;
    switch (var) {
    case 1: return PyLong_FromLongLong(job->job_id);
    case 2: return opfd_text_or_none(job->fd_name);
    case 3: return PyLong_FromLong(job->level);
    case 4: return PyLong_FromLong(job->job_type);
    case 5: return opfd_text_or_none(job->client);
    case 6: return opfd_text_or_none(job->job_name);
    case 7: return PyLong_FromLong(job->job_status);
    case 8: return PyLong_FromLongLong(job->since);
    case 9: return PyLong_FromLong(job->accurate ? 1 : 0);
    case 12: return opfd_text_or_none(job->working_dir);
    case 13: return opfd_text_or_none(job->where);
    case 14: return opfd_text_or_none(job->regexwhere);
    case 15: return opfd_text_or_none(job->exe_path);
    case 16: return opfd_text_or_none(job->version);
    case 18: return opfd_text_or_none(job->prev_job_name);
    case 19: return PyLong_FromLong(job->prefix_links ? 1 : 0);
    case 20: return PyBool_FromLong(instance->check_changes);
    case 21: return opfd_text_or_none(job->used_config);
    case 23: return accurate_options_set(job->accurate_options);
    default: Py_RETURN_NONE;  // 10 FileSeen (write-only), 11 VssClient, 17 DistName, 22 PluginPath, unknown
    }
}

static PyObject *file_seen(opfd_instance *instance, PyObject *fname, int seen) {
    if (!PyUnicode_Check(fname)) {
        PyErr_Format(PyExc_TypeError, "file name must be str, not %.100s", Py_TYPE(fname)->tp_name);
        return NULL;
    }
    opfd_text text;
    if (opfd_text_get(fname, &text) < 0) {
        return NULL;
    }
    int rc = opfd_cb.file_seen != NULL ? opfd_cb.file_seen(instance->job.host, text.data, (size_t)text.size, seen)
                                       : 2;
    opfd_text_release(&text);
    return PyLong_FromLong(rc);
}

static PyObject *fd_SetValue(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    BEGIN(args)
    static char *kwlist[] = {"var", "value", NULL};
    int var = 0;
    PyObject *value = NULL;
    PARSE(kwds, "iO:SetValue", &var, &value)
    switch (var) {
    case 3:  // bVarLevel (old generation)
    case 8: {  // bVarSinceTime
        if (!PyLong_Check(value)) {
            PyErr_Format(PyExc_TypeError, "value must be int, not %.100s", Py_TYPE(value)->tp_name);
            return NULL;
        }
        long long number = PyLong_AsLongLong(value);
        if (number == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (var == 3) {
            instance->job.level = (int)number;
        } else {
            instance->job.since = number;
        }
        return PyLong_FromLong(0);
    }
    case 10:  // bVarFileSeen
        return file_seen(instance, value, 1);
    case 20:  // bVarCheckChanges: only `True` enables
        instance->check_changes = value == Py_True;
        return PyLong_FromLong(0);
    default:
        return PyLong_FromLong(2);
    }
}

// MARK: - Messages and events (shared with `bareosdir`: the caller found the instance)

// Like BEGIN, for a function that was given its instance.
#define BEGIN_SHARED(ARGS)                                 \
    PyObject *stripped = opfd_strip_context(ARGS);         \
    if (stripped == NULL) {                                \
        return NULL;                                       \
    }

PyObject *opfd_debug_message(opfd_instance *instance, PyObject *args, PyObject *kwds) {
    BEGIN_SHARED(args)
    static char *kwlist[] = {"level", "msg", NULL};
    int level = 0;
    PyObject *message = NULL;
    PARSE(kwds, "i|O:DebugMessage", &level, &message)
    if (level <= instance->job.debug_level && opfd_cb.debug_message != NULL) {
        opfd_text text;
        if (opfd_message_text(message, &text) < 0) {
            return NULL;
        }
        opfd_cb.debug_message(instance->job.host, level, text.data, (size_t)text.size);
        opfd_text_release(&text);
    }
    Py_RETURN_NONE;
}

PyObject *opfd_job_message(opfd_instance *instance, PyObject *args, PyObject *kwds) {
    BEGIN_SHARED(args)
    static char *kwlist[] = {"type", "msg", NULL};
    int type = 0;
    PyObject *message = NULL;
    PARSE(kwds, "i|O:JobMessage", &type, &message)
    opfd_text text;
    if (opfd_message_text(message, &text) < 0) {
        return NULL;
    }
    if (opfd_cb.job_message != NULL) {
        opfd_cb.job_message(instance->job.host, type, text.data, (size_t)text.size);
    }
    opfd_text_release(&text);
    Py_RETURN_NONE;
}

PyObject *opfd_change_events(opfd_instance *instance, PyObject *args, PyObject *kwds, int set, const char *format,
                             long last_event) {
    BEGIN_SHARED(args)
    static char *kwlist[] = {"events", NULL};
    PyObject *events = NULL;
    PARSE(kwds, format, &events)
    PyObject *sequence = PySequence_Fast(events, "events must be a sequence of ints");
    if (sequence == NULL) {
        return NULL;
    }
    int rc = 2;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
    for (Py_ssize_t i = 0; i < count; i++) {
        long event = PyLong_AsLong(PySequence_Fast_GET_ITEM(sequence, i));
        if (event == -1 && PyErr_Occurred()) {
            Py_DECREF(sequence);
            return NULL;
        }
        if (event >= 1 && event <= last_event) {
            if (set) {
                instance->events |= (uint32_t)1 << event;
            } else {
                instance->events &= ~((uint32_t)1 << event);
            }
            rc = 0;
        }
    }
    Py_DECREF(sequence);
    return PyLong_FromLong(rc);
}

static PyObject *fd_DebugMessage(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    opfd_instance *instance = require_instance();
    return instance != NULL ? opfd_debug_message(instance, args, kwds) : NULL;
}

static PyObject *fd_JobMessage(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    opfd_instance *instance = require_instance();
    return instance != NULL ? opfd_job_message(instance, args, kwds) : NULL;
}

static PyObject *change_events(PyObject *args, PyObject *kwds, int set, const char *format) {
    opfd_instance *instance = require_instance();
    return instance != NULL ? opfd_change_events(instance, args, kwds, set, format, 31) : NULL;
}

static PyObject *fd_RegisterEvents(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    return change_events(args, kwds, 1, "O:RegisterEvents");
}

static PyObject *fd_UnRegisterEvents(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    return change_events(args, kwds, 0, "O:UnRegisterEvents");
}

static PyObject *fd_GetInstanceCount(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    BEGIN(args)
    (void)instance;
    PARSE_NONE(kwds, "GetInstanceCount")
    return PyLong_FromLong(opfd_live_instances);
}

// MARK: - FileSet

static PyObject *fileset_call(opfd_instance *instance, int op, PyObject *item, int type) {
    opfd_text text = {NULL, NULL, 0};
    if (item != NULL && item != Py_None) {
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "argument must be str or None, not %.100s", Py_TYPE(item)->tp_name);
            return NULL;
        }
        if (opfd_text_get(item, &text) < 0) {
            return NULL;
        }
    }
    int rc = opfd_cb.fileset != NULL
                 ? opfd_cb.fileset(instance->job.host, op, text.data, (size_t)text.size, type)
                 : 2;
    opfd_text_release(&text);
    return PyLong_FromLong(rc);
}

#define FILESET_ONE_ARG(FUNCTION, KEYWORD, OP)                                   \
    static PyObject *FUNCTION(PyObject *module, PyObject *args, PyObject *kwds) { \
        (void)module;                                                            \
        BEGIN(args)                                                              \
        static char *kwlist[] = {KEYWORD, NULL};                                 \
        PyObject *item = NULL;                                                   \
        PARSE(kwds, "|O", &item)                                                 \
        return fileset_call(instance, OP, item, 0);                              \
    }

FILESET_ONE_ARG(fd_AddExclude, "path", OPFD_FILESET_ADD_EXCLUDE)
FILESET_ONE_ARG(fd_AddInclude, "path", OPFD_FILESET_ADD_INCLUDE)
FILESET_ONE_ARG(fd_AddOptions, "opts", OPFD_FILESET_ADD_OPTIONS)

#define FILESET_ITEM_TYPE(FUNCTION, OP)                                          \
    static PyObject *FUNCTION(PyObject *module, PyObject *args, PyObject *kwds) { \
        (void)module;                                                            \
        BEGIN(args)                                                              \
        static char *kwlist[] = {"item", "type", NULL};                          \
        PyObject *item = NULL;                                                   \
        int type = 0;                                                            \
        PARSE(kwds, "|Oi", &item, &type)                                         \
        return fileset_call(instance, OP, item, type);                           \
    }

FILESET_ITEM_TYPE(fd_AddRegex, OPFD_FILESET_ADD_REGEX)
FILESET_ITEM_TYPE(fd_AddWild, OPFD_FILESET_ADD_WILD)

#define FILESET_NO_ARG(FUNCTION, NAME, OP)                                       \
    static PyObject *FUNCTION(PyObject *module, PyObject *args, PyObject *kwds) { \
        (void)module;                                                            \
        BEGIN(args)                                                              \
        PARSE_NONE(kwds, NAME)                                                   \
        return fileset_call(instance, OP, NULL, 0);                              \
    }

FILESET_NO_ARG(fd_NewOptions, "NewOptions", OPFD_FILESET_NEW_OPTIONS)
FILESET_NO_ARG(fd_NewInclude, "NewInclude", OPFD_FILESET_NEW_INCLUDE)
FILESET_NO_ARG(fd_NewPreInclude, "NewPreInclude", OPFD_FILESET_NEW_PRE_INCLUDE)

// MARK: - Accurate / FileSet checks on a SavePacket

static int save_packet_arg(PyObject *module, PyObject *object, opfd_SavePacket **packet) {
    opfd_module_state *state = module_state(module);
    if (!PyObject_TypeCheck(object, state->save_type)) {
        PyErr_Format(PyExc_TypeError, "argument must be a SavePacket, not %.100s", Py_TYPE(object)->tp_name);
        return -1;
    }
    *packet = (opfd_SavePacket *)object;
    return 0;
}

static PyObject *fd_CheckChanges(PyObject *module, PyObject *args, PyObject *kwds) {
    BEGIN(args)
    static char *kwlist[] = {"savepkt", NULL};
    PyObject *object = NULL;
    PARSE(kwds, "O:CheckChanges", &object)
    opfd_SavePacket *packet;
    if (save_packet_arg(module, object, &packet) < 0) {
        return NULL;
    }
    if (!instance->check_changes) {
        return PyLong_FromLong(0);
    }
    if (packet->fname == NULL || !PyUnicode_Check(packet->fname)) {
        return PyLong_FromLong(2);
    }
    opfd_text text;
    if (opfd_text_get(packet->fname, &text) < 0) {
        return NULL;
    }
    int accurate_found = packet->accurate_found;
    uint32_t delta_seq = packet->delta_seq;
    int rc = opfd_cb.check_changes != NULL
                 ? opfd_cb.check_changes(instance->job.host, text.data, (size_t)text.size, packet->type,
                                         (int64_t)packet->save_time, &accurate_found, &delta_seq)
                 : 0;
    opfd_text_release(&text);
    packet->accurate_found = accurate_found ? 1 : 0;
    packet->delta_seq = delta_seq;
    return PyLong_FromLong(rc);
}

static PyObject *fd_AcceptFile(PyObject *module, PyObject *args, PyObject *kwds) {
    BEGIN(args)
    static char *kwlist[] = {"savepkt", NULL};
    PyObject *object = NULL;
    PARSE(kwds, "O:AcceptFile", &object)
    opfd_SavePacket *packet;
    if (save_packet_arg(module, object, &packet) < 0) {
        return NULL;
    }
    opfd_module_state *state = module_state(module);
    if (packet->fname == NULL || !PyUnicode_Check(packet->fname) || packet->statp == NULL ||
        !PyObject_TypeCheck(packet->statp, state->stat_type)) {
        return PyLong_FromLong(2);
    }
    opfd_text text;
    if (opfd_text_get(packet->fname, &text) < 0) {
        return NULL;
    }
    uint32_t mode = ((opfd_StatPacket *)packet->statp)->mode;
    int rc = opfd_cb.accept_file != NULL ? opfd_cb.accept_file(instance->job.host, text.data, (size_t)text.size, mode)
                                         : 0;
    opfd_text_release(&text);
    return PyLong_FromLong(rc);
}

static PyObject *seen_bitmap(PyObject *args, PyObject *kwds, int seen, const char *format) {
    BEGIN(args)
    static char *kwlist[] = {"all", "fname", NULL};
    PyObject *all = NULL, *fname = NULL;
    PARSE(kwds, format, &all, &fname)
    int all_files = PyObject_IsTrue(all);
    if (all_files < 0) {
        return NULL;
    }
    int has_name = fname != NULL && fname != Py_None;
    if (all_files && has_name) {
        return PyLong_FromLong(2);
    }
    if (all_files) {
        int rc = opfd_cb.file_seen != NULL ? opfd_cb.file_seen(instance->job.host, NULL, 0, seen) : 2;
        return PyLong_FromLong(rc);
    }
    if (!has_name) {
        return PyLong_FromLong(2);
    }
    return file_seen(instance, fname, seen);
}

static PyObject *fd_SetSeenBitmap(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    return seen_bitmap(args, kwds, 1, "O|O:SetSeenBitmap");
}

static PyObject *fd_ClearSeenBitmap(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    return seen_bitmap(args, kwds, 0, "O|O:ClearSeenBitmap");
}

// MARK: - Module definition

#define METHOD(NAME, DOC) {#NAME, (PyCFunction)(void (*)(void))fd_##NAME, METH_VARARGS | METH_KEYWORDS, DOC}

static PyMethodDef module_methods[] = {
    METHOD(GetValue, "GetValue(var) -> value of a bVar* variable, or None"),
    METHOD(SetValue, "SetValue(var, value) -> bRC"),
    METHOD(DebugMessage, "DebugMessage(level, msg=None): debug log entry"),
    METHOD(JobMessage, "JobMessage(type, msg=None): job log entry of M_* type"),
    METHOD(RegisterEvents, "RegisterEvents(events) -> bRC"),
    METHOD(UnRegisterEvents, "UnRegisterEvents(events) -> bRC"),
    METHOD(GetInstanceCount, "GetInstanceCount() -> number of plugin instances"),
    METHOD(AddExclude, "AddExclude(path=None) -> bRC"),
    METHOD(AddInclude, "AddInclude(path=None) -> bRC"),
    METHOD(AddOptions, "AddOptions(opts=None) -> bRC"),
    METHOD(AddRegex, "AddRegex(item=None, type=0) -> bRC"),
    METHOD(AddWild, "AddWild(item=None, type=0) -> bRC"),
    METHOD(NewOptions, "NewOptions() -> bRC"),
    METHOD(NewInclude, "NewInclude() -> bRC"),
    METHOD(NewPreInclude, "NewPreInclude() -> bRC"),
    METHOD(CheckChanges, "CheckChanges(savepkt) -> bRC_OK (changed) or bRC_Seen (unchanged)"),
    METHOD(AcceptFile, "AcceptFile(savepkt) -> bRC_OK or bRC_Skip"),
    METHOD(SetSeenBitmap, "SetSeenBitmap(all, fname=None) -> bRC"),
    METHOD(ClearSeenBitmap, "ClearSeenBitmap(all, fname=None) -> bRC"),
    {NULL, NULL, 0, NULL},
};

static int add_constants(PyObject *module) {
    for (size_t g = 0; g < opfd_const_group_count; g++) {
        const opfd_const_group *group = &opfd_const_groups[g];
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return -1;
        }
        for (size_t i = 0; i < group->count; i++) {
            PyObject *key = PyBytes_FromString(group->items[i].name);
            PyObject *value = PyLong_FromLong(group->items[i].value);
            int failed = key == NULL || value == NULL || PyDict_SetItem(dict, key, value) < 0 ||
                         PyModule_AddObjectRef(module, group->items[i].name, value) < 0;
            Py_XDECREF(key);
            Py_XDECREF(value);
            if (failed) {
                Py_DECREF(dict);
                return -1;
            }
        }
        int failed = PyModule_AddObjectRef(module, group->dict_name, dict) < 0;
        Py_DECREF(dict);
        if (failed) {
            return -1;
        }
    }
    PyObject *levels = PyDict_New();
    if (levels == NULL) {
        return -1;
    }
    for (size_t i = 0; i < opfd_level_count; i++) {
        PyObject *key = PyBytes_FromString(opfd_levels[i].name);
        PyObject *value = PyBytes_FromString(opfd_levels[i].letter);
        PyObject *attribute = PyUnicode_FromString(opfd_levels[i].letter);
        int failed = key == NULL || value == NULL || attribute == NULL || PyDict_SetItem(levels, key, value) < 0 ||
                     PyModule_AddObjectRef(module, opfd_levels[i].name, attribute) < 0;
        Py_XDECREF(key);
        Py_XDECREF(value);
        Py_XDECREF(attribute);
        if (failed) {
            Py_DECREF(levels);
            return -1;
        }
    }
    int failed = PyModule_AddObjectRef(module, "bLevels", levels) < 0;
    Py_DECREF(levels);
    return failed ? -1 : 0;
}

static int module_exec(PyObject *module) {
    opfd_module_state *state = module_state(module);
    if (opfd_types_add(module, state) < 0 || add_constants(module) < 0) {
        return -1;
    }
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg) {
    opfd_module_state *state = module_state(module);
    return state != NULL ? opfd_types_traverse(state, visit, arg) : 0;
}

static int module_clear(PyObject *module) {
    opfd_module_state *state = module_state(module);
    if (state != NULL) {
        opfd_types_clear(state);
    }
    return 0;
}

static void module_free(void *module) {
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bareosfd",
    .m_doc = "Bareos file daemon plugin interface (embedded in the OptionPipeline host).",
    .m_size = sizeof(opfd_module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC opfd_PyInit_bareosfd(void) {
    return PyModuleDef_Init(&module_def);
}
