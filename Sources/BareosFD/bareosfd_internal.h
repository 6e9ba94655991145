// Internal declarations shared by the C files of the BareosFD target (not part of the host API).
#ifndef BAREOSFD_INTERNAL_H
#define BAREOSFD_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "bareosfd_host.h"

#include <pthread.h>

// MARK: - Constants (bareos_fd_consts.c)

typedef struct opfd_const {
    const char *name;
    int value;
} opfd_const;

typedef struct opfd_const_group {
    const char *dict_name;       // e.g. "bRCs"
    const opfd_const *items;
    size_t count;
    int in_old_consts;           // also exported by bareos_fd_consts (old generation)
} opfd_const_group;

extern const opfd_const_group opfd_const_groups[];
extern const size_t opfd_const_group_count;

typedef struct opfd_level {
    const char *name;            // L_FULL ...
    const char *letter;          // "F" ...
} opfd_level;

extern const opfd_level opfd_levels[];
extern const size_t opfd_level_count;

/// Highest variable number the old bareos_fd_consts.bVariable exported.
#define OPFD_OLD_MAX_VARIABLE 19

PyMODINIT_FUNC opfd_PyInit_bareos_fd_consts(void);

// MARK: - Packet types (bareosfd_types.c)

typedef struct opfd_SavePacket {
    PyObject_HEAD
    PyObject *fname;
    PyObject *link;
    PyObject *statp;
    int type;
    PyObject *flags;
    char no_read;
    char portable;
    char accurate_found;
    PyObject *cmd;               // read-only str
    long long save_time;
    unsigned int delta_seq;
    PyObject *object_name;
    PyObject *object;
    int object_len;
    int object_index;
} opfd_SavePacket;

typedef struct opfd_StatPacket {
    PyObject_HEAD
    unsigned int dev;
    unsigned long long ino;
    unsigned short mode;
    unsigned short nlink;
    unsigned int uid;
    unsigned int gid;
    unsigned int rdev;
    unsigned long long size;
    long atime;
    long mtime;
    long ctime;
    unsigned int blksize;
    unsigned long long blocks;
} opfd_StatPacket;

typedef struct opfd_RestorePacket {
    PyObject_HEAD
    int stream;
    int data_stream;
    int type;
    int file_index;
    int linkFI;
    unsigned int uid;
    PyObject *statp;
    PyObject *attrEX;            // read-only str
    PyObject *ofname;            // read-only str
    PyObject *olname;            // read-only str
    PyObject *where;             // read-only str
    PyObject *regexwhere;        // read-only str
    int replace;
    int create_status;
    long long filedes;
    PyObject *original_file_name;  // read-only str
    PyObject *original_link_name;  // read-only str
} opfd_RestorePacket;

typedef struct opfd_IoPacket {
    PyObject_HEAD
    unsigned short func;
    int count;
    int flags;
    int mode;
    PyObject *buf;
    PyObject *fname;             // read-only str
    long long status;
    int io_errno;
    int lerror;
    int whence;
    long long offset;
    char win32;
    long long filedes;
} opfd_IoPacket;

typedef struct opfd_AclPacket {
    PyObject_HEAD
    PyObject *fname;             // read-only str
    PyObject *content;
} opfd_AclPacket;

typedef struct opfd_XattrPacket {
    PyObject_HEAD
    PyObject *fname;             // read-only str
    PyObject *name;
    PyObject *value;
} opfd_XattrPacket;

typedef struct opfd_RestoreObject {
    PyObject_HEAD
    PyObject *object_name;
    PyObject *object;
    PyObject *plugin_name;       // read-only str
    int object_type;
    int object_len;
    int object_full_len;
    int object_index;
    int object_compression;
    int stream;
    unsigned int jobid;
} opfd_RestoreObject;

/// State of one `bareosfd` module object (one per interpreter).
typedef struct opfd_module_state {
    PyTypeObject *save_type;
    PyTypeObject *stat_type;
    PyTypeObject *restore_type;
    PyTypeObject *io_type;
    PyTypeObject *acl_type;
    PyTypeObject *xattr_type;
    PyTypeObject *restore_object_type;
} opfd_module_state;

