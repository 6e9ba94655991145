// The host side of the `bareosfd` Python module: what the Swift host (Sources/Stages/Python) calls to run Bareos
// python-fd option plugins in embedded CPython 3.11, one sub-interpreter per plugin instance.
//
// No Python type appears here: Swift sees plain C structs, byte strings and status codes. Every function below
// except opfd_runtime_initialize, opfd_instance_create, opfd_instance_destroy and opfd_free must be called between
// opfd_instance_enter and opfd_instance_leave of the same instance, on the one thread that owns the runtime.
//
// Names (file names, link targets, output names) are byte strings: they reach Python as `str` decoded from UTF-8
// with `surrogateescape` (as os.fsdecode does) and come back encoded the same way.
#ifndef BAREOSFD_HOST_H
#define BAREOSFD_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What happened to one call into a plugin entry point.
typedef enum opfd_status {
    /// The entry point ran and returned an int (in *rc; `True`/`False` count as 1/0).
    OPFD_DONE = 0,
    /// The module has no callable of that name (Bareos answers bRC_Error without a message).
    OPFD_MISSING = 1,
    /// The call raised: error->text holds the formatted traceback (`traceback.format_exception`).
    OPFD_EXCEPTION = 2,
    /// The call returned None or something that is not an int: error->text names the type.
    OPFD_BAD_RETURN = 3,
    /// The call returned, but a field it set cannot be copied back (flags not a bytearray of 5 bytes, a read
    /// buffer that is not bytes/bytearray or longer than count, status > count, ...): error->text says which.
    OPFD_BAD_PACKET = 4,
    /// The host could not make the call (no memory, no instance, interpreter already ended).
    OPFD_HOST_ERROR = 5,
} opfd_status;

/// A message for the host; `text` is malloc'd UTF-8 (NULL when there is none). Free with opfd_error_clear.
typedef struct opfd_error {
    char *text;
} opfd_error;

void opfd_error_clear(opfd_error *error);
/// Frees memory the module handed out (ACL content, xattr names/values).
void opfd_free(void *pointer);

/// FileSet edits a plugin may ask for (AddExclude ... NewPreInclude).
enum {
    OPFD_FILESET_ADD_EXCLUDE = 1,
    OPFD_FILESET_ADD_INCLUDE = 2,
    OPFD_FILESET_ADD_OPTIONS = 3,
    OPFD_FILESET_ADD_REGEX = 4,
    OPFD_FILESET_ADD_WILD = 5,
    OPFD_FILESET_NEW_OPTIONS = 6,
    OPFD_FILESET_NEW_INCLUDE = 7,
    OPFD_FILESET_NEW_PRE_INCLUDE = 8,
};

/// Calls from Python back into the host. `host` is opfd_job.host of the instance that is current on this thread.
/// Text arguments are UTF-8 (surrogateescape for names), not NUL-terminated: use the length.
typedef struct opfd_callbacks {
    /// bareosfd.JobMessage(type, msg): type is the M_* number as given by the plugin.
    void (*job_message)(void *host, int type, const char *text, size_t length);
    /// bareosfd.DebugMessage(level, msg): only called when level <= opfd_job.debug_level.
    void (*debug_message)(void *host, int level, const char *text, size_t length);
    /// What plugin code writes to sys.stdout (stream 1) or sys.stderr (stream 2), one call per complete line
    /// (without its newline); a partial last line is passed when the instance is destroyed.
    void (*output)(void *host, int stream, const char *text, size_t length);
    /// bareosfd.CheckChanges(savepkt): 0 = changed (back it up), 5 (bRC_Seen) = unchanged. May set
    /// *accurate_found and *delta_seq, which are written back into the packet.
    int (*check_changes)(void *host, const char *fname, size_t length, int type, int64_t save_time,
                         int *accurate_found, uint32_t *delta_seq);
    /// bareosfd.AcceptFile(savepkt): 0 = the FileSet's rules accept the file, 7 (bRC_Skip) = they do not.
    int (*accept_file)(void *host, const char *fname, size_t length, uint32_t mode);
    /// SetValue(bVarFileSeen, path), SetSeenBitmap, ClearSeenBitmap: fname NULL means every file;
    /// seen 1 = mark seen, 0 = clear. Returns a bRC value.
    int (*file_seen)(void *host, const char *fname, size_t length, int seen);
    /// AddExclude/AddInclude/AddOptions/AddRegex/AddWild/NewOptions/NewInclude/NewPreInclude (op = OPFD_FILESET_*;
    /// text NULL when the function takes none; type = the regex/wild type, 0 otherwise). Returns a bRC value.
    int (*fileset)(void *host, int op, const char *text, size_t length, int type);
} opfd_callbacks;

