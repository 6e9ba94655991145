// The constants of the Bareos python-fd API (numbers per the API reference, §4), and the old-generation module
// `bareos_fd_consts` that exposes them as str-keyed dicts.
#include "bareosfd_internal.h"

#define N(array) (sizeof(array) / sizeof((array)[0]))

static const opfd_const rcs[] = {
    {"bRC_OK", 0},   {"bRC_Stop", 1}, {"bRC_Error", 2}, {"bRC_More", 3},   {"bRC_Term", 4},
    {"bRC_Seen", 5}, {"bRC_Core", 6}, {"bRC_Skip", 7},  {"bRC_Cancel", 8},
};

static const opfd_const job_message_types[] = {
    {"M_ABORT", 1},    {"M_DEBUG", 2},      {"M_FATAL", 3},     {"M_ERROR", 4},     {"M_WARNING", 5},
    {"M_INFO", 6},     {"M_SAVED", 7},      {"M_NOTSAVED", 8},  {"M_SKIPPED", 9},   {"M_MOUNT", 10},
    {"M_ERROR_TERM", 11}, {"M_TERM", 12},   {"M_RESTORED", 13}, {"M_SECURITY", 14}, {"M_ALERT", 15},
    {"M_VOLMGMT", 16},
};

static const opfd_const file_types[] = {
    {"FT_LNKSAVED", 1},   {"FT_REGE", 2},           {"FT_REG", 3},         {"FT_LNK", 4},
    {"FT_DIREND", 5},     {"FT_SPEC", 6},           {"FT_NOACCESS", 7},    {"FT_NOFOLLOW", 8},
    {"FT_NOSTAT", 9},     {"FT_NOCHG", 10},         {"FT_DIRNOCHG", 11},   {"FT_ISARCH", 12},
    {"FT_NORECURSE", 13}, {"FT_NOFSCHG", 14},       {"FT_NOOPEN", 15},     {"FT_RAW", 16},
    {"FT_FIFO", 17},      {"FT_DIRBEGIN", 18},      {"FT_INVALIDFS", 19},  {"FT_INVALIDDT", 20},
    {"FT_REPARSE", 21},   {"FT_PLUGIN", 22},        {"FT_DELETED", 23},    {"FT_BASE", 24},
    {"FT_RESTORE_FIRST", 25}, {"FT_JUNCTION", 26},  {"FT_PLUGIN_CONFIG", 27},
    {"FT_PLUGIN_CONFIG_FILLED", 28},
};

static const opfd_const event_types[] = {
    {"bEventJobStart", 1},
    {"bEventJobEnd", 2},
    {"bEventStartBackupJob", 3},
    {"bEventEndBackupJob", 4},
    {"bEventStartRestoreJob", 5},
    {"bEventEndRestoreJob", 6},
    {"bEventStartVerifyJob", 7},
    {"bEventEndVerifyJob", 8},
    {"bEventBackupCommand", 9},
    {"bEventRestoreCommand", 10},
    {"bEventEstimateCommand", 11},
    {"bEventLevel", 12},
    {"bEventSince", 13},
    {"bEventCancelCommand", 14},
    {"bEventRestoreObject", 15},
    {"bEventEndFileSet", 16},
    {"bEventPluginCommand", 17},
    {"bEventOptionPlugin", 18},
    {"bEventHandleBackupFile", 19},
    {"bEventNewPluginOptions", 20},
    {"bEventVssInitializeForBackup", 21},
    {"bEventVssInitializeForRestore", 22},
    {"bEventVssSetBackupState", 23},
    {"bEventVssPrepareForBackup", 24},
    {"bEventVssBackupAddComponents", 25},
    {"bEventVssPrepareSnapshot", 26},
    {"bEventVssCreateSnapshots", 27},
    {"bEventVssRestoreLoadComponentMetadata", 28},
    {"bEventVssRestoreSetComponentsSelected", 29},
    {"bEventVssCloseRestore", 30},
    {"bEventVssBackupComplete", 31},
};

static const opfd_const variables[] = {
    {"bVarJobId", 1},         {"bVarFDName", 2},       {"bVarLevel", 3},        {"bVarType", 4},
    {"bVarClient", 5},        {"bVarJobName", 6},      {"bVarJobStatus", 7},    {"bVarSinceTime", 8},
    {"bVarAccurate", 9},      {"bVarFileSeen", 10},    {"bVarVssClient", 11},   {"bVarWorkingDir", 12},
    {"bVarWhere", 13},        {"bVarRegexWhere", 14},  {"bVarExePath", 15},     {"bVarVersion", 16},
    {"bVarDistName", 17},     {"bVarPrevJobName", 18}, {"bVarPrefixLinks", 19}, {"bVarCheckChanges", 20},
    {"bVarUsedConfig", 21},   {"bVarAccurateOptions", 23},
};

