// The host side of bareosfd_host.h: runtime initialisation, one sub-interpreter per plugin instance, and one
// helper per plugin entry point (build the packet, call, convert the result, copy fields back).
//
// GIL discipline: outside opfd_instance_enter/leave no thread holds the GIL on behalf of the host. The main
// interpreter's thread state is kept only to create and end sub-interpreters.
#include "bareosfd_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

opfd_callbacks opfd_cb;
int opfd_live_instances;

static int runtime_ready;
static int inittab_done;
static PyThreadState *main_tstate;        // main interpreter, on the thread that initialized the runtime
static pthread_t main_thread;
static PyInterpreterState *main_interp;
static _Thread_local PyThreadState *thread_main_tstate;  // main interpreter, on any other thread

/// One thread state of a sub-interpreter for an OS thread other than the instance's creator.
typedef struct opfd_thread_state {
    pthread_t thread;
    PyThreadState *tstate;
    struct opfd_thread_state *next;
} opfd_thread_state;

/// A main-interpreter thread state for the calling OS thread (GIL not needed).
static PyThreadState *main_state_for_thread(void) {
    if (pthread_equal(pthread_self(), main_thread)) {
        return main_tstate;
    }
    if (thread_main_tstate == NULL) {
        thread_main_tstate = PyThreadState_New(main_interp);
        if (thread_main_tstate == NULL) {
            Py_FatalError("bareosfd: cannot create a thread state");
        }
    }
    return thread_main_tstate;
}

/// The instance's thread state for the calling OS thread, created on first use (GIL not needed).
static PyThreadState *instance_state_for_thread(opfd_instance *instance) {
    pthread_t self = pthread_self();
    if (pthread_equal(self, instance->owner)) {
        return instance->tstate;
    }
    pthread_mutex_lock(&instance->lock);
    opfd_thread_state *entry = instance->other_threads;
    while (entry != NULL && !pthread_equal(entry->thread, self)) {
        entry = entry->next;
    }
    if (entry == NULL) {
        entry = calloc(1, sizeof(*entry));
        PyThreadState *tstate = entry != NULL ? PyThreadState_New(instance->interp) : NULL;
        if (tstate == NULL) {
            Py_FatalError("bareosfd: cannot create a thread state");
        }
        entry->thread = self;
        entry->tstate = tstate;
        entry->next = instance->other_threads;
        instance->other_threads = entry;
    }
    pthread_mutex_unlock(&instance->lock);
    return entry->tstate;
}

// MARK: - Errors and memory

void opfd_error_clear(opfd_error *error) {
    if (error != NULL) {
        free(error->text);
        error->text = NULL;
    }
}

void opfd_free(void *pointer) {
    free(pointer);
}

static void set_error(opfd_error *error, const char *format, ...) {
    if (error == NULL) {
        return;
    }
    va_list arguments;
    va_start(arguments, format);
    char *text = NULL;
    if (vasprintf(&text, format, arguments) < 0) {
        text = NULL;
    }
    va_end(arguments);
    error->text = text;
}

static char *copy_bytes(const char *data, size_t size) {
    char *copy = malloc(size + 1);
    if (copy != NULL) {
        memcpy(copy, data, size);
        copy[size] = '\0';
    }
    return copy;
}

static char *copy_string(const char *string) {
    return string != NULL ? copy_bytes(string, strlen(string)) : NULL;
}

// MARK: - Text

PyObject *opfd_decode(const char *data, size_t length) {
    if (data == NULL) {
        return PyUnicode_FromStringAndSize("", 0);
    }
    return PyUnicode_DecodeUTF8(data, (Py_ssize_t)length, "surrogateescape");
}

static PyObject *decode_or_none(const char *data, size_t length) {
    if (data == NULL) {
        Py_RETURN_NONE;
    }
    return opfd_decode(data, length);
}

int opfd_text_get(PyObject *str, opfd_text *text) {
    text->owner = NULL;
    Py_ssize_t size = 0;
    const char *data = PyUnicode_AsUTF8AndSize(str, &size);
    if (data != NULL) {
        text->data = data;
        text->size = size;
        return 0;
    }
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        return -1;
    }
    PyErr_Clear();  // lone surrogates (undecodable bytes of a name): encode them back
    PyObject *bytes = PyUnicode_AsEncodedString(str, "utf-8", "surrogateescape");
    if (bytes == NULL) {
        return -1;
    }
    text->owner = bytes;
    text->data = PyBytes_AS_STRING(bytes);
    text->size = PyBytes_GET_SIZE(bytes);
    return 0;
}

void opfd_text_release(opfd_text *text) {
    Py_CLEAR(text->owner);
}

/// malloc'd UTF-8 copy of str(object); NULL when that fails (the Python error is cleared).
static char *object_text(PyObject *object) {
    PyObject *string = PyObject_Str(object);
    if (string == NULL) {
        PyErr_Clear();
        return NULL;
    }
    opfd_text text;
    char *result = NULL;
    if (opfd_text_get(string, &text) == 0) {
        result = copy_bytes(text.data, (size_t)text.size);
        opfd_text_release(&text);
    } else {
        PyErr_Clear();
    }
    Py_DECREF(string);
    return result;
}

// MARK: - Thread-local current instance

#define OPFD_MAX_NESTING 64

typedef struct opfd_frame {
    opfd_instance *instance;
    PyThreadState *outer;  // thread state that was active before this frame (re-taken at leave)
} opfd_frame;

static _Thread_local opfd_frame frames[OPFD_MAX_NESTING];
static _Thread_local int frame_count;

opfd_instance *opfd_current(void) {
    return frame_count > 0 ? frames[frame_count - 1].instance : NULL;
}

static void push_frame(opfd_instance *instance, PyThreadState *outer) {
    if (frame_count >= OPFD_MAX_NESTING) {
        Py_FatalError("bareosfd: opfd_instance_enter nested too deeply");
    }
    frames[frame_count].instance = instance;
    frames[frame_count].outer = outer;
    frame_count++;
}

// MARK: - sys.stdout / sys.stderr replacement

typedef struct opfd_Output {
    PyObject_HEAD
    void *host;
    int stream;
    char *buffer;
    size_t length;
    size_t capacity;
} opfd_Output;

static void output_emit_lines(opfd_Output *self) {
    size_t start = 0;
    for (;;) {
        char *newline = memchr(self->buffer + start, '\n', self->length - start);
        if (newline == NULL) {
            break;
        }
        size_t end = (size_t)(newline - self->buffer);
        if (opfd_cb.output != NULL && self->host != NULL) {
            opfd_cb.output(self->host, self->stream, self->buffer + start, end - start);
        }
        start = end + 1;
    }
    if (start > 0) {
        memmove(self->buffer, self->buffer + start, self->length - start);
        self->length -= start;
    }
}

