// Module `bareosdir`: the functions and constants of the Bareos python-dir API (GetValue, SetValue, DebugMessage,
// JobMessage, RegisterEvents, UnRegisterEvents, GetInstanceCount; bRCs, bJobMessageType, bDirVariable,
// bwDirVariable, bDirEventType with Bareos' numbers), and `bareos_dir_consts`, the same dicts keyed by str, which
// Bareos' own Director base class imports.
//
// As `bareosfd`: multi-phase initialisation (one module object per interpreter), functions act on the instance
// current on the calling thread, and an old-generation context first argument is accepted and ignored.
#include "bareosfd_internal.h"

#define N(array) (sizeof(array) / sizeof((array)[0]))

static const opfd_const dir_variables[] = {
    {"bDirVarJob", 1},           {"bDirVarLevel", 2},        {"bDirVarType", 3},         {"bDirVarJobId", 4},
    {"bDirVarClient", 5},        {"bDirVarNumVols", 6},      {"bDirVarPool", 7},         {"bDirVarStorage", 8},
    {"bDirVarWriteStorage", 9},  {"bDirVarReadStorage", 10}, {"bDirVarCatalog", 11},     {"bDirVarMediaType", 12},
    {"bDirVarJobName", 13},      {"bDirVarJobStatus", 14},   {"bDirVarPriority", 15},    {"bDirVarVolumeName", 16},
    {"bDirVarCatalogRes", 17},   {"bDirVarJobErrors", 18},   {"bDirVarJobFiles", 19},    {"bDirVarSDJobFiles", 20},
    {"bDirVarSDErrors", 21},     {"bDirVarFDJobStatus", 22}, {"bDirVarSDJobStatus", 23}, {"bDirVarPluginDir", 24},
    {"bDirVarLastRate", 25},     {"bDirVarJobBytes", 26},    {"bDirVarReadBytes", 27},
};

static const opfd_const dir_write_variables[] = {
    {"bwDirVarJobReport", 1}, {"bwDirVarVolumeName", 2}, {"bwDirVarPriority", 3}, {"bwDirVarJobLevel", 4},
};

// `bDirEventRecyle` is Bareos' own spelling.
static const opfd_const dir_events[] = {
    {"bDirEventJobStart", 1},     {"bDirEventJobEnd", 2},     {"bDirEventJobInit", 3},
    {"bDirEventJobRun", 4},       {"bDirEventVolumePurged", 5}, {"bDirEventNewVolume", 6},
    {"bDirEventNeedVolume", 7},   {"bDirEventVolumeFull", 8}, {"bDirEventRecyle", 9},
    {"bDirEventGetScratch", 10},  {"bDirEventNewPluginOptions", 11},
};

/// The groups of both modules: (name in `bareosdir`, name in `bareos_dir_consts`, items). bRCs and
/// bJobMessageType are the file daemon's (found by name in opfd_const_groups).
typedef struct dir_group {
    const char *name;
    const char *consts_name;
    const opfd_const *items;
    size_t count;
} dir_group;

static size_t dir_groups(dir_group *groups) {
    size_t count = 0;
    for (size_t g = 0; g < opfd_const_group_count; g++) {
        const opfd_const_group *group = &opfd_const_groups[g];
        if (strcmp(group->dict_name, "bRCs") == 0 || strcmp(group->dict_name, "bJobMessageType") == 0) {
            groups[count++] = (dir_group){group->dict_name, group->dict_name, group->items, group->count};
        }
    }
    groups[count++] = (dir_group){"bDirVariable", "brDirVariable", dir_variables, N(dir_variables)};
    groups[count++] = (dir_group){"bwDirVariable", "bwDirVariable", dir_write_variables, N(dir_write_variables)};
    groups[count++] = (dir_group){"bDirEventType", "bDirEventType", dir_events, N(dir_events)};
    return count;
}

// MARK: - Helpers

static opfd_instance *require_director(void) {
    opfd_instance *instance = opfd_current();
    if (instance == NULL || !instance->director) {
        PyErr_SetString(PyExc_RuntimeError, "bareosdir: not called from a Director plugin (Dir Plugin Options)");
        return NULL;
    }
    return instance;
}