/// What bareosfd.GetValue answers for one instance (copied at opfd_instance_create). NULL strings read as None.
typedef struct opfd_job {
    /// Passed back to every callback.
    void *host;
    int64_t job_id;             // bVarJobId
    const char *job_name;       // bVarJobName (unique name, `Name.YYYY-MM-DD_HH.MM.SS_NN`)
    const char *fd_name;        // bVarFDName
    const char *client;         // bVarClient
    int level;                  // bVarLevel: ASCII code of the level letter (F, I, D)
    int job_type;               // bVarType: ASCII code (B backup, R restore)
    int job_status;             // bVarJobStatus: ASCII code (R running)
    int64_t since;              // bVarSinceTime (epoch seconds; 0 for Full); SetValue(bVarSinceTime) changes it
    int accurate;               // bVarAccurate (0/1)
    const char *working_dir;    // bVarWorkingDir
    const char *where;          // bVarWhere
    const char *regexwhere;     // bVarRegexWhere
    const char *exe_path;       // bVarExePath
    const char *version;        // bVarVersion
    const char *prev_job_name;  // bVarPrevJobName
    const char *used_config;    // bVarUsedConfig
    int prefix_links;           // bVarPrefixLinks (0/1)
    int accurate_options;       // bVarAccurateOptions: bAccurateOption bits as a frozenset; -1 = None
    int debug_level;            // DebugMessage levels up to this one reach the host
} opfd_job;

// MARK: - Runtime and instances

/// Initializes the main interpreter once per process, on the calling thread: isolated configuration (environment
/// variables such as PYTHONHOME/PYTHONPATH ignored, no user site), `executable` as sys.executable, no signal
/// handlers, no argv parsing; registers the built-in modules `bareosfd` and `bareos_fd_consts`; then releases the
/// GIL. Returns 0, or -1 with error->text (a second call returns 0 and does nothing).
int opfd_runtime_initialize(const char *executable, const opfd_callbacks *callbacks, opfd_error *error);

// MARK: - Crash guard

/// Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT: while a note is set (a plugin call runs),
/// such a signal prints "optionhost: SIGSEGV while a Python plugin call ran: NOTE" and ends the process with status
/// 3; otherwise the previous handler gets the signal. Returns 0, or -1 when a handler could not be installed.
int opfd_crash_guard_install(void);
/// Sets the note (the plugin, the call and the file; at most 2048 bytes are kept) before a plugin call.
void opfd_crash_note(const char *text, size_t length);
/// Clears the note after the call.
void opfd_crash_note_clear(void);
/// Every note is also copied into `region` (`size` bytes of shared memory: a native-endian 32-bit length, then the
/// text), which outlives this process whatever ends it, SIGKILL included: memory shared with the host (a plugin
/// process, `quiet` 1: a fatal signal during a call then ends the process by that signal, printing nothing, as the
/// host reports it), or a file the next command reads (in-process, `quiet` 0). NULL stops the copying. Called
/// between plugin calls (the note is not written concurrently).
void opfd_crash_note_share(void *region, size_t size, int quiet);

typedef struct opfd_instance opfd_instance;

/// Creates one plugin instance: a sub-interpreter (Py_NewInterpreter, shared GIL) whose sys.stdout/sys.stderr
/// go to callbacks->output. Returns with the GIL released, or NULL with error->text.
opfd_instance *opfd_instance_create(const opfd_job *job, opfd_error *error);
/// Takes the GIL with this instance's thread state and makes the instance the current plugin context of this
/// thread (what bareosfd functions act on). Nests: enter A, enter B, leave B, leave A is allowed.
void opfd_instance_enter(opfd_instance *instance);
/// Clears the current context (restoring the previous one) and releases the GIL.
void opfd_instance_leave(opfd_instance *instance);
/// Ends the sub-interpreter (Py_EndInterpreter, joining the plugin's non-daemon threads) and frees the instance.
/// Called outside enter/leave.
void opfd_instance_destroy(opfd_instance *instance);
/// The job's status letter for bVarJobStatus (e.g. 'T' at the end, 'f' after a fatal error).
void opfd_instance_set_job_status(opfd_instance *instance, int status);
/// Live instances in this process (what bareosfd.GetInstanceCount answers).
int opfd_instance_count(void);
/// The linked libpython's version line (Py_GetVersion; needs no initialized interpreter), for `--version`.
const char *opfd_python_version(void);

