"""checksum-log: write a sha256sum-style line for every regular file the job backs up.

Option plugin (python-fd NEW API). Options:
    log=PATH   (mandatory) file the lines are appended to

Each regular file is read once more by the plugin to compute its SHA-256; the file itself is left to the host
(bRC_Core). Names are written relative to '/' (no leading slash), as raw bytes, with the escaping of GNU
coreutils, so `cd / && sha256sum -c LOG` checks the live tree and `cd WHERE && sha256sum -c LOG` a restore.

FileSet: Options { Plugin = "python3:module_path=/path/to/examples/plugins:module_name=bareos-fd-checksum-log:log=/var/tmp/sums.txt" }
"""

import hashlib
import os

import bareosfd
from BareosFdPluginBaseclass import BareosFdPluginBaseclass
from BareosFdWrapper import *  # noqa: F401,F403 - the entry points the host looks up in this module


def checksum_line(hex_digest, path):
    """One line in `sha256sum` format for `path` (str, surrogateescape for non-UTF-8 bytes)."""
    name = os.fsencode(os.path.abspath(path)).lstrip(b"/")
    prefix = b""
    if any(special in name for special in (b"\\", b"\n", b"\r")):
        # coreutils marks escaped names with a leading backslash
        prefix = b"\\"
        name = name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return prefix + hex_digest.encode("ascii") + b"  " + name + b"\n"


@BareosPlugin
class ChecksumLog(BareosFdPluginBaseclass):
    def __init__(self, plugindef):
        super().__init__(plugindef, mandatory_options=["log"])
        self.log = None
        self.files = 0

    def open_log(self):
        if self.log is None:
            self.log = open(self.options["log"], "ab")
        return self.log

    def start_backup_job(self):
        try:
            self.open_log()
        except OSError as error:
            bareosfd.JobMessage(bareosfd.M_FATAL, "checksum-log: cannot open %s: %s\n" % (self.options["log"], error))
            return bareosfd.bRC_Error
        return bareosfd.bRC_OK

    def handle_backup_file(self, savepkt):
        # Regular files, empty ones (FT_REGE) included: sha256sum -c checks those too.
        if savepkt.type not in (bareosfd.FT_REG, bareosfd.FT_REGE):
            return bareosfd.bRC_Core
        try:
            with open(savepkt.fname, "rb") as source:
                digest = hashlib.file_digest(source, "sha256").hexdigest()
        except OSError as error:
            # The host reads the file next and reports the problem itself; just leave it out of the log.
            bareosfd.JobMessage(bareosfd.M_WARNING, "checksum-log: cannot read %s: %s\n" % (savepkt.fname, error))
            return bareosfd.bRC_Core
        self.open_log().write(checksum_line(digest, savepkt.fname))
        self.files += 1
        return bareosfd.bRC_Core

    def end_backup_job(self):
        if self.log is not None:
            self.log.close()
            self.log = None
            message = "checksum-log: %d checksums written to %s\n" % (self.files, self.options["log"])
            bareosfd.JobMessage(bareosfd.M_INFO, message)
        return bareosfd.bRC_OK