#define BEGIN(ARGS) OPFD_BEGIN(require_director, ARGS)
#define PARSE OPFD_PARSE

/// A warning job message from the module itself (an unsupported SetValue).
static void warn(opfd_instance *instance, const char *text) {
    if (opfd_cb.job_message != NULL && instance->job.host != NULL) {
        opfd_cb.job_message(instance->job.host, 5, text, strlen(text));
    }
}

// MARK: - Functions

static PyObject *dir_GetValue(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    BEGIN(args)
    static char *kwlist[] = {"var", NULL};
    int var = 0;
    PARSE(kwds, "i:GetValue", &var)
    const opfd_dir_values *dir = &instance->dir;
    switch (var) {
    case 1: return opfd_text_or_none(dir->job);
    case 2: return PyLong_FromLong(dir->level);
    case 3: return PyLong_FromLong(dir->job_type);
    case 4: return PyLong_FromLongLong(dir->job_id);
    case 5: return opfd_text_or_none(dir->client);
    case 6: return PyLong_FromLong(dir->num_vols);
    case 7: return opfd_text_or_none(dir->pool);
    case 8: return opfd_text_or_none(dir->storage);
    case 9: return opfd_text_or_none(dir->write_storage);
    case 10: return opfd_text_or_none(dir->read_storage);
    case 11: return opfd_text_or_none(dir->catalog);
    case 12: return opfd_text_or_none(dir->media_type);
    case 13: return opfd_text_or_none(dir->job_name);
    case 14: return PyLong_FromLong(dir->job_status);
    case 15: return PyLong_FromLong(dir->priority);
    case 16: return opfd_text_or_none(dir->volume_name);
    case 18: return PyLong_FromUnsignedLongLong(dir->job_errors);
    case 19: return PyLong_FromUnsignedLongLong(dir->job_files);
    case 20: return PyLong_FromUnsignedLongLong(dir->sd_job_files);
    case 21: return PyLong_FromUnsignedLongLong(dir->sd_errors);
    case 22: return PyLong_FromLong(dir->fd_job_status);
    case 23: return PyLong_FromLong(dir->sd_job_status);
    case 24: return opfd_text_or_none(dir->plugin_dir);
    case 25: return PyLong_FromUnsignedLongLong(dir->last_rate);
    case 26: return PyLong_FromUnsignedLongLong(dir->job_bytes);
    case 27: return PyLong_FromUnsignedLongLong(dir->read_bytes);
    default: Py_RETURN_NONE;  // 17 bDirVarCatalogRes (Bareos answers nothing either), unknown numbers
    }
}