static const opfd_const accurate_options[] = {
    {"bAccurateOptionInode", 1},        {"bAccurateOptionPermissions", 2}, {"bAccurateOptionNlink", 4},
    {"bAccurateOptionUid", 8},          {"bAccurateOptionGid", 16},        {"bAccurateOptionSize", 32},
    {"bAccurateOptionAtime", 64},       {"bAccurateOptionMtime", 128},     {"bAccurateOptionCtime", 256},
    {"bAccurateOptionSizeDecrease", 512}, {"bAccurateOptionAlways", 1024}, {"bAccurateOptionMD5", 2048},
    {"bAccurateOptionSha1", 4096},
};

static const opfd_const create_statuses[] = {
    {"CF_SKIP", 1}, {"CF_ERROR", 2}, {"CF_EXTRACT", 3}, {"CF_CREATED", 4}, {"CF_CORE", 5},
};

static const opfd_const io_functions[] = {
    {"IO_OPEN", 1}, {"IO_READ", 2}, {"IO_WRITE", 3}, {"IO_CLOSE", 4}, {"IO_SEEK", 5},
};

static const opfd_const io_statuses[] = {
    {"iostat_error", -1}, {"iostat_do_in_plugin", 0}, {"iostat_do_in_core", 1},
};

const opfd_const_group opfd_const_groups[] = {
    {"bRCs", rcs, N(rcs), 1},
    {"bJobMessageType", job_message_types, N(job_message_types), 1},
    {"bFileType", file_types, N(file_types), 1},
    {"bEventType", event_types, N(event_types), 1},
    {"bVariable", variables, N(variables), 1},
    {"bAccurateOption", accurate_options, N(accurate_options), 0},
    {"bCFs", create_statuses, N(create_statuses), 1},
    {"bIOPS", io_functions, N(io_functions), 1},
    {"bIOPstatus", io_statuses, N(io_statuses), 0},
};
const size_t opfd_const_group_count = N(opfd_const_groups);

const opfd_level opfd_levels[] = {
    {"L_FULL", "F"},
    {"L_INCREMENTAL", "I"},
    {"L_DIFFERENTIAL", "D"},
    {"L_SINCE", "S"},
    {"L_VERIFY_CATALOG", "C"},
    {"L_VERIFY_INIT", "V"},
    {"L_VERIFY_VOLUME_TO_CATALOG", "O"},
    {"L_VERIFY_DISK_TO_CATALOG", "d"},
    {"L_VERIFY_DATA", "A"},
    {"L_BASE", "B"},
    {"L_NONE", " "},
    {"L_VIRTUAL_FULL", "f"},
};
const size_t opfd_level_count = N(opfd_levels);

// MARK: - Module bareos_fd_consts (old generation: dicts keyed by str, bLevels values str)

static int add_dict(PyObject *module, const char *name, PyObject *dict) {
    int result = PyModule_AddObjectRef(module, name, dict);
    Py_DECREF(dict);
    return result;
}

static int consts_exec(PyObject *module) {
    for (size_t g = 0; g < opfd_const_group_count; g++) {
        const opfd_const_group *group = &opfd_const_groups[g];
        if (!group->in_old_consts) {
            continue;
        }
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return -1;
        }
        for (size_t i = 0; i < group->count; i++) {
            if (group->items == variables && group->items[i].value > OPFD_OLD_MAX_VARIABLE) {
                continue;
            }
            PyObject *value = PyLong_FromLong(group->items[i].value);
            if (value == NULL || PyDict_SetItemString(dict, group->items[i].name, value) < 0) {
                Py_XDECREF(value);
                Py_DECREF(dict);
                return -1;
            }
            Py_DECREF(value);
        }
        if (add_dict(module, group->dict_name, dict) < 0) {
            return -1;
        }
    }
    PyObject *levels = PyDict_New();
    if (levels == NULL) {
        return -1;
    }
    for (size_t i = 0; i < opfd_level_count; i++) {
        PyObject *value = PyUnicode_FromString(opfd_levels[i].letter);
        if (value == NULL || PyDict_SetItemString(levels, opfd_levels[i].name, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(levels);
            return -1;
        }
        Py_DECREF(value);
    }
    return add_dict(module, "bLevels", levels);
}

static PyModuleDef_Slot consts_slots[] = {
    {Py_mod_exec, consts_exec},
    {0, NULL},
};

static struct PyModuleDef consts_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bareos_fd_consts",
    .m_doc = "Constants of the old (context-first) Bareos python-fd API, as dicts keyed by str.",
    .m_size = 0,
    .m_slots = consts_slots,
};

PyMODINIT_FUNC opfd_PyInit_bareos_fd_consts(void) {
    return PyModuleDef_Init(&consts_def);
}