/// 1 (and clears it) when the last failing call of this instance ended in `os._exit` called by the plugin: the
/// host replaces `os._exit` in every plugin interpreter with one that raises instead of ending the process (in a
/// forked child it still ends the child), so the job fails naming the plugin and file rather than vanishing.
int opfd_instance_take_exit_request(opfd_instance *instance);

// MARK: - Loading

/// Inserts `plugin_dir` (if not NULL) and then `module_path` (if not NULL) at sys.path[0], imports `module_name`
/// exactly as PyImport_ImportModule does (dashes, packages, dotted names), and detects the API generation: OLD
/// when `load_bareos_plugin` takes two positional parameters (context, plugindef). OPFD_EXCEPTION carries the
/// import error's traceback.
opfd_status opfd_import(opfd_instance *instance, const char *module_path, const char *plugin_dir,
                        const char *module_name, opfd_error *error);
/// 1 when the imported plugin is an old-generation (context-first) plugin.
int opfd_is_old_api(const opfd_instance *instance);
/// 1 when the plugin registered this event (RegisterEvents), 0 when not.
int opfd_event_registered(const opfd_instance *instance, int event);

/// load_bareos_plugin(plugindef)
opfd_status opfd_load_bareos_plugin(opfd_instance *instance, const char *options, int *rc, opfd_error *error);
/// parse_plugin_definition(plugindef)
opfd_status opfd_parse_plugin_definition(opfd_instance *instance, const char *options, int *rc, opfd_error *error);
/// handle_plugin_event(event), whether registered or not (the host checks opfd_event_registered).
opfd_status opfd_handle_plugin_event(opfd_instance *instance, int event, int *rc, opfd_error *error);

// MARK: - Backup

/// Stat data as a StatPacket carries it.
typedef struct opfd_stat {
    uint64_t dev;
    uint64_t ino;
    uint32_t mode;
    uint32_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint64_t rdev;
    uint64_t size;
    int64_t atime;
    int64_t mtime;
    int64_t ctime;
    uint32_t blksize;
    uint64_t blocks;
} opfd_stat;

/// One SavePacket for handle_backup_file (option plugin rules of python-fd §5.1).
typedef struct opfd_save_packet {
    // In.
    const char *fname;
    size_t fname_length;
    const char *link;
    size_t link_length;
    int type;                 // FT_*
    int has_stat;             // 0: statp is None
    opfd_stat stat;
    const char *cmd;          // the full stage string (read-only `cmd`)
    int accurate_found;
    // In, and copied back after the call.
    uint8_t flags[5];         // FOPTS_BYTES bits; must come back as a bytearray of exactly 5 bytes
    int no_read;
    uint32_t delta_seq;
    int64_t save_time;
} opfd_save_packet;

/// handle_backup_file(savepkt); copies back flags, no_read, delta_seq and save_time.
opfd_status opfd_handle_backup_file(opfd_instance *instance, opfd_save_packet *packet, int *rc, opfd_error *error);

/// One IoPacket for plugin_io (python-fd §5.4, §6.3).
typedef struct opfd_io {
    // In.
    int func;                  // IO_OPEN 1, IO_READ 2, IO_WRITE 3, IO_CLOSE 4, IO_SEEK 5
    int32_t count;             // READ: capacity of read_buffer; WRITE: bytes in write_buffer
    int flags;                 // OPEN: open(2) flags
    int mode;                  // OPEN: create mode
    const char *fname;         // OPEN: the path (NULL otherwise: `fname` reads as None)
    size_t fname_length;
    const uint8_t *write_buffer;   // WRITE: `buf` is a bytearray of these count bytes (None when count is 0)
    uint8_t *read_buffer;          // READ: where the first `status` bytes of `buf` are copied
    int whence;                // SEEK
    int64_t offset;            // SEEK (never copied back)
    // In (filedes), and copied back after the call.
    int64_t status;
    int io_errno;
    int lerror;
    int win32;
    int64_t filedes;           // -1 on OPEN
} opfd_io;

/// plugin_io(iop); copies back status, io_errno, lerror, win32, filedes, and on READ with status > 0 the bytes.
opfd_status opfd_plugin_io(opfd_instance *instance, opfd_io *io, int *rc, opfd_error *error);

