"""checksum-log: write a sha256sum-style line for every regular file the job backs up.

Option plugin (python-fd NEW API). Options:
    log=PATH   (mandatory) file the lines are added to (created with mode 0600)

Each regular file is read once more by the plugin to compute its SHA-256; the file itself is left to the host
(bRC_Core). (The native `checksum` stage does the same without the second read.) Names are written relative to
'/' (no leading slash), as raw bytes, with the escaping of GNU coreutils, so `cd / && sha256sum -c LOG` checks the
live tree and `cd WHERE && sha256sum -c LOG` a restore.

A log may be shared by many jobs: lines are added under flock(2), and at the end of the job the log is rewritten
(temporary file, fsync, rename) so that each name keeps only its newest line; `sha256sum -c` then never reports an
older version of a file as FAILED. A file the plugin cannot read is logged as `FAILED (reason)  NAME`, a line
`sha256sum -c` counts as improperly formatted (a warning; `--strict` makes it fail), never with a digest.

FileSet: Options { Plugin = "python3:module_path=/path/to/examples/plugins:module_name=bareos-fd-checksum-log:log=/var/tmp/sums.txt" }
"""

import fcntl
import hashlib
import os

import bareosfd
from BareosFdPluginBaseclass import BareosFdPluginBaseclass
from BareosFdWrapper import *  # noqa: F401,F403 - the entry points the host looks up in this module


def escaped_name(path):
    """(prefix, name) of `path` (str, surrogateescape for non-UTF-8 bytes) as coreutils writes it."""
    name = os.fsencode(os.path.abspath(path)).lstrip(b"/")
    if any(special in name for special in (b"\\", b"\n", b"\r")):
        # coreutils marks escaped names with a leading backslash
        return b"\\", name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return b"", name


def checksum_line(hex_digest, path):
    """One line in `sha256sum` format for `path`."""
    prefix, name = escaped_name(path)
    return prefix + hex_digest.encode("ascii") + b"  " + name + b"\n"


def failed_line(reason, path):
    """The line of a file that has no digest: not a checksum line, so `sha256sum -c` cannot take it for one."""
    prefix, name = escaped_name(path)
    reason = " ".join(reason.replace("(", " ").replace(")", " ").split())
    return prefix + b"FAILED (" + reason.encode("utf-8", "surrogateescape") + b")  " + name + b"\n"


def line_key(line):
    """The (escaped) name a log line is about, or None for lines about no file."""
    body = line[1:] if line.startswith(b"\\") else line
    separator = body.find(b"  ")
    if separator < 0:
        return None
    return body[separator + 2:]


def compacted(contents):
    """`contents` with only the newest (last) line of each name, other lines kept in place."""
    lines = contents.split(b"\n")
    complete = contents.endswith(b"\n")
    if complete:
        lines.pop()
    newest = {}
    for index, line in enumerate(lines):
        key = line_key(line)
        if key is not None:
            newest[key] = index
    kept = [line for index, line in enumerate(lines) if line_key(line) is None or newest[line_key(line)] == index]
    return b"\n".join(kept) + (b"\n" if complete and kept else b"")


class SharedLog:
    """A log that several jobs may write: every write and the final rewrite happen under flock(LOCK_EX) on the
    file at `path`; a writer that finds the file renamed away under it (another job compacted it) reopens it."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def lock(self):
        while True:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            locked = os.fstat(self.fd)
            if current is not None and (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino):
                return
            os.close(self.fd)
            self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def append(self, data):
        self.lock()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self):
        """Compacts the log (newest line of each name), makes it durable and closes it."""
        self.lock()
        try:
            size = os.fstat(self.fd).st_size
            contents = os.pread(self.fd, size, 0)
            smaller = compacted(contents)
            if len(smaller) == len(contents):
                os.fsync(self.fd)
                return
            info = os.fstat(self.fd)
            temporary = "%s.compact-%d" % (self.path, os.getpid())
            out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.fchmod(out, info.st_mode & 0o7777)
                view = memoryview(smaller)
                while view:
                    view = view[os.write(out, view):]
                os.fsync(out)
            finally:
                os.close(out)
            os.rename(temporary, self.path)
            directory = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        finally:
            os.close(self.fd)  # releases the lock
            self.fd = None


@BareosPlugin
class ChecksumLog(BareosFdPluginBaseclass):
    def __init__(self, plugindef):
        super().__init__(plugindef, mandatory_options=["log"])
        self.log = None
        self.pending = []
        self.files = 0

    def start_backup_job(self):
        try:
            self.log = SharedLog(self.options["log"])
        except OSError as error:
            bareosfd.JobMessage(bareosfd.M_FATAL, "checksum-log: cannot open %s: %s\n" % (self.options["log"], error))
            return bareosfd.bRC_Error
        return bareosfd.bRC_OK

    def add(self, line):
        self.pending.append(line)
        if len(self.pending) >= 512:
            self.flush()

    def flush(self):
        if self.pending and self.log is not None:
            self.log.append(b"".join(self.pending))
        self.pending = []

    def handle_backup_file(self, savepkt):
        # Regular files, empty ones (FT_REGE) included: sha256sum -c checks those too.
        if savepkt.type not in (bareosfd.FT_REG, bareosfd.FT_REGE):
            return bareosfd.bRC_Core
        try:
            with open(savepkt.fname, "rb") as source:
                digest = hashlib.file_digest(source, "sha256").hexdigest()
        except OSError as error:
            # The host reads the file next and reports the problem itself; the log says it has no digest.
            bareosfd.JobMessage(bareosfd.M_WARNING, "checksum-log: cannot read %s: %s\n" % (savepkt.fname, error))
            self.add(failed_line(error.strerror or str(error), savepkt.fname))
            return bareosfd.bRC_Core
        self.add(checksum_line(digest, savepkt.fname))
        self.files += 1
        return bareosfd.bRC_Core

    def end_backup_job(self):
        if self.log is not None:
            try:
                self.flush()
                self.log.close()
            except OSError as error:
                bareosfd.JobMessage(bareosfd.M_ERROR, "checksum-log: %s: %s\n" % (self.options["log"], error))
                return bareosfd.bRC_Error
            finally:
                self.log = None
            message = "checksum-log: %d checksums written to %s\n" % (self.files, self.options["log"])
            bareosfd.JobMessage(bareosfd.M_INFO, message)
        return bareosfd.bRC_OK
