"""bareos-fd-sqlite-dump: a command plugin that backs up SQLite databases as SQL dumps read from a pipe, and
restores them by piping the dump back into `sqlite3`; in the spirit of the MySQL dump plugin of the Bareos plugin
workshop (our own code, python-fd NEW API, no helper modules). No temporary file is written at backup or restore.

FileSet (Include level; the items then go through the chain of the Options block that matches their name):

    Include {
      Options { Wild = "*.sql"; Plugin = "checksum:log=/var/log/optionhost/%j.sha256" }
      Plugin = "python3:module_path=/path/to/examples/plugins:module_name=bareos-fd-sqlite-dump:db=/srv/app.db"
    }

Options:
    db=PATH[,PATH...]   the databases (required)
    sqlite3=PROGRAM     the sqlite3 program (default: sqlite3, found on PATH)
    prefix=/@sqlite     where the dumps appear in the backup: database /srv/app.db is the item /@sqlite/srv/app.db.sql

Backup: one regular item per database, its data the output of `sqlite3 DB .dump` (read through plugin_io from the
program's standard output). A dump that fails (sqlite3 exits non-zero) fails that item.
Restore: the dump of /srv/app.db, restored with `--where W`, is piped into `sqlite3 -bail W/srv/app.db` (in place,
`--where /`, into /srv/app.db). An existing database there is not touched: the item fails with a message.
"""

import os
import subprocess

import bareosfd
from bareosfd import bRC_OK, bRC_Error, bRC_More, bRC_Stop, M_ERROR, M_INFO

options = {}
pending = []       # databases still to dump in this backup loop
current = None     # the database whose item is being handled
process = None     # the sqlite3 process plugin_io reads from or writes to
restore_target = None


def load_bareos_plugin(plugindef):
    return bRC_OK


def parse_plugin_definition(plugindef):
    global pending
    for part in plugindef.split(":"):
        key, _, value = part.partition("=")
        if key.strip():
            options[key.strip()] = value.strip()
    if not options.get("db"):
        bareosfd.JobMessage(bareosfd.M_FATAL, "bareos-fd-sqlite-dump: option db= is required\n")
        return bRC_Error
    pending = [path for path in options["db"].split(",") if path]
    return bRC_OK


def prefix():
    return options.get("prefix", "/@sqlite").rstrip("/")


def program():
    return options.get("sqlite3", "sqlite3")


def item_name(database):
    return prefix() + os.path.abspath(database) + ".sql"


def start_backup_file(savepkt):
    global current
    if not pending:
        return bRC_Stop
    current = pending.pop(0)
    info = os.stat(current)
    statp = bareosfd.StatPacket()
    statp.st_mode = 0o100600
    statp.st_uid = info.st_uid
    statp.st_gid = info.st_gid
    statp.st_size = 0  # unknown until the dump has been read; the host records what plugin_io gave
    statp.st_atime = statp.st_mtime = int(info.st_mtime)
    statp.st_ctime = int(info.st_ctime)
    savepkt.statp = statp
    savepkt.fname = item_name(current)
    savepkt.type = bareosfd.FT_REG
    return bRC_OK


def end_backup_file():
    return bRC_More if pending else bRC_OK


def plugin_io(iop):
    global process
    if iop.func == bareosfd.IO_OPEN:
        try:
            if iop.flags & (os.O_WRONLY | os.O_RDWR):
                process = subprocess.Popen(
                    [program(), "-bail", restore_target], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE)
            else:
                process = subprocess.Popen(
                    [program(), current, ".dump"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as error:
            iop.status = -1
            iop.io_errno = error.errno or 5
            return bRC_Error
        iop.status = bareosfd.iostat_do_in_plugin
    elif iop.func == bareosfd.IO_READ:
        iop.buf = bytearray(os.read(process.stdout.fileno(), iop.count))
        iop.status = len(iop.buf)
    elif iop.func == bareosfd.IO_WRITE:
        try:
            process.stdin.write(iop.buf)
            iop.status = iop.count
        except BrokenPipeError:
            iop.status = -1
            iop.io_errno = 32
            return bRC_Error
    elif iop.func == bareosfd.IO_CLOSE:
        return finish(iop)
    return bRC_OK


def finish(iop):
    """IO_CLOSE: ends the sqlite3 process; its exit status decides whether the item worked."""
    global process
    stream = process.stdin if process.stdin is not None else process.stdout
    try:
        stream.close()
    except BrokenPipeError:
        pass
    errors = process.stderr.read().decode("utf-8", "replace").strip()
    status = process.wait()
    restoring = process.stdin is not None
    process = None
    if status != 0:
        bareosfd.JobMessage(M_ERROR, "bareos-fd-sqlite-dump: sqlite3 exited with %d: %s\n" % (status, errors))
        iop.status = -1
        iop.io_errno = 5
        return bRC_Error
    if restoring:
        os.chmod(restore_target, 0o600)  # sqlite3 has written the database now
    return bRC_OK


def start_restore_file(cmd):
    return bRC_OK


def create_file(restorepkt):
    global restore_target
    name = restorepkt.ofname
    where = (restorepkt.where or "/").rstrip("/")
    original = name[len(where):] if name.startswith(where + "/") else name
    if not (original.startswith(prefix() + "/") and original.endswith(".sql")):
        bareosfd.JobMessage(M_ERROR, "bareos-fd-sqlite-dump: %s is not a dump of this plugin\n" % original)
        restorepkt.create_status = bareosfd.CF_ERROR
        return bRC_OK
    restore_target = where + original[len(prefix()):-len(".sql")]
    if os.path.exists(restore_target):
        bareosfd.JobMessage(
            M_ERROR, "bareos-fd-sqlite-dump: %s exists; it is not overwritten\n" % restore_target)
        restorepkt.create_status = bareosfd.CF_ERROR
        return bRC_OK
    os.makedirs(os.path.dirname(restore_target), exist_ok=True)
    restorepkt.create_status = bareosfd.CF_EXTRACT
    return bRC_OK


def set_file_attributes(restorepkt):
    # Comes before IO_CLOSE (Bareos' order), while sqlite3 may still be reading: the mode is set in finish().
    return bRC_OK


def end_restore_file():
    bareosfd.JobMessage(M_INFO, "bareos-fd-sqlite-dump: restored %s\n" % restore_target)
    return bRC_OK
