"""A base class for python-fd plugins, API-compatible with the helper of the same name that Bareos installs.

Written for OptionPipeline from the published description of the python-fd interface (NEW API, no `context`
argument). Plugins subclass `BareosFdPluginBaseclass`, override the hooks they need and let `BareosFdWrapper`
route the module-level entry points to the instance. Every hook has a working default:

- options: `parse_plugin_definition` turns the option string into `self.options` (first value of a key wins,
  also across calls), with `defaults_file=` / `overrides_file=` files and `key#enc=` (base85) values, then
  `check_options` checks `mandatory_options`;
- backup: `handle_backup_file` answers bRC_Core (the host saves the file), `plugin_io` reads the file itself
  when a subclass takes the I/O over (bRC_OK);
- restore: `create_file` creates directories and symlinks itself and asks for the data of regular files
  (CF_EXTRACT), `plugin_io` writes it, `set_file_attributes` applies owner, mode and times;
- accurate: `check_file` answers bRC_OK, i.e. "not seen by me" (the file is recorded as deleted).

Where this differs from Bareos' own base class (whose defaults are bRC_OK for `handle_backup_file`, CF_CORE in
`create_file` and nothing in `set_file_attributes`), the difference is on purpose: a subclass that does not
override a hook leaves files to the core at backup and restores the files it took completely.
"""

import base64
import errno
import os
import stat

import bareosfd

# Events every plugin built on this class receives (besides the ones the C side always registers).
DEFAULT_EVENTS = [
    bareosfd.bEventJobEnd,
    bareosfd.bEventEndBackupJob,
    bareosfd.bEventEndFileSet,
    bareosfd.bEventHandleBackupFile,
    bareosfd.bEventStartBackupJob,
    bareosfd.bEventStartRestoreJob,
]


def parse_plugindef_string(plugindef):
    """Split an option string `k1=v1:k2=v2:` into a dict.

    Parts are split on ':' and each at its first '='; keys and values are stripped. Parts with an empty key are
    ignored, parts with an empty value are ignored with a warning. A value ending in a backslash continues with
    ':' and the next part (`path=C\\:/x` gives `C:/x`). The first value of a key wins.
    """
    options = {}
    parts = (plugindef or "").split(":")
    index = 0
    while index < len(parts):
        key, _, value = parts[index].partition("=")
        index += 1
        key = key.strip()
        value = value.strip()
        if not key:
            continue
        if not value:
            bareosfd.JobMessage(bareosfd.M_WARNING, "option '%s' has no value and is ignored\n" % key)
            continue
        while value.endswith("\\"):
            if index >= len(parts):  # a backslash at the very end escapes nothing: drop it
                value = value[:-1]
                break
            value = value[:-1] + ":" + parts[index]
            index += 1
        options.setdefault(key, value)
    return options


def parse_options_file(path):
    """Read `key = value` lines from an ini-like file.

    Blank lines and lines starting with '#', ';' or '[' are skipped; a value ending in a backslash continues on the
    next line. A later duplicate replaces the earlier value (with a warning). A line without key or value is an
    error: raises ValueError.
    """
    options = {}
    with open(path, "r", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "[")):
            continue
        key, _, value = stripped.partition("=")
        key = key.strip()
        value = value.strip()
        if not key or not value:
            raise ValueError("%s: line %d has no key or no value: %r" % (path, index, stripped))
        while value.endswith("\\") and index < len(lines):
            value = value[:-1] + lines[index].strip()
            index += 1
        if key in options:
            bareosfd.JobMessage(bareosfd.M_WARNING, "%s: option '%s' set again, the later value wins\n" % (path, key))
        options[key] = value
    return options


def config_directory():
    """The directory relative `defaults_file=` / `overrides_file=` paths are resolved against.

    Derived from GetValue(bVarUsedConfig): a `DIR/*/*.conf` glob gives DIR, a config file gives its directory;
    otherwise the current directory.
    """
    used = bareosfd.GetValue(bareosfd.bVarUsedConfig)
    if isinstance(used, str) and used:
        if used.endswith("/*/*.conf"):
            candidate = used[: -len("/*/*.conf")]
        elif os.path.isfile(used):
            candidate = os.path.dirname(used)
        else:
            candidate = ""
        if candidate and os.path.isdir(candidate):
            return candidate
    return os.getcwd()