/// get_acl(AclPacket(fname)): on OPFD_DONE with rc 0 and `content` a non-empty bytearray, *content is a malloc'd
/// copy (free with opfd_free) and *content_length its size; otherwise *content is NULL.
opfd_status opfd_get_acl(opfd_instance *instance, const char *fname, size_t fname_length, int *rc,
                         uint8_t **content, size_t *content_length, opfd_error *error);
/// get_xattr(XattrPacket(fname)): one call. *name/*value are malloc'd copies when the plugin set them (else NULL).
/// rc 3 (bRC_More) asks to be called again.
opfd_status opfd_get_xattr(opfd_instance *instance, const char *fname, size_t fname_length, int *rc,
                           uint8_t **name, size_t *name_length, uint8_t **value, size_t *value_length,
                           opfd_error *error);
/// check_file(fname) (Accurate: 5 = bRC_Seen keeps the file from being recorded as deleted).
opfd_status opfd_check_file(opfd_instance *instance, const char *fname, size_t fname_length, int *rc,
                            opfd_error *error);

// MARK: - Restore

/// One RestorePacket (python-fd §5.3).
typedef struct opfd_restore_packet {
    // In.
    int stream;
    int data_stream;
    int type;                  // FT_*
    int64_t file_index;
    int64_t link_fi;
    uint32_t uid;
    opfd_stat stat;
    const char *attr_ex;       // NULL reads as ""
    const char *ofname;        // output path (under --where)
    size_t ofname_length;
    const char *olname;        // output link target (NULL reads as "")
    size_t olname_length;
    const char *where;         // NULL reads as None
    const char *regexwhere;    // NULL reads as None
    int replace;               // ASCII: 'a' always, 'w' if newer, 'o' if older, 'n' never
    const char *original_file_name;
    size_t original_file_name_length;
    const char *original_link_name;
    size_t original_link_name_length;
    // In, and copied back after create_file only.
    int create_status;         // arrives as CF_ERROR (2)
    int64_t filedes;           // arrives as -1
} opfd_restore_packet;

/// start_restore_file(cmd)
opfd_status opfd_start_restore_file(opfd_instance *instance, const char *cmd, int *rc, opfd_error *error);
/// create_file(restorepkt); copies back create_status and filedes.
opfd_status opfd_create_file(opfd_instance *instance, opfd_restore_packet *packet, int *rc, opfd_error *error);
/// set_file_attributes(restorepkt); nothing is copied back.
opfd_status opfd_set_file_attributes(opfd_instance *instance, opfd_restore_packet *packet, int *rc,
                                     opfd_error *error);
/// end_restore_file()
opfd_status opfd_end_restore_file(opfd_instance *instance, int *rc, opfd_error *error);
/// set_acl(AclPacket(fname, content))
opfd_status opfd_set_acl(opfd_instance *instance, const char *fname, size_t fname_length, const uint8_t *content,
                         size_t content_length, int *rc, opfd_error *error);
/// set_xattr(XattrPacket(fname, name, value))
opfd_status opfd_set_xattr(opfd_instance *instance, const char *fname, size_t fname_length, const uint8_t *name,
                           size_t name_length, const uint8_t *value, size_t value_length, int *rc,
                           opfd_error *error);

// MARK: - Command plugins (Include-level `Plugin =`; bareosfd_command.c)

/// One SavePacket for start_backup_file (python-fd §5.1, command-plugin column). What the plugin set is copied
/// back after the call when it returned 0 (bRC_OK); malloc'd fields are freed with opfd_command_packet_clear.
typedef struct opfd_command_packet {
    // In.
    const char *cmd;           // the full plugin string (read-only `cmd`)
    uint8_t flags[5];          // FO_* bits of the Include's default Options block
    int64_t save_time;         // since time of the job (0 for a Full)
    // Out (when the call returned 0).
    char *fname;               // str, required (UTF-8 with surrogateescape)
    size_t fname_length;
    char *link;                // str or NULL (unset or "")
    size_t link_length;
    int has_stat;              // 0: statp was None or not a StatPacket
    opfd_stat stat;
    int type;                  // FT_*
    int no_read;
    int portable;
    int accurate_found;
    uint32_t delta_seq;
    char *object_name;         // restore objects (FT_RESTORE_FIRST ...): str or NULL
    size_t object_name_length;
    uint8_t *object;           // bytes/bytearray or NULL
    size_t object_length;
    int object_len;
    int object_index;
} opfd_command_packet;