/// Creates the seven heap types into `state` and adds them to `module` (SavePacket, ...). 0 or -1.
int opfd_types_add(PyObject *module, opfd_module_state *state);
int opfd_types_traverse(opfd_module_state *state, visitproc visit, void *arg);
void opfd_types_clear(opfd_module_state *state);

PyMODINIT_FUNC opfd_PyInit_bareosfd(void);

// Common start of a module function: the instance LOOKUP() finds (NULL: it set the exception), then the arguments
// without an old-generation context (`stripped`, released by OPFD_PARSE).
#define OPFD_BEGIN(LOOKUP, ARGS)                           \
    opfd_instance *instance = LOOKUP();                    \
    if (instance == NULL) {                                \
        return NULL;                                       \
    }                                                      \
    PyObject *stripped = opfd_strip_context(ARGS);         \
    if (stripped == NULL) {                                \
        return NULL;                                       \
    }

// Parses `stripped` (needs a `kwlist`) and releases it.
#define OPFD_PARSE(KWDS, FORMAT, ...)                                                              \
    int parsed = PyArg_ParseTupleAndKeywords(stripped, KWDS, FORMAT, kwlist, __VA_ARGS__);         \
    Py_DECREF(stripped);                                                                           \
    if (!parsed) {                                                                                 \
        return NULL;                                                                               \
    }

/// str of a NUL-terminated UTF-8 value (surrogateescape), None for NULL.
PyObject *opfd_text_or_none(const char *value);

// The functions `bareosfd` and `bareosdir` share, for an instance the caller found (bareosfd_module.c).
/// DebugMessage(level, msg=None).
PyObject *opfd_debug_message(opfd_instance *instance, PyObject *args, PyObject *kwds);
/// JobMessage(type, msg=None).
PyObject *opfd_job_message(opfd_instance *instance, PyObject *args, PyObject *kwds);
/// RegisterEvents(events) (set 1) / UnRegisterEvents(events) (set 0) for event numbers 1..last_event.
PyObject *opfd_change_events(opfd_instance *instance, PyObject *args, PyObject *kwds, int set, const char *format,
                             long last_event);

/// `args` without a leading old-generation context capsule (new reference).
PyObject *opfd_strip_context(PyObject *args);

// MARK: - Instances (bareosfd_host.c)

#define OPFD_CONTEXT_CAPSULE_NAME "bareos.bpContext"

enum {
    OPFD_EP_LOAD_BAREOS_PLUGIN,
    OPFD_EP_PARSE_PLUGIN_DEFINITION,
    OPFD_EP_HANDLE_PLUGIN_EVENT,
    OPFD_EP_HANDLE_BACKUP_FILE,
    OPFD_EP_PLUGIN_IO,
    OPFD_EP_GET_ACL,
    OPFD_EP_SET_ACL,
    OPFD_EP_GET_XATTR,
    OPFD_EP_SET_XATTR,
    OPFD_EP_CHECK_FILE,
    OPFD_EP_START_RESTORE_FILE,
    OPFD_EP_CREATE_FILE,
    OPFD_EP_SET_FILE_ATTRIBUTES,
    OPFD_EP_END_RESTORE_FILE,
    OPFD_EP_START_BACKUP_FILE,
    OPFD_EP_END_BACKUP_FILE,
    OPFD_EP_RESTORE_OBJECT_DATA,
    OPFD_EP_COUNT
};