/// Passes a partial last line to the host.
static void output_flush_partial(opfd_Output *self) {
    if (self->length > 0) {
        if (opfd_cb.output != NULL && self->host != NULL) {
            opfd_cb.output(self->host, self->stream, self->buffer, self->length);
        }
        self->length = 0;
    }
}

static PyObject *output_write(PyObject *op, PyObject *argument) {
    opfd_Output *self = (opfd_Output *)op;
    opfd_text text = {NULL, NULL, 0};
    Py_ssize_t written;
    if (PyUnicode_Check(argument)) {
        if (opfd_text_get(argument, &text) < 0) {
            return NULL;
        }
        written = PyUnicode_GET_LENGTH(argument);
    } else if (PyBytes_Check(argument)) {
        text.data = PyBytes_AS_STRING(argument);
        text.size = written = PyBytes_GET_SIZE(argument);
    } else {
        PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.100s", Py_TYPE(argument)->tp_name);
        return NULL;
    }
    size_t needed = self->length + (size_t)text.size;
    if (needed > self->capacity) {
        size_t capacity = self->capacity > 0 ? self->capacity : 256;
        while (capacity < needed) {
            capacity *= 2;
        }
        char *buffer = realloc(self->buffer, capacity);
        if (buffer == NULL) {
            opfd_text_release(&text);
            return PyErr_NoMemory();
        }
        self->buffer = buffer;
        self->capacity = capacity;
    }
    memcpy(self->buffer + self->length, text.data, (size_t)text.size);
    self->length = needed;
    opfd_text_release(&text);
    output_emit_lines(self);
    return PyLong_FromSsize_t(written);
}

static PyObject *output_flush(PyObject *op, PyObject *unused) {
    (void)op;
    (void)unused;
    Py_RETURN_NONE;
}

static PyObject *output_true(PyObject *op, PyObject *unused) {
    (void)op;
    (void)unused;
    Py_RETURN_TRUE;
}

static PyObject *output_false(PyObject *op, PyObject *unused) {
    (void)op;
    (void)unused;
    Py_RETURN_FALSE;
}

static PyObject *output_get_encoding(PyObject *op, void *closure) {
    (void)op;
    (void)closure;
    return PyUnicode_FromString("utf-8");
}

static PyObject *output_get_errors(PyObject *op, void *closure) {
    (void)op;
    (void)closure;
    return PyUnicode_FromString("surrogateescape");
}

static PyObject *output_get_closed(PyObject *op, void *closure) {
    (void)op;
    (void)closure;
    Py_RETURN_FALSE;
}

static PyObject *output_get_name(PyObject *op, void *closure) {
    (void)closure;
    return PyUnicode_FromString(((opfd_Output *)op)->stream == 1 ? "<stdout>" : "<stderr>");
}

static void output_dealloc(PyObject *op) {
    opfd_Output *self = (opfd_Output *)op;
    PyTypeObject *type = Py_TYPE(op);
    output_flush_partial(self);
    free(self->buffer);
    type->tp_free(op);
    Py_DECREF(type);
}