def _value(variable):
    """GetValue that never raises (a host may not answer every variable)."""
    try:
        return bareosfd.GetValue(variable)
    except Exception:  # noqa: BLE001 - informational values only
        return None


class BareosFdPluginBaseclass(object):
    """Default behaviour for every python-fd entry point; subclass and override what you need."""

    def __init__(self, plugindef, mandatory_options=None):
        self.plugindef = plugindef
        self.mandatory_options = mandatory_options
        self.options = {}
        # The open file of plugin_io and its name (IoPacket.fname is only set on IO_OPEN).
        self.file = None
        self.FNAME = None
        # Some job values plugins like to have at hand.
        self.jobId = _value(bareosfd.bVarJobId)
        self.jobName = _value(bareosfd.bVarJobName)
        self.level = _value(bareosfd.bVarLevel)
        self.since = _value(bareosfd.bVarSinceTime)
        self.fdname = _value(bareosfd.bVarFDName)
        self.workingdir = _value(bareosfd.bVarWorkingDir)
        bareosfd.RegisterEvents(DEFAULT_EVENTS)
        bareosfd.DebugMessage(100, "%s: created with %r\n" % (type(self).__name__, plugindef))

    # MARK: - Options

    def parse_plugin_definition(self, plugindef):
        """Merge the options of `plugindef` into self.options and check them.

        Precedence inside one call: overrides_file > the string > defaults_file. Across calls the first value of a
        key stays (later option strings only add keys). Returns bRC_OK, or bRC_Error after an M_FATAL message.
        """
        given = parse_plugindef_string(plugindef)
        try:
            defaults = self._options_from_file(given.pop("defaults_file", None))
            overrides = self._options_from_file(given.pop("overrides_file", None))
        except (OSError, ValueError) as error:
            bareosfd.JobMessage(bareosfd.M_FATAL, "cannot read plugin options file: %s\n" % error)
            return bareosfd.bRC_Error
        effective = dict(defaults)
        effective.update(given)
        effective.update(overrides)
        for key, value in effective.items():
            name, _, transform = key.partition("#")
            if transform:
                if transform != "enc":
                    message = "option '%s': unknown transformation '%s'\n" % (name, transform)
                    bareosfd.JobMessage(bareosfd.M_FATAL, message)
                    return bareosfd.bRC_Error
                try:
                    value = base64.b85decode(value).decode("utf-8")
                except ValueError as error:
                    message = "option '%s': cannot decode base85 value: %s\n" % (name, error)
                    bareosfd.JobMessage(bareosfd.M_FATAL, message)
                    return bareosfd.bRC_Error
                key = name
            self.options.setdefault(key, value)
        return self.check_options(self.mandatory_options)

    def _options_from_file(self, path):
        if not path:
            return {}
        if not os.path.isabs(path):
            path = os.path.join(config_directory(), path)
        return parse_options_file(path)

    def check_options(self, mandatory_options=None):
        """Check that every mandatory option is set (M_FATAL + bRC_Error if not). Override to check more."""
        for option in mandatory_options or ():
            if option not in self.options:
                bareosfd.JobMessage(bareosfd.M_FATAL, "mandatory option '%s' is not set\n" % option)
                return bareosfd.bRC_Error
        return bareosfd.bRC_OK

    # MARK: - Events

    def handle_plugin_event(self, event):
        """Dispatch an event number to the matching hook below; unknown events answer bRC_OK."""
        hooks = {
            bareosfd.bEventJobEnd: self.end_job,
            bareosfd.bEventEndBackupJob: self.end_backup_job,
            bareosfd.bEventEndFileSet: self.end_fileset,
            bareosfd.bEventStartBackupJob: self.start_backup_job,
            bareosfd.bEventStartRestoreJob: self.start_restore_job,
            bareosfd.bEventEndRestoreJob: self.end_restore_job,
        }
        hook = hooks.get(event)
        if hook is None:
            bareosfd.DebugMessage(100, "handle_plugin_event(%d): nothing to do\n" % event)
            return bareosfd.bRC_OK
        return hook()

    def start_backup_job(self):
        return bareosfd.bRC_OK

    def end_backup_job(self):
        """Event 4; delivered even when the job failed."""
        return bareosfd.bRC_OK

    def end_fileset(self):
        return bareosfd.bRC_OK

    def start_restore_job(self):
        return bareosfd.bRC_OK

    def end_restore_job(self):
        """Event 6; only delivered if a subclass registers bEventEndRestoreJob."""
        return bareosfd.bRC_OK

    def end_job(self):
        """Event 2; not delivered for failed or cancelled jobs."""
        return bareosfd.bRC_OK

    # MARK: - Backup

    def handle_backup_file(self, savepkt):
        """Option plugins: bRC_Core (the host saves it), bRC_Skip (not saved) or bRC_OK (I/O through plugin_io)."""
        return bareosfd.bRC_Core

    def start_backup_file(self, savepkt):
        """Command plugins only: no (more) files."""
        return bareosfd.bRC_Stop

    def end_backup_file(self):
        return bareosfd.bRC_OK

    def check_file(self, fname):
        """Accurate backups: a file of the previous backup that was not seen. bRC_Seen would keep it alive;
        the default bRC_OK lets it be recorded as deleted."""
        return bareosfd.bRC_OK

    def get_acl(self, acl):
        return bareosfd.bRC_OK

    def get_xattr(self, xattr):
        return bareosfd.bRC_OK

    # MARK: - File I/O

    def plugin_io(self, IOP):
        """Real file I/O on the file named at IO_OPEN; errors set IOP.status = -1 and IOP.io_errno."""
        handlers = {
            bareosfd.IO_OPEN: self.plugin_io_open,
            bareosfd.IO_READ: self.plugin_io_read,
            bareosfd.IO_WRITE: self.plugin_io_write,
            bareosfd.IO_CLOSE: self.plugin_io_close,
            bareosfd.IO_SEEK: self.plugin_io_seek,
        }
        handler = handlers.get(IOP.func)
        needs_file = IOP.func in (bareosfd.IO_READ, bareosfd.IO_WRITE, bareosfd.IO_SEEK)
        if handler is None or (needs_file and self.file is None):
            IOP.status = -1
            IOP.io_errno = errno.EINVAL if handler is None else errno.EBADF
            return bareosfd.bRC_Error
        try:
            return handler(IOP)
        except OSError as error:
            bareosfd.DebugMessage(100, "plugin_io(%d) on %r: %s\n" % (IOP.func, self.FNAME, error))
            IOP.status = -1
            IOP.io_errno = error.errno or errno.EIO
            return bareosfd.bRC_Error

    @staticmethod
    def opens_for_writing(flags):
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))

    def plugin_io_open(self, IOP):
        self.FNAME = IOP.fname
        if self.opens_for_writing(IOP.flags):
            parent = os.path.dirname(self.FNAME)
            if parent:
                os.makedirs(parent, exist_ok=True)
            descriptor = os.open(self.FNAME, IOP.flags | os.O_CLOEXEC, IOP.mode or 0o600)
            self.file = os.fdopen(descriptor, "wb")
        else:
            self.file = self._open_for_reading(self.FNAME, IOP.flags)
        IOP.status = bareosfd.iostat_do_in_plugin
        return bareosfd.bRC_OK

    @staticmethod
    def _open_for_reading(path, flags):
        noatime = flags & getattr(os, "O_NOATIME", 0)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | noatime)
        except PermissionError:
            if not noatime:
                raise
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # O_NOATIME needs ownership
        return os.fdopen(descriptor, "rb")

    def plugin_io_read(self, IOP):
        buffer = bytearray(IOP.count)
        count = self.file.readinto(buffer) or 0
        del buffer[count:]
        IOP.buf = buffer
        IOP.status = count
        IOP.io_errno = 0
        return bareosfd.bRC_OK

    def plugin_io_write(self, IOP):
        data = IOP.buf or b""
        self.file.write(data)
        IOP.status = len(data)
        IOP.io_errno = 0
        return bareosfd.bRC_OK

    def plugin_io_flush(self):
        """Push buffered output to the file; called before set_file_attributes sets the times."""
        if self.file is not None and not self.file.closed and self.file.writable():
            self.file.flush()

    def plugin_io_close(self, IOP):
        if self.file is not None:
            try:
                self.file.close()
            finally:
                self.file = None
        IOP.status = 0
        return bareosfd.bRC_OK

    def plugin_io_seek(self, IOP):
        IOP.status = self.file.seek(IOP.offset, IOP.whence)
        return bareosfd.bRC_OK

    # MARK: - Restore

    def start_restore_file(self, cmd):
        return bareosfd.bRC_OK

    def end_restore_file(self):
        return bareosfd.bRC_OK

    def restore_object_data(self, ROP):
        return bareosfd.bRC_OK

    def create_file(self, restorepkt):
        """Create what needs no data and ask for the data of regular files.

        FT_REG/FT_REGE: parent directories, then CF_EXTRACT (the host opens the file through plugin_io and writes);
        FT_DIREND: the directory, CF_CREATED; FT_LNK: the symlink, CF_CREATED; anything else: CF_CORE.
        With replace = 'n' (never) an existing entry gives CF_SKIP.
        """
        path = restorepkt.ofname
        file_type = restorepkt.type & 0xFFFF
        try:
            if file_type == bareosfd.FT_DIREND:
                os.makedirs(path, exist_ok=True)
                restorepkt.create_status = bareosfd.CF_CREATED
                return bareosfd.bRC_OK
            if file_type not in (bareosfd.FT_REG, bareosfd.FT_REGE, bareosfd.FT_LNK):
                restorepkt.create_status = bareosfd.CF_CORE
                return bareosfd.bRC_OK
            if os.path.lexists(path) and restorepkt.replace == ord("n"):
                restorepkt.create_status = bareosfd.CF_SKIP
                return bareosfd.bRC_OK
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            if file_type == bareosfd.FT_LNK:
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(restorepkt.olname, path)
                restorepkt.create_status = bareosfd.CF_CREATED
            else:
                restorepkt.create_status = bareosfd.CF_EXTRACT
            return bareosfd.bRC_OK
        except OSError as error:
            bareosfd.JobMessage(bareosfd.M_ERROR, "cannot create %s: %s\n" % (path, error))
            restorepkt.create_status = bareosfd.CF_ERROR
            return bareosfd.bRC_Error

    def set_file_attributes(self, restorepkt):
        """Apply owner (when permitted), mode and times from restorepkt.statp to restorepkt.ofname.

        Called before IO_CLOSE, so buffered data is flushed first (a later write would change the mtime).
        Symlinks get owner and times of the link itself, no mode.
        """
        path = restorepkt.ofname
        statp = restorepkt.statp
        if statp is None or not os.path.lexists(path):
            return bareosfd.bRC_OK
        try:
            self.plugin_io_flush()
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
            try:
                os.chown(path, statp.st_uid, statp.st_gid, follow_symlinks=False)
            except PermissionError:
                pass  # not root: keep the restoring user as owner
            if not is_link:
                os.chmod(path, stat.S_IMODE(statp.st_mode))
            os.utime(path, (statp.st_atime, statp.st_mtime), follow_symlinks=False)
        except OSError as error:
            bareosfd.JobMessage(bareosfd.M_WARNING, "cannot set attributes of %s: %s\n" % (path, error))
            return bareosfd.bRC_Error
        return bareosfd.bRC_OK

    def set_acl(self, acl):
        return bareosfd.bRC_OK

    def set_xattr(self, xattr):
        return bareosfd.bRC_OK