struct opfd_instance {
    opfd_job job;                // strings are private copies
    int check_changes;           // bVarCheckChanges (default true)
    uint32_t events;             // bit n = event n registered (1..31)
    PyThreadState *tstate;       // the sub-interpreter's first thread state (used on `owner`)
    pthread_t owner;             // the thread that created the instance
    PyInterpreterState *interp;
    struct opfd_thread_state *other_threads;  // thread states for other OS threads (guarded by `lock`)
    pthread_mutex_t lock;
    PyObject *bareosfd;          // the bareosfd module of this interpreter
    opfd_module_state *types;    // its state (borrowed from bareosfd)
    PyObject *plugin;            // the imported plugin module (NULL before opfd_import)
    PyObject *plugin_dict;       // its __dict__
    PyObject *context;           // PyCapsule "bareos.bpContext" for old plugins
    int old_api;
    PyObject *names[OPFD_EP_COUNT];  // entry-point names as str
    char *cmd_text;              // cache of the last SavePacket.cmd
    PyObject *cmd_object;
    PyObject *format_exception;  // traceback.format_exception, imported on first use
    PyObject *outputs[2];        // the sys.stdout / sys.stderr replacements
    PyObject *exit_type;         // the exception the guarded os._exit raises (HostExit)
    int exit_requested;          // set when a formatted exception was a HostExit
    int director;                // a Director plugin: the host module is `bareosdir`, `dir` holds its values
    opfd_dir_values dir;         // strings are private copies (Director plugins only)
};

/// The instance current on this thread (top of the enter stack), or NULL.
opfd_instance *opfd_current(void);
/// The callbacks given to opfd_runtime_initialize.
extern opfd_callbacks opfd_cb;
extern int opfd_live_instances;

/// str from UTF-8 bytes with surrogateescape; NULL data reads as "".
PyObject *opfd_decode(const char *data, size_t length);

/// UTF-8 (surrogateescape) view of a str. `owner` keeps the bytes alive; release with opfd_text_release.
typedef struct opfd_text {
    PyObject *owner;
    const char *data;
    Py_ssize_t size;
} opfd_text;
int opfd_text_get(PyObject *str, opfd_text *text);
void opfd_text_release(opfd_text *text);
/// Text of an optional message argument: str (UTF-8, surrogateescape), bytes, or None (empty). 0 or -1.
int opfd_message_text(PyObject *message, opfd_text *text);

// The call steps of bareosfd_host.c, shared with bareosfd_command.c (command-plugin entry points).
/// Checks the instance and finds entry point `ep`: OPFD_DONE with *function (new reference) to go on.
opfd_status opfd_call_begin(opfd_instance *instance, int ep, PyObject **function, int *rc, opfd_error *error);
/// Calls `function` (consumed) with the context first for old plugins; the int result goes to *rc.
opfd_status opfd_call_invoke(opfd_instance *instance, int ep, PyObject *function, PyObject *argument, int *rc,
                             opfd_error *error);
/// A packet could not be built: the pending Python error as OPFD_HOST_ERROR (consumes `function`).
opfd_status opfd_call_build_failed(opfd_instance *instance, PyObject *function, opfd_error *error);
/// A StatPacket of this instance's module (new reference).
PyObject *opfd_stat_object(opfd_instance *instance, const opfd_stat *stat);
/// The cached `cmd` str (new reference).
PyObject *opfd_cmd_object(opfd_instance *instance, const char *cmd);
/// error->text = a malloc'd copy of `text` (when error is not NULL).
void opfd_error_set(opfd_error *error, const char *text);
/// A bytes/bytearray field as a malloc'd copy: 0 (None), 1 (copied), -1 (wrong type), -2 (no memory).
int opfd_copy_buffer_field(PyObject *field, uint8_t **copy, size_t *length);

// MARK: - Director plugins (bareosdir_host.c, bareosdir_module.c)

PyMODINIT_FUNC opfd_PyInit_bareosdir(void);
PyMODINIT_FUNC opfd_PyInit_bareos_dir_consts(void);
/// Creates an instance (bareosfd_host.c): `director` selects the host module (`bareosdir` instead of `bareosfd`).
opfd_instance *opfd_instance_create_kind(const opfd_job *job, int director, opfd_error *error);
/// Frees the copied strings of `values` and zeroes it.
void opfd_dir_values_clear(opfd_dir_values *values);

#endif