static PyMethodDef output_methods[] = {
    {"write", output_write, METH_O, "write(text): forwards complete lines to the host"},
    {"flush", output_flush, METH_NOARGS, NULL},
    {"writable", output_true, METH_NOARGS, NULL},
    {"readable", output_false, METH_NOARGS, NULL},
    {"seekable", output_false, METH_NOARGS, NULL},
    {"isatty", output_false, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef output_getset[] = {
    {"encoding", output_get_encoding, NULL, NULL, NULL},
    {"errors", output_get_errors, NULL, NULL, NULL},
    {"closed", output_get_closed, NULL, NULL, NULL},
    {"name", output_get_name, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot output_slots[] = {
    {Py_tp_methods, output_methods},
    {Py_tp_getset, output_getset},
    {Py_tp_dealloc, output_dealloc},
    {0, NULL},
};

static PyType_Spec output_spec = {
    .name = "bareosfd._HostOutput",
    .basicsize = sizeof(opfd_Output),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = output_slots,
};

// MARK: - Runtime

int opfd_runtime_initialize(const char *executable, const opfd_callbacks *callbacks, opfd_error *error) {
    if (runtime_ready) {
        return 0;
    }
    if (Py_IsInitialized()) {
        set_error(error, "Python is already initialized by someone else in this process");
        return -1;
    }
    if (callbacks != NULL) {
        opfd_cb = *callbacks;
    }
    if (!inittab_done) {
        if (PyImport_AppendInittab("bareosfd", opfd_PyInit_bareosfd) < 0 ||
            PyImport_AppendInittab("bareos_fd_consts", opfd_PyInit_bareos_fd_consts) < 0 ||
            PyImport_AppendInittab("bareosdir", opfd_PyInit_bareosdir) < 0 ||
            PyImport_AppendInittab("bareos_dir_consts", opfd_PyInit_bareos_dir_consts) < 0) {
            set_error(error, "cannot register the built-in modules bareosfd, bareos_fd_consts, bareosdir and "
                             "bareos_dir_consts");
            return -1;
        }
        inittab_done = 1;
    }
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    PyStatus status = PyConfig_SetBytesString(&config, &config.executable,
                                              executable != NULL ? executable : "/usr/bin/python3.11");
    if (!PyStatus_Exception(status)) {
        status = Py_InitializeFromConfig(&config);
    }
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        set_error(error, "Python initialization failed: %s%s%s", status.func != NULL ? status.func : "",
                  status.func != NULL ? ": " : "", status.err_msg != NULL ? status.err_msg : "unknown error");
        return -1;
    }
    main_thread = pthread_self();
    main_interp = PyInterpreterState_Main();
    main_tstate = PyEval_SaveThread();
    runtime_ready = 1;
    return 0;
}

// MARK: - Instances

static const char *const entry_point_names[OPFD_EP_COUNT] = {
    [OPFD_EP_LOAD_BAREOS_PLUGIN] = "load_bareos_plugin",
    [OPFD_EP_PARSE_PLUGIN_DEFINITION] = "parse_plugin_definition",
    [OPFD_EP_HANDLE_PLUGIN_EVENT] = "handle_plugin_event",
    [OPFD_EP_HANDLE_BACKUP_FILE] = "handle_backup_file",
    [OPFD_EP_PLUGIN_IO] = "plugin_io",
    [OPFD_EP_GET_ACL] = "get_acl",
    [OPFD_EP_SET_ACL] = "set_acl",
    [OPFD_EP_GET_XATTR] = "get_xattr",
    [OPFD_EP_SET_XATTR] = "set_xattr",
    [OPFD_EP_CHECK_FILE] = "check_file",
    [OPFD_EP_START_RESTORE_FILE] = "start_restore_file",
    [OPFD_EP_CREATE_FILE] = "create_file",
    [OPFD_EP_SET_FILE_ATTRIBUTES] = "set_file_attributes",
    [OPFD_EP_END_RESTORE_FILE] = "end_restore_file",
    [OPFD_EP_START_BACKUP_FILE] = "start_backup_file",
    [OPFD_EP_END_BACKUP_FILE] = "end_backup_file",
    [OPFD_EP_RESTORE_OBJECT_DATA] = "restore_object_data",
};

static void free_job_strings(opfd_job *job) {
    free((char *)job->job_name);
    free((char *)job->fd_name);
    free((char *)job->client);
    free((char *)job->working_dir);
    free((char *)job->where);
    free((char *)job->regexwhere);
    free((char *)job->exe_path);
    free((char *)job->version);
    free((char *)job->prev_job_name);
    free((char *)job->used_config);
}

static int copy_job(opfd_job *copy, const opfd_job *job) {
    *copy = *job;
    copy->job_name = copy_string(job->job_name);
    copy->fd_name = copy_string(job->fd_name);
    copy->client = copy_string(job->client);
    copy->working_dir = copy_string(job->working_dir);
    copy->where = copy_string(job->where);
    copy->regexwhere = copy_string(job->regexwhere);
    copy->exe_path = copy_string(job->exe_path);
    copy->version = copy_string(job->version);
    copy->prev_job_name = copy_string(job->prev_job_name);
    copy->used_config = copy_string(job->used_config);
#define MISSING_COPY(field) (job->field != NULL && copy->field == NULL)
    if (MISSING_COPY(job_name) || MISSING_COPY(fd_name) || MISSING_COPY(client) || MISSING_COPY(working_dir) ||
        MISSING_COPY(where) || MISSING_COPY(regexwhere) || MISSING_COPY(exe_path) || MISSING_COPY(version) ||
        MISSING_COPY(prev_job_name) || MISSING_COPY(used_config)) {
        return -1;
    }
#undef MISSING_COPY
    return 0;
}

/// Drops every Python reference the instance holds (GIL held, instance interpreter current).
static void release_references(opfd_instance *instance) {
    Py_CLEAR(instance->plugin);
    Py_CLEAR(instance->exit_type);
    Py_CLEAR(instance->plugin_dict);
    Py_CLEAR(instance->context);
    Py_CLEAR(instance->cmd_object);
    free(instance->cmd_text);
    instance->cmd_text = NULL;
    Py_CLEAR(instance->format_exception);
    for (int i = 0; i < OPFD_EP_COUNT; i++) {
        Py_CLEAR(instance->names[i]);
    }
    for (int i = 0; i < 2; i++) {
        Py_CLEAR(instance->outputs[i]);
    }
    instance->types = NULL;
    Py_CLEAR(instance->bareosfd);
}

/// Sets up a new sub-interpreter (current): bareosfd, names, sys.stdout/sys.stderr. 0 or -1 (exception set).
/// Replaces `os._exit` in this interpreter: in the host process it raises `HostExit` (a BaseException, so a
/// plugin's `except Exception` does not swallow it) and the host fails the job naming plugin and file. In another
/// process (a fork; CPython 3.11 cannot fork a sub-interpreter's child cleanly anyway) it is the real one.
/// `posix._exit` and signals are not covered.
static const char exit_guard_source[] =
    "import os as _os\n"
    "class HostExit(BaseException):\n"
    "    pass\n"
    "def _guard(_os=_os, _real=_os._exit, _pid=_os.getpid(), _exc=HostExit):\n"
    "    def _exit(status):\n"
    "        if _os.getpid() != _pid:\n"
    "            _real(status)\n"
    "        raise _exc('os._exit(%r) called by the plugin; optionhost does not end the process for it' % (status,))\n"
    "    _exit.__doc__ = _real.__doc__\n"
    "    _os._exit = _exit\n"
    "    import posix as _posix\n"
    "    _posix._exit = _exit\n"
    "_guard()\n";

static int guard_exit(opfd_instance *instance) {
    PyObject *globals = PyDict_New();
    if (globals == NULL) {
        return -1;
    }
    if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0) {
        Py_DECREF(globals);
        return -1;
    }
    PyObject *result = PyRun_String(exit_guard_source, Py_file_input, globals, globals);
    if (result == NULL) {
        Py_DECREF(globals);
        return -1;
    }
    Py_DECREF(result);
    instance->exit_type = Py_XNewRef(PyDict_GetItemString(globals, "HostExit"));
    Py_DECREF(globals);
    return instance->exit_type != NULL ? 0 : -1;
}

int opfd_instance_take_exit_request(opfd_instance *instance) {
    if (instance == NULL || !instance->exit_requested) {
        return 0;
    }
    instance->exit_requested = 0;
    return 1;
}

static int setup_interpreter(opfd_instance *instance) {
    // A Director plugin's host module is `bareosdir` (no packet types); `bareosfd` holds whichever host module.
    instance->bareosfd = PyImport_ImportModule(instance->director ? "bareosdir" : "bareosfd");
    if (instance->bareosfd == NULL) {
        return -1;
    }
    instance->types = instance->director ? NULL : (opfd_module_state *)PyModule_GetState(instance->bareosfd);
    if (instance->types == NULL && !instance->director) {
        return -1;
    }
    for (int i = 0; i < OPFD_EP_COUNT; i++) {
        instance->names[i] = PyUnicode_InternFromString(entry_point_names[i]);
        if (instance->names[i] == NULL) {
            return -1;
        }
    }
    PyObject *type = PyType_FromSpec(&output_spec);
    if (type == NULL) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        opfd_Output *output = PyObject_New(opfd_Output, (PyTypeObject *)type);
        if (output == NULL) {
            Py_DECREF(type);
            return -1;
        }
        output->host = instance->job.host;
        output->stream = i + 1;
        output->buffer = NULL;
        output->length = 0;
        output->capacity = 0;
        instance->outputs[i] = (PyObject *)output;
    }
    Py_DECREF(type);
    if (PySys_SetObject("stdout", instance->outputs[0]) < 0 || PySys_SetObject("stderr", instance->outputs[1]) < 0) {
        return -1;
    }
    return guard_exit(instance);
}

static char *format_current_exception(opfd_instance *instance);

opfd_instance *opfd_instance_create(const opfd_job *job, opfd_error *error) {
    return opfd_instance_create_kind(job, 0, error);
}

opfd_instance *opfd_instance_create_kind(const opfd_job *job, int director, opfd_error *error) {
    if (!runtime_ready) {
        set_error(error, "opfd_runtime_initialize has not succeeded");
        return NULL;
    }
    opfd_instance *instance = calloc(1, sizeof(*instance));
    if (instance == NULL || copy_job(&instance->job, job) < 0) {
        if (instance != NULL) {
            free_job_strings(&instance->job);
            free(instance);
        }
        set_error(error, "out of memory");
        return NULL;
    }
    instance->check_changes = 1;
    instance->director = director;

    PyThreadState *outer = frame_count > 0 ? PyEval_SaveThread() : NULL;
    PyThreadState *main_state = main_state_for_thread();
    PyEval_RestoreThread(main_state);
    PyThreadState *tstate = Py_NewInterpreter();
    if (tstate == NULL) {
        // Py_NewInterpreter restored the main thread state.
        PyErr_Clear();
        PyEval_SaveThread();
        if (outer != NULL) {
            PyEval_RestoreThread(outer);
        }
        free_job_strings(&instance->job);
        free(instance);
        set_error(error, "Py_NewInterpreter failed");
        return NULL;
    }
    instance->tstate = tstate;
    instance->owner = pthread_self();
    instance->interp = PyThreadState_GetInterpreter(tstate);
    pthread_mutex_init(&instance->lock, NULL);
    push_frame(instance, NULL);
    if (setup_interpreter(instance) < 0) {
        char *text = format_current_exception(instance);
        set_error(error, "cannot set up the plugin interpreter: %s", text != NULL ? text : "unknown error");
        free(text);
        release_references(instance);
        frame_count--;
        Py_EndInterpreter(tstate);
        PyThreadState_Swap(main_state);
        PyEval_SaveThread();
        if (outer != NULL) {
            PyEval_RestoreThread(outer);
        }
        pthread_mutex_destroy(&instance->lock);
        free_job_strings(&instance->job);
        opfd_dir_values_clear(&instance->dir);
        free(instance);
        return NULL;
    }
    frame_count--;
    opfd_live_instances++;
    PyEval_SaveThread();
    if (outer != NULL) {
        PyEval_RestoreThread(outer);
    }
    return instance;
}

void opfd_instance_enter(opfd_instance *instance) {
    PyThreadState *outer = frame_count > 0 ? PyEval_SaveThread() : NULL;
    PyEval_RestoreThread(instance_state_for_thread(instance));
    push_frame(instance, outer);
}

void opfd_instance_leave(opfd_instance *instance) {
    (void)instance;
    if (frame_count == 0) {
        return;
    }
    frame_count--;
    PyThreadState *outer = frames[frame_count].outer;
    PyEval_SaveThread();
    if (outer != NULL) {
        PyEval_RestoreThread(outer);
    }
}

/// Joins the interpreter's non-daemon threads (threading._shutdown, as Py_EndInterpreter would) and answers whether
/// `tstate` is then the interpreter's only thread state.
static int join_plugin_threads(PyThreadState *tstate) {
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *module = name != NULL ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    if (module != NULL) {
        PyObject *result = PyObject_CallMethod(module, "_shutdown", NULL);
        Py_XDECREF(result);
        Py_DECREF(module);
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
    }
    PyInterpreterState *interpreter = PyThreadState_GetInterpreter(tstate);
    for (PyThreadState *state = PyInterpreterState_ThreadHead(interpreter); state != NULL;
         state = PyThreadState_Next(state)) {
        if (state != tstate) {
            return 0;
        }
    }
    return 1;
}

void opfd_instance_destroy(opfd_instance *instance) {
    if (instance == NULL) {
        return;
    }
    PyThreadState *outer = frame_count > 0 ? PyEval_SaveThread() : NULL;
    PyThreadState *main_state = main_state_for_thread();
    PyThreadState *tstate = instance_state_for_thread(instance);
    PyEval_RestoreThread(tstate);
    // Py_EndInterpreter needs its thread state to be the interpreter's last one: drop the host's others.
    pthread_mutex_lock(&instance->lock);
    opfd_thread_state *entry = instance->other_threads;
    instance->other_threads = NULL;
    pthread_mutex_unlock(&instance->lock);
    while (entry != NULL) {
        opfd_thread_state *next = entry->next;
        if (entry->tstate != tstate) {
            PyThreadState_Clear(entry->tstate);
            PyThreadState_Delete(entry->tstate);
        }
        free(entry);
        entry = next;
    }
    if (instance->tstate != tstate) {
        PyThreadState_Clear(instance->tstate);
        PyThreadState_Delete(instance->tstate);
    }
    push_frame(instance, NULL);  // atexit handlers and thread joins may still call bareosfd functions
    for (int i = 0; i < 2; i++) {
        if (instance->outputs[i] != NULL) {
            output_flush_partial((opfd_Output *)instance->outputs[i]);
        }
    }
    release_references(instance);
    if (PyErr_Occurred()) {
        PyErr_Clear();
    }
    // Py_EndInterpreter joins the plugin's non-daemon threads, then aborts the whole process ("not the last thread")
    // if any other thread of the interpreter is left, e.g. a daemon thread. Join first, and keep an interpreter that
    // still has threads (leaked until the process exits) rather than crash.
    if (!join_plugin_threads(tstate)) {
        if (opfd_cb.job_message != NULL && instance->job.host != NULL) {
            static const char text[] =
                "the plugin left threads running at the end of the job (daemon threads?); its interpreter is kept "
                "until the process exits";
            opfd_cb.job_message(instance->job.host, 5, text, sizeof text - 1);
        }
        for (int i = 0; i < 2; i++) {
            if (instance->outputs[i] != NULL) {
                ((opfd_Output *)instance->outputs[i])->host = NULL;  // the host object goes away now
            }
        }
        instance->job.host = NULL;
        frame_count--;
        PyEval_SaveThread();
        if (outer != NULL) {
            PyEval_RestoreThread(outer);
        }
        opfd_live_instances--;
        return;
    }
    // Later output (atexit, threads) still reaches the host: the stream objects flush when finalization frees them.
    Py_EndInterpreter(tstate);
    frame_count--;
    // No thread state is current now, but this thread still holds the GIL: hand it back via the main state.
    PyThreadState_Swap(main_state);
    opfd_live_instances--;
    PyEval_SaveThread();
    if (outer != NULL) {
        PyEval_RestoreThread(outer);
    }
    pthread_mutex_destroy(&instance->lock);
    free_job_strings(&instance->job);
    opfd_dir_values_clear(&instance->dir);
    free(instance);
}

void opfd_instance_set_job_status(opfd_instance *instance, int status) {
    if (instance != NULL) {
        instance->job.job_status = status;
    }
}

int opfd_instance_count(void) {
    return opfd_live_instances;
}

const char *opfd_python_version(void) {
    return Py_GetVersion();
}

// MARK: - Calls into the plugin

/// Formats the pending exception as `"".join(traceback.format_exception(...))` and clears it.
static char *format_current_exception(opfd_instance *instance) {
    PyObject *type = NULL, *value = NULL, *traceback = NULL;
    PyErr_Fetch(&type, &value, &traceback);
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &traceback);
    if (instance->exit_type != NULL && PyErr_GivenExceptionMatches(type, instance->exit_type)) {
        instance->exit_requested = 1;
    }
    if (traceback != NULL && value != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    char *result = NULL;
    if (instance->format_exception == NULL) {
        PyObject *module = PyImport_ImportModule("traceback");
        if (module != NULL) {
            instance->format_exception = PyObject_GetAttrString(module, "format_exception");
            Py_DECREF(module);
        }
        PyErr_Clear();
    }
    if (instance->format_exception != NULL) {
        PyObject *lines = PyObject_CallFunctionObjArgs(instance->format_exception, type,
                                                       value != NULL ? value : Py_None,
                                                       traceback != NULL ? traceback : Py_None, NULL);
        if (lines != NULL) {
            PyObject *empty = PyUnicode_FromStringAndSize("", 0);
            PyObject *joined = empty != NULL ? PyUnicode_Join(empty, lines) : NULL;
            if (joined != NULL) {
                result = object_text(joined);
                Py_DECREF(joined);
            }
            Py_XDECREF(empty);
            Py_DECREF(lines);
        }
        PyErr_Clear();
    }
    if (result == NULL) {
        char *name = object_text(type);
        char *message = value != NULL ? object_text(value) : NULL;
        if (asprintf(&result, "%s: %s\n", name != NULL ? name : "exception", message != NULL ? message : "") < 0) {
            result = NULL;
        }
        free(name);
        free(message);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    PyErr_Clear();
    return result;
}

/// The callable entry point `ep` from the module dict (new reference), NULL when missing or not callable.
static PyObject *lookup(opfd_instance *instance, int ep) {
    PyObject *function = PyDict_GetItemWithError(instance->plugin_dict, instance->names[ep]);
    if (function == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (!PyCallable_Check(function)) {
        return NULL;
    }
    return Py_NewRef(function);
}

/// Checks that a plugin is loaded and finds the entry point. Returns OPFD_DONE with *function set to go on.
static opfd_status begin_call(opfd_instance *instance, int ep, PyObject **function, int *rc, opfd_error *error) {
    *rc = 2;
    *function = NULL;
    if (instance == NULL || instance->bareosfd == NULL) {
        set_error(error, "no plugin instance");
        return OPFD_HOST_ERROR;
    }
    if (instance->plugin_dict == NULL) {
        set_error(error, "no plugin module imported");
        return OPFD_HOST_ERROR;
    }
    *function = lookup(instance, ep);
    return *function != NULL ? OPFD_DONE : OPFD_MISSING;
}

/// A packet or argument could not be built: report the Python error as a host error.
static opfd_status build_failed(opfd_instance *instance, PyObject *function, opfd_error *error) {
    Py_XDECREF(function);
    char *text = format_current_exception(instance);
    set_error(error, "cannot build the arguments: %s", text != NULL ? text : "out of memory");
    free(text);
    return OPFD_HOST_ERROR;
}

/// Calls `function` with (context,) + (argument,) for old plugins, (argument,) for new ones (argument may be NULL)
/// and converts the result into *rc. Consumes `function`.
static opfd_status invoke(opfd_instance *instance, int ep, PyObject *function, PyObject *argument, int *rc,
                          opfd_error *error) {
    PyObject *stack[3];
    size_t count = 0;
    if (instance->old_api) {
        stack[1 + count++] = instance->context;
    }
    if (argument != NULL) {
        stack[1 + count++] = argument;
    }
    PyObject *result = PyObject_Vectorcall(function, stack + 1, count | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(function);
    if (result == NULL) {
        char *text = format_current_exception(instance);
        if (error != NULL) {
            error->text = text;
        } else {
            free(text);
        }
        return OPFD_EXCEPTION;
    }
    if (PyLong_Check(result)) {
        int overflow = 0;
        long value = PyLong_AsLongAndOverflow(result, &overflow);
        if (!overflow && value >= INT32_MIN && value <= INT32_MAX) {
            Py_DECREF(result);
            *rc = (int)value;
            return OPFD_DONE;
        }
        PyErr_Clear();
        set_error(error, "%s returned an int out of range, not a bRC_* value", entry_point_names[ep]);
    } else {
        set_error(error, "%s returned %s, not an int (bRC_* value)", entry_point_names[ep],
                  result == Py_None ? "None" : Py_TYPE(result)->tp_name);
    }
    Py_DECREF(result);
    return OPFD_BAD_RETURN;
}

/// Entry point with one str argument (or none when text is NULL and `with_text` is 0).
static opfd_status call_with_text(opfd_instance *instance, int ep, const char *text, size_t length, int with_text,
                                  int *rc, opfd_error *error) {
    PyObject *function;
    opfd_status status = begin_call(instance, ep, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    PyObject *argument = NULL;
    if (with_text) {
        argument = opfd_decode(text, length);
        if (argument == NULL) {
            return build_failed(instance, function, error);
        }
    }
    status = invoke(instance, ep, function, argument, rc, error);
    Py_XDECREF(argument);
    return status;
}

// MARK: - Loading

static int detect_old_api(PyObject *dict) {
    PyObject *function = PyDict_GetItemString(dict, "load_bareos_plugin");
    if (function == NULL) {
        return 0;
    }
    int bound = 0;
    if (PyMethod_Check(function)) {
        function = PyMethod_GET_FUNCTION(function);
        bound = 1;
    }
    if (!PyFunction_Check(function)) {
        return 0;
    }
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(function);
    return code->co_argcount - bound >= 2;
}

static int insert_path(PyObject *path, const char *directory) {
    PyObject *entry = PyUnicode_DecodeFSDefault(directory);
    if (entry == NULL) {
        return -1;
    }
    int result = PyList_Insert(path, 0, entry);
    Py_DECREF(entry);
    return result;
}

opfd_status opfd_import(opfd_instance *instance, const char *module_path, const char *plugin_dir,
                        const char *module_name, opfd_error *error) {
    if (instance == NULL || instance->bareosfd == NULL || module_name == NULL) {
        set_error(error, "no plugin instance or module name");
        return OPFD_HOST_ERROR;
    }
    PyObject *path = PySys_GetObject("path");
    if (path == NULL || !PyList_Check(path)) {
        set_error(error, "sys.path is not a list");
        return OPFD_HOST_ERROR;
    }
    if ((plugin_dir != NULL && insert_path(path, plugin_dir) < 0) ||
        (module_path != NULL && insert_path(path, module_path) < 0)) {
        char *text = format_current_exception(instance);
        set_error(error, "cannot extend sys.path: %s", text != NULL ? text : "");
        free(text);
        return OPFD_HOST_ERROR;
    }
    PyObject *module = PyImport_ImportModule(module_name);
    if (module == NULL) {
        char *text = format_current_exception(instance);
        if (error != NULL) {
            error->text = text;
        } else {
            free(text);
        }
        return OPFD_EXCEPTION;
    }
    PyObject *dict = PyModule_Check(module) ? PyModule_GetDict(module) : NULL;
    if (dict == NULL) {
        PyErr_Clear();
        Py_DECREF(module);
        set_error(error, "%s is not a module", module_name);
        return OPFD_HOST_ERROR;
    }
    Py_XSETREF(instance->plugin, module);
    Py_XSETREF(instance->plugin_dict, Py_NewRef(dict));
    instance->old_api = detect_old_api(dict);
    if (instance->old_api && instance->context == NULL) {
        instance->context = PyCapsule_New(instance, OPFD_CONTEXT_CAPSULE_NAME, NULL);
        if (instance->context == NULL) {
            PyErr_Clear();
            set_error(error, "cannot create the plugin context");
            return OPFD_HOST_ERROR;
        }
    }
    return OPFD_DONE;
}

int opfd_is_old_api(const opfd_instance *instance) {
    return instance != NULL && instance->old_api;
}

int opfd_event_registered(const opfd_instance *instance, int event) {
    if (instance == NULL || event < 1 || event > 31) {
        return 0;
    }
    return (instance->events >> event) & 1;
}

opfd_status opfd_load_bareos_plugin(opfd_instance *instance, const char *options, int *rc, opfd_error *error) {
    return call_with_text(instance, OPFD_EP_LOAD_BAREOS_PLUGIN, options, options != NULL ? strlen(options) : 0, 1,
                          rc, error);
}

opfd_status opfd_parse_plugin_definition(opfd_instance *instance, const char *options, int *rc,
                                         opfd_error *error) {
    return call_with_text(instance, OPFD_EP_PARSE_PLUGIN_DEFINITION, options,
                          options != NULL ? strlen(options) : 0, 1, rc, error);
}

opfd_status opfd_handle_plugin_event(opfd_instance *instance, int event, int *rc, opfd_error *error) {
    PyObject *function;
    opfd_status status = begin_call(instance, OPFD_EP_HANDLE_PLUGIN_EVENT, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    PyObject *argument = PyLong_FromLong(event);
    if (argument == NULL) {
        return build_failed(instance, function, error);
    }
    status = invoke(instance, OPFD_EP_HANDLE_PLUGIN_EVENT, function, argument, rc, error);
    Py_DECREF(argument);
    return status;
}

// MARK: - Packets

static PyObject *make_stat(opfd_instance *instance, const opfd_stat *stat) {
    PyTypeObject *type = instance->types->stat_type;
    opfd_StatPacket *packet = (opfd_StatPacket *)type->tp_alloc(type, 0);
    if (packet == NULL) {
        return NULL;
    }
    packet->dev = (unsigned int)stat->dev;
    packet->ino = stat->ino;
    packet->mode = (unsigned short)stat->mode;
    packet->nlink = (unsigned short)stat->nlink;
    packet->uid = stat->uid;
    packet->gid = stat->gid;
    packet->rdev = (unsigned int)stat->rdev;
    packet->size = stat->size;
    packet->atime = (long)stat->atime;
    packet->mtime = (long)stat->mtime;
    packet->ctime = (long)stat->ctime;
    packet->blksize = stat->blksize;
    packet->blocks = stat->blocks;
    return (PyObject *)packet;
}

/// The cached `cmd` str of this instance (new reference; NULL + exception on failure; *none set for NULL cmd).
static PyObject *cached_cmd(opfd_instance *instance, const char *cmd) {
    if (instance->cmd_object == NULL || instance->cmd_text == NULL || strcmp(instance->cmd_text, cmd) != 0) {
        char *text = copy_string(cmd);
        if (text == NULL) {
            return PyErr_NoMemory();
        }
        PyObject *object = opfd_decode(cmd, strlen(cmd));
        if (object == NULL) {
            free(text);
            return NULL;
        }
        free(instance->cmd_text);
        instance->cmd_text = text;
        Py_XSETREF(instance->cmd_object, object);
    }
    return Py_NewRef(instance->cmd_object);
}

static PyObject *make_save_packet(opfd_instance *instance, const opfd_save_packet *in) {
    PyTypeObject *type = instance->types->save_type;
    opfd_SavePacket *packet = (opfd_SavePacket *)type->tp_alloc(type, 0);
    if (packet == NULL) {
        return NULL;
    }
    packet->fname = opfd_decode(in->fname, in->fname_length);
    if (packet->fname == NULL) {
        goto failed;
    }
    if (in->link != NULL && in->link_length == in->fname_length &&
        (in->link == in->fname || memcmp(in->link, in->fname, in->link_length) == 0)) {
        packet->link = Py_NewRef(packet->fname);
    } else {
        packet->link = opfd_decode(in->link, in->link_length);
        if (packet->link == NULL) {
            goto failed;
        }
    }
    if (in->has_stat) {
        packet->statp = make_stat(instance, &in->stat);
        if (packet->statp == NULL) {
            goto failed;
        }
    }
    packet->flags = PyByteArray_FromStringAndSize((const char *)in->flags, sizeof(in->flags));
    if (packet->flags == NULL) {
        goto failed;
    }
    if (in->cmd != NULL) {
        packet->cmd = cached_cmd(instance, in->cmd);
        if (packet->cmd == NULL) {
            goto failed;
        }
    }
    packet->type = in->type;
    packet->no_read = in->no_read ? 1 : 0;
    packet->portable = 1;
    packet->accurate_found = in->accurate_found ? 1 : 0;
    packet->save_time = in->save_time;
    packet->delta_seq = in->delta_seq;
    return (PyObject *)packet;
failed:
    Py_DECREF(packet);
    return NULL;
}

opfd_status opfd_handle_backup_file(opfd_instance *instance, opfd_save_packet *in, int *rc, opfd_error *error) {
    PyObject *function;
    opfd_status status = begin_call(instance, OPFD_EP_HANDLE_BACKUP_FILE, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    PyObject *object = make_save_packet(instance, in);
    if (object == NULL) {
        return build_failed(instance, function, error);
    }
    status = invoke(instance, OPFD_EP_HANDLE_BACKUP_FILE, function, object, rc, error);
    if (status == OPFD_DONE) {
        opfd_SavePacket *packet = (opfd_SavePacket *)object;
        PyObject *flags = packet->flags;
        if (flags == NULL || !PyByteArray_Check(flags) || PyByteArray_GET_SIZE(flags) != (Py_ssize_t)sizeof(in->flags)) {
            set_error(error, "handle_backup_file: savepkt.flags must be a bytearray of %zu bytes, not %s%s",
                      sizeof(in->flags), flags == NULL ? "None" : Py_TYPE(flags)->tp_name,
                      flags != NULL && PyByteArray_Check(flags) ? " of another length" : "");
            *rc = 2;
            status = OPFD_BAD_PACKET;
        } else {
            memcpy(in->flags, PyByteArray_AS_STRING(flags), sizeof(in->flags));
            in->no_read = packet->no_read;
            in->delta_seq = packet->delta_seq;
            in->save_time = packet->save_time;
        }
    }
    Py_DECREF(object);
    return status;
}

opfd_status opfd_plugin_io(opfd_instance *instance, opfd_io *io, int *rc, opfd_error *error) {
    PyObject *function;
    opfd_status status = begin_call(instance, OPFD_EP_PLUGIN_IO, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    PyTypeObject *type = instance->types->io_type;
    opfd_IoPacket *packet = (opfd_IoPacket *)type->tp_alloc(type, 0);
    if (packet == NULL) {
        return build_failed(instance, function, error);
    }
    packet->func = (unsigned short)io->func;
    packet->count = io->count;
    packet->flags = io->flags;
    packet->mode = io->mode;
    packet->status = io->status;
    packet->io_errno = io->io_errno;
    packet->lerror = io->lerror;
    packet->whence = io->whence;
    packet->offset = io->offset;
    packet->win32 = io->win32 ? 1 : 0;
    packet->filedes = io->filedes;
    if (io->fname != NULL) {
        packet->fname = opfd_decode(io->fname, io->fname_length);
        if (packet->fname == NULL) {
            Py_DECREF(packet);
            return build_failed(instance, function, error);
        }
    }
    if (io->func == 3 && io->count > 0 && io->write_buffer != NULL) {
        packet->buf = PyByteArray_FromStringAndSize((const char *)io->write_buffer, io->count);
        if (packet->buf == NULL) {
            Py_DECREF(packet);
            return build_failed(instance, function, error);
        }
    }
    status = invoke(instance, OPFD_EP_PLUGIN_IO, function, (PyObject *)packet, rc, error);
    if (status == OPFD_DONE) {
        if (io->func == 2 && packet->status > 0) {
            PyObject *buf = packet->buf;
            const char *data = NULL;
            Py_ssize_t size = 0;
            if (buf != NULL && PyByteArray_Check(buf)) {
                data = PyByteArray_AS_STRING(buf);
                size = PyByteArray_GET_SIZE(buf);
            } else if (buf != NULL && PyBytes_Check(buf)) {
                data = PyBytes_AS_STRING(buf);
                size = PyBytes_GET_SIZE(buf);
            }
            if (data == NULL) {
                set_error(error, "plugin_io: IO_READ status %lld but buf is %s, not bytes or bytearray",
                          packet->status, buf == NULL ? "None" : Py_TYPE(buf)->tp_name);
                status = OPFD_BAD_PACKET;
            } else if (size > io->count || packet->status > size || io->read_buffer == NULL) {
                set_error(error, "plugin_io: IO_READ returned %zd bytes with status %lld for a buffer of %d bytes",
                          size, packet->status, (int)io->count);
                status = OPFD_BAD_PACKET;
            } else {
                memcpy(io->read_buffer, data, (size_t)packet->status);
            }
        }
        if (status == OPFD_DONE) {
            io->status = packet->status;
            io->io_errno = packet->io_errno;
            io->lerror = packet->lerror;
            io->win32 = packet->win32;
            io->filedes = packet->filedes;
        } else {
            *rc = 2;
        }
    }
    Py_DECREF(packet);
    return status;
}

/// A bytes/bytearray field as a malloc'd copy. 0 (None: *copy NULL), 1 (copied) or -1 (wrong type).
static int copy_buffer_field(PyObject *field, uint8_t **copy, size_t *length) {
    *copy = NULL;
    *length = 0;
    if (field == NULL || field == Py_None) {
        return 0;
    }
    const char *data;
    Py_ssize_t size;
    if (PyByteArray_Check(field)) {
        data = PyByteArray_AS_STRING(field);
        size = PyByteArray_GET_SIZE(field);
    } else if (PyBytes_Check(field)) {
        data = PyBytes_AS_STRING(field);
        size = PyBytes_GET_SIZE(field);
    } else {
        return -1;
    }
    *copy = malloc(size > 0 ? (size_t)size : 1);
    if (*copy == NULL) {
        return -2;
    }
    memcpy(*copy, data, (size_t)size);
    *length = (size_t)size;
    return 1;
}

opfd_status opfd_call_begin(opfd_instance *instance, int ep, PyObject **function, int *rc, opfd_error *error) {
    return begin_call(instance, ep, function, rc, error);
}

opfd_status opfd_call_invoke(opfd_instance *instance, int ep, PyObject *function, PyObject *argument, int *rc,
                             opfd_error *error) {
    return invoke(instance, ep, function, argument, rc, error);
}

opfd_status opfd_call_build_failed(opfd_instance *instance, PyObject *function, opfd_error *error) {
    return build_failed(instance, function, error);
}

PyObject *opfd_stat_object(opfd_instance *instance, const opfd_stat *stat) {
    return make_stat(instance, stat);
}

PyObject *opfd_cmd_object(opfd_instance *instance, const char *cmd) {
    return cached_cmd(instance, cmd);
}

void opfd_error_set(opfd_error *error, const char *text) {
    set_error(error, "%s", text);
}

int opfd_copy_buffer_field(PyObject *field, uint8_t **copy, size_t *length) {
    return copy_buffer_field(field, copy, length);
}

static PyObject *new_packet(PyTypeObject *type) {
    return type->tp_alloc(type, 0);
}

opfd_status opfd_get_acl(opfd_instance *instance, const char *fname, size_t fname_length, int *rc,
                         uint8_t **content, size_t *content_length, opfd_error *error) {
    *content = NULL;
    *content_length = 0;
    PyObject *function;
    opfd_status status = begin_call(instance, OPFD_EP_GET_ACL, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    opfd_AclPacket *packet = (opfd_AclPacket *)new_packet(instance->types->acl_type);
    if (packet == NULL || (packet->fname = opfd_decode(fname, fname_length)) == NULL) {
        Py_XDECREF(packet);
        return build_failed(instance, function, error);
    }
    status = invoke(instance, OPFD_EP_GET_ACL, function, (PyObject *)packet, rc, error);
    if (status == OPFD_DONE && *rc == 0) {
        int copied = copy_buffer_field(packet->content, content, content_length);
        if (copied < 0) {
            set_error(error, copied == -1 ? "get_acl: content must be a bytearray, not %s" : "get_acl: out of memory (%s)",
                      Py_TYPE(packet->content)->tp_name);
            *rc = 2;
            status = copied == -1 ? OPFD_BAD_PACKET : OPFD_HOST_ERROR;
        } else if (copied == 1 && *content_length == 0) {
            free(*content);
            *content = NULL;
        }
    }
    Py_DECREF(packet);
    return status;
}

opfd_status opfd_get_xattr(opfd_instance *instance, const char *fname, size_t fname_length, int *rc,
                           uint8_t **name, size_t *name_length, uint8_t **value, size_t *value_length,
                           opfd_error *error) {
    *name = NULL;
    *value = NULL;
    *name_length = 0;
    *value_length = 0;
    PyObject *function;
    opfd_status status = begin_call(instance, OPFD_EP_GET_XATTR, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    opfd_XattrPacket *packet = (opfd_XattrPacket *)new_packet(instance->types->xattr_type);
    if (packet == NULL || (packet->fname = opfd_decode(fname, fname_length)) == NULL) {
        Py_XDECREF(packet);
        return build_failed(instance, function, error);
    }
    status = invoke(instance, OPFD_EP_GET_XATTR, function, (PyObject *)packet, rc, error);
    if (status == OPFD_DONE) {
        int name_copied = copy_buffer_field(packet->name, name, name_length);
        int value_copied = name_copied >= 0 ? copy_buffer_field(packet->value, value, value_length) : 0;
        if (name_copied < 0 || value_copied < 0) {
            set_error(error, "get_xattr: %s must be a bytearray, not %s", name_copied < 0 ? "name" : "value",
                      Py_TYPE(name_copied < 0 ? packet->name : packet->value)->tp_name);
            free(*name);
            free(*value);
            *name = NULL;
            *value = NULL;
            *name_length = 0;
            *value_length = 0;
            *rc = 2;
            status = OPFD_BAD_PACKET;
        }
    }
    Py_DECREF(packet);
    return status;
}

opfd_status opfd_check_file(opfd_instance *instance, const char *fname, size_t fname_length, int *rc,
                            opfd_error *error) {
    return call_with_text(instance, OPFD_EP_CHECK_FILE, fname, fname_length, 1, rc, error);
}

// MARK: - Restore

opfd_status opfd_start_restore_file(opfd_instance *instance, const char *cmd, int *rc, opfd_error *error) {
    return call_with_text(instance, OPFD_EP_START_RESTORE_FILE, cmd, cmd != NULL ? strlen(cmd) : 0, 1, rc, error);
}

static PyObject *make_restore_packet(opfd_instance *instance, const opfd_restore_packet *in) {
    opfd_RestorePacket *packet = (opfd_RestorePacket *)new_packet(instance->types->restore_type);
    if (packet == NULL) {
        return NULL;
    }
    packet->stream = in->stream;
    packet->data_stream = in->data_stream;
    packet->type = in->type;
    packet->file_index = (int)in->file_index;
    packet->linkFI = (int)in->link_fi;
    packet->uid = in->uid;
    packet->replace = in->replace;
    packet->create_status = in->create_status;
    packet->filedes = in->filedes;
    if ((packet->statp = make_stat(instance, &in->stat)) == NULL ||
        (packet->attrEX = opfd_decode(in->attr_ex, in->attr_ex != NULL ? strlen(in->attr_ex) : 0)) == NULL ||
        (packet->ofname = opfd_decode(in->ofname, in->ofname_length)) == NULL ||
        (packet->olname = opfd_decode(in->olname, in->olname_length)) == NULL ||
        (packet->where = decode_or_none(in->where, in->where != NULL ? strlen(in->where) : 0)) == NULL ||
        (packet->regexwhere = decode_or_none(in->regexwhere, in->regexwhere != NULL ? strlen(in->regexwhere) : 0)) ==
            NULL ||
        (packet->original_file_name = decode_or_none(in->original_file_name, in->original_file_name_length)) ==
            NULL ||
        (packet->original_link_name = decode_or_none(in->original_link_name, in->original_link_name_length)) ==
            NULL) {
        Py_DECREF(packet);
        return NULL;
    }
    return (PyObject *)packet;
}

static opfd_status call_restore(opfd_instance *instance, int ep, opfd_restore_packet *in, int copy_back, int *rc,
                                opfd_error *error) {
    PyObject *function;
    opfd_status status = begin_call(instance, ep, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    PyObject *object = make_restore_packet(instance, in);
    if (object == NULL) {
        return build_failed(instance, function, error);
    }
    status = invoke(instance, ep, function, object, rc, error);
    if (status == OPFD_DONE && copy_back) {
        opfd_RestorePacket *packet = (opfd_RestorePacket *)object;
        in->create_status = packet->create_status;
        in->filedes = packet->filedes;
    }
    Py_DECREF(object);
    return status;
}

opfd_status opfd_create_file(opfd_instance *instance, opfd_restore_packet *packet, int *rc, opfd_error *error) {
    return call_restore(instance, OPFD_EP_CREATE_FILE, packet, 1, rc, error);
}

opfd_status opfd_set_file_attributes(opfd_instance *instance, opfd_restore_packet *packet, int *rc,
                                     opfd_error *error) {
    return call_restore(instance, OPFD_EP_SET_FILE_ATTRIBUTES, packet, 0, rc, error);
}

opfd_status opfd_end_restore_file(opfd_instance *instance, int *rc, opfd_error *error) {
    return call_with_text(instance, OPFD_EP_END_RESTORE_FILE, NULL, 0, 0, rc, error);
}

opfd_status opfd_set_acl(opfd_instance *instance, const char *fname, size_t fname_length, const uint8_t *content,
                         size_t content_length, int *rc, opfd_error *error) {
    PyObject *function;
    opfd_status status = begin_call(instance, OPFD_EP_SET_ACL, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    opfd_AclPacket *packet = (opfd_AclPacket *)new_packet(instance->types->acl_type);
    if (packet == NULL || (packet->fname = opfd_decode(fname, fname_length)) == NULL ||
        (packet->content = PyByteArray_FromStringAndSize(content != NULL ? (const char *)content : "",
                                                         content != NULL ? (Py_ssize_t)content_length : 0)) == NULL) {
        Py_XDECREF(packet);
        return build_failed(instance, function, error);
    }
    status = invoke(instance, OPFD_EP_SET_ACL, function, (PyObject *)packet, rc, error);
    Py_DECREF(packet);
    return status;
}

opfd_status opfd_set_xattr(opfd_instance *instance, const char *fname, size_t fname_length, const uint8_t *name,
                           size_t name_length, const uint8_t *value, size_t value_length, int *rc,
                           opfd_error *error) {
    PyObject *function;
    opfd_status status = begin_call(instance, OPFD_EP_SET_XATTR, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    opfd_XattrPacket *packet = (opfd_XattrPacket *)new_packet(instance->types->xattr_type);
    if (packet == NULL || (packet->fname = opfd_decode(fname, fname_length)) == NULL ||
        (packet->name = PyByteArray_FromStringAndSize(name != NULL ? (const char *)name : "",
                                                      name != NULL ? (Py_ssize_t)name_length : 0)) == NULL ||
        (packet->value = PyByteArray_FromStringAndSize(value != NULL ? (const char *)value : "",
                                                       value != NULL ? (Py_ssize_t)value_length : 0)) == NULL) {
        Py_XDECREF(packet);
        return build_failed(instance, function, error);
    }
    status = invoke(instance, OPFD_EP_SET_XATTR, function, (PyObject *)packet, rc, error);
    Py_DECREF(packet);
    return status;
}