static PyObject *dir_SetValue(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    BEGIN(args)
    static char *kwlist[] = {"var", "value", NULL};
    int var = 0;
    PyObject *value = NULL;
    PARSE(kwds, "iO:SetValue", &var, &value)
    switch (var) {
    case 3: {  // bwDirVarPriority: kept (GetValue answers it); this host schedules nothing by priority
        long priority = PyLong_AsLong(value);
        if (priority == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (priority < 0 || priority > INT32_MAX) {
            return PyLong_FromLong(2);
        }
        instance->dir.priority = (int)priority;
        return PyLong_FromLong(0);
    }
    case 1:
        warn(instance, "bareosdir.SetValue(bwDirVarJobReport) is not supported (as in Bareos)");
        return PyLong_FromLong(2);
    case 2:
        warn(instance, "bareosdir.SetValue(bwDirVarVolumeName) is not supported: volumes are named "
                       "<Job>-<JobId>-<NNNN>.tar by this host");
        return PyLong_FromLong(2);
    case 4:
        warn(instance, "bareosdir.SetValue(bwDirVarJobLevel) is not supported: the level is decided before "
                       "Director plugins load");
        return PyLong_FromLong(2);
    default:
        return PyLong_FromLong(2);
    }
}

static PyObject *dir_DebugMessage(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    opfd_instance *instance = require_director();
    return instance != NULL ? opfd_debug_message(instance, args, kwds) : NULL;
}

static PyObject *dir_JobMessage(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    opfd_instance *instance = require_director();
    return instance != NULL ? opfd_job_message(instance, args, kwds) : NULL;
}

/// RegisterEvents / UnRegisterEvents: bDirEvent* numbers 1..11 change the instance's event bits.
static PyObject *change_events(PyObject *args, PyObject *kwds, int set, const char *format) {
    opfd_instance *instance = require_director();
    return instance != NULL ? opfd_change_events(instance, args, kwds, set, format, (long)N(dir_events)) : NULL;
}

static PyObject *dir_RegisterEvents(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    return change_events(args, kwds, 1, "O:RegisterEvents");
}

static PyObject *dir_UnRegisterEvents(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    return change_events(args, kwds, 0, "O:UnRegisterEvents");
}

static PyObject *dir_GetInstanceCount(PyObject *module, PyObject *args, PyObject *kwds) {
    (void)module;
    BEGIN(args)
    (void)instance;
    static char *kwlist[] = {NULL};
    PARSE(kwds, ":GetInstanceCount", NULL)
    return PyLong_FromLong(opfd_live_instances);
}

// MARK: - Modules

#define METHOD(NAME, DOC) {#NAME, (PyCFunction)(void (*)(void))dir_##NAME, METH_VARARGS | METH_KEYWORDS, DOC}

static PyMethodDef module_methods[] = {
    METHOD(GetValue, "GetValue(var) -> value of a bDirVar* variable, or None"),
    METHOD(SetValue, "SetValue(var, value) -> bRC (bwDirVarPriority only)"),
    METHOD(DebugMessage, "DebugMessage(level, msg=None): debug log entry"),
    METHOD(JobMessage, "JobMessage(type, msg=None): job log entry of M_* type"),
    METHOD(RegisterEvents, "RegisterEvents(events) -> bRC"),
    METHOD(UnRegisterEvents, "UnRegisterEvents(events) -> bRC"),
    METHOD(GetInstanceCount, "GetInstanceCount() -> number of plugin instances"),
    {NULL, NULL, 0, NULL},
};

/// Adds every group as a dict (keys bytes in `bareosdir`, as Bareos' module has them; str in
/// `bareos_dir_consts`) and, in `bareosdir`, every constant as a module attribute.
static int add_groups(PyObject *module, int consts) {
    dir_group groups[8];
    size_t count = dir_groups(groups);
    for (size_t g = 0; g < count; g++) {
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return -1;
        }
        for (size_t i = 0; i < groups[g].count; i++) {
            const opfd_const *item = &groups[g].items[i];
            PyObject *key = consts ? PyUnicode_FromString(item->name) : PyBytes_FromString(item->name);
            PyObject *value = PyLong_FromLong(item->value);
            int failed = key == NULL || value == NULL || PyDict_SetItem(dict, key, value) < 0 ||
                         (!consts && PyModule_AddObjectRef(module, item->name, value) < 0);
            Py_XDECREF(key);
            Py_XDECREF(value);
            if (failed) {
                Py_DECREF(dict);
                return -1;
            }
        }
        int failed = PyModule_AddObjectRef(module, consts ? groups[g].consts_name : groups[g].name, dict) < 0;
        Py_DECREF(dict);
        if (failed) {
            return -1;
        }
    }
    return 0;
}

static int module_exec(PyObject *module) {
    return add_groups(module, 0);
}

static int consts_exec(PyObject *module) {
    return add_groups(module, 1);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static PyModuleDef_Slot consts_slots[] = {
    {Py_mod_exec, consts_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bareosdir",
    .m_doc = "Bareos director plugin interface (embedded in the OptionPipeline host).",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

static struct PyModuleDef consts_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bareos_dir_consts",
    .m_doc = "Constants of the Bareos python-dir API as dicts keyed by str.",
    .m_size = 0,
    .m_slots = consts_slots,
};

PyMODINIT_FUNC opfd_PyInit_bareosdir(void) {
    return PyModuleDef_Init(&module_def);
}

PyMODINIT_FUNC opfd_PyInit_bareos_dir_consts(void) {
    return PyModuleDef_Init(&consts_def);
}