/// Frees what start_backup_file copied out of the packet.
void opfd_command_packet_clear(opfd_command_packet *packet);
/// start_backup_file(savepkt): rc 0 = an item (fields copied back; OPFD_BAD_PACKET when fname is not a str,
/// statp not a StatPacket, flags not a 5-byte bytearray or object not bytes/bytearray), 1 (bRC_Stop) = no more
/// items, 7 (bRC_Skip) = ask again.
opfd_status opfd_start_backup_file(opfd_instance *instance, opfd_command_packet *packet, int *rc, opfd_error *error);
/// end_backup_file(): 3 (bRC_More) asks for another item.
opfd_status opfd_end_backup_file(opfd_instance *instance, int *rc, opfd_error *error);

/// One RestoreObject for restore_object_data (python-fd §5.7).
typedef struct opfd_restore_object {
    const char *object_name;
    size_t object_name_length;
    const uint8_t *object;
    size_t object_length;
    const char *plugin_name;   // the full plugin string
    int object_type;           // FT_RESTORE_FIRST ...
    int object_index;
    int64_t jobid;
} opfd_restore_object;

/// restore_object_data(rop)
opfd_status opfd_restore_object_data(opfd_instance *instance, const opfd_restore_object *object, int *rc,
                                     opfd_error *error);


// MARK: - Director plugins (`Dir Plugin Options`; bareosdir_host.c, bareosdir_module.c)

/// What `bareosdir.GetValue` answers for a Director-plugin instance (bDirVar* numbering). Strings are copied; NULL
/// reads as None.
typedef struct opfd_dir_values {
    int64_t job_id;             // bDirVarJobId (4)
    const char *job;            // bDirVarJob (1): the Job resource's name
    const char *job_name;       // bDirVarJobName (13): the unique job name
    int level;                  // bDirVarLevel (2): ASCII code of the level letter
    int job_type;               // bDirVarType (3): ASCII code ('B')
    int job_status;             // bDirVarJobStatus (14): ASCII code of Bareos' JobStatus letter
    const char *client;         // bDirVarClient (5)
    int num_vols;               // bDirVarNumVols (6)
    const char *pool;           // bDirVarPool (7)
    const char *storage;        // bDirVarStorage (8)
    const char *write_storage;  // bDirVarWriteStorage (9)
    const char *read_storage;   // bDirVarReadStorage (10)
    const char *catalog;        // bDirVarCatalog (11)
    const char *media_type;     // bDirVarMediaType (12)
    int priority;               // bDirVarPriority (15); SetValue(bwDirVarPriority) changes it
    const char *volume_name;    // bDirVarVolumeName (16)
    uint64_t job_errors;        // bDirVarJobErrors (18)
    uint64_t job_files;         // bDirVarJobFiles (19)
    uint64_t sd_job_files;      // bDirVarSDJobFiles (20)
    uint64_t sd_errors;         // bDirVarSDErrors (21)
    int fd_job_status;          // bDirVarFDJobStatus (22)
    int sd_job_status;          // bDirVarSDJobStatus (23)
    const char *plugin_dir;     // bDirVarPluginDir (24)
    uint64_t last_rate;         // bDirVarLastRate (25): bytes per second
    uint64_t job_bytes;         // bDirVarJobBytes (26)
    uint64_t read_bytes;        // bDirVarReadBytes (27)
} opfd_dir_values;

/// Creates one Director-plugin instance: a sub-interpreter like opfd_instance_create's, whose host module is
/// `bareosdir` (with `bareos_dir_consts` for the str-keyed dicts) instead of `bareosfd`. `host` is passed back to
/// the callbacks (job_message, debug_message, output); DebugMessage levels up to `debug_level` reach the host.
/// Load with opfd_import, then opfd_load_bareos_plugin, opfd_parse_plugin_definition and opfd_handle_plugin_event
/// (the bDirEvent* numbers). Returns with the GIL released, or NULL with error->text.
opfd_instance *opfd_director_create(void *host, int debug_level, const opfd_dir_values *values, opfd_error *error);
/// Replaces what GetValue answers (the job moved on: a new status, final counts). Called outside enter/leave or
/// inside; 0, or -1 when out of memory (the old values stay).
int opfd_director_set_values(opfd_instance *instance, const opfd_dir_values *values);
/// The priority GetValue answers now (a plugin may have changed it with SetValue).
int opfd_director_priority(const opfd_instance *instance);

#ifdef __cplusplus
}
#endif

#endif
