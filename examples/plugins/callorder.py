"""callorder: a test plugin that reports every entry-point call as a job message.

Option plugin (python-fd NEW API, no helper modules). Each call is reported as an M_INFO job message
"callorder: <call>\n", e.g.
    callorder: load_bareos_plugin('answer=ok:')
    callorder: handle_plugin_event(16)
    callorder: handle_backup_file(data/a.txt, type=3)
    callorder: plugin_io(open, data/a.txt, flags=0, mode=0)
    callorder: plugin_io(read, count=262144) -> 5
    callorder: plugin_io(close)
Names are shown relative to `root` (see below). Options:
    answer=core|skip|ok|error|none|raise|string|<int>   what handle_backup_file returns (default core):
        ok takes the I/O over and plugin_io passes the bytes through unchanged (restore writes them back);
        none returns None, raise raises ValueError("callorder raise for <fname>"), string returns "oops"
    match=GLOB       give `answer` only for names (relative to root) matching GLOB, bRC_Core for the rest
    create=extract|core|created|skip|error   create_status set by create_file (default: extract for regular
                     files, core for everything else)
    root=DIR         names in messages are relative to DIR (default: the working directory at load)
It registers events 2, 3, 4, 5, 6, 16 and 19.

FileSet: Options { Plugin = "python3:module_path=/path/to/examples/plugins:module_name=callorder:answer=ok" }
"""

import fnmatch
import os
import stat

import bareosfd

options = {}
root = os.getcwd()
open_file = None  # the file plugin_io opened (None when closed)

ANSWERS = {
    "core": bareosfd.bRC_Core,
    "skip": bareosfd.bRC_Skip,
    "ok": bareosfd.bRC_OK,
    "error": bareosfd.bRC_Error,
    "none": None,
    "string": "oops",
}
CREATE_STATUS = {
    "extract": bareosfd.CF_EXTRACT,
    "core": bareosfd.CF_CORE,
    "created": bareosfd.CF_CREATED,
    "skip": bareosfd.CF_SKIP,
    "error": bareosfd.CF_ERROR,
}
IO_NAMES = {
    bareosfd.IO_OPEN: "open",
    bareosfd.IO_READ: "read",
    bareosfd.IO_WRITE: "write",
    bareosfd.IO_CLOSE: "close",
    bareosfd.IO_SEEK: "seek",
}


def record(line):
    bareosfd.JobMessage(bareosfd.M_INFO, "callorder: %s\n" % line)


def relative(path):
    return os.path.relpath(path, root) if path else path


def parse(plugindef):
    """Simple key=value:key=value parsing; the first value of a key wins."""
    global root
    for item in plugindef.split(":"):
        key, _, value = item.partition("=")
        if key.strip():
            options.setdefault(key.strip(), value.strip())
    root = options.get("root", root)


# MARK: - Loading and events


def load_bareos_plugin(plugindef):
    record("load_bareos_plugin(%r)" % plugindef)
    bareosfd.RegisterEvents([2, 3, 4, 5, 6, 16, 19])
    return bareosfd.bRC_OK


def parse_plugin_definition(plugindef):
    record("parse_plugin_definition(%r)" % plugindef)
    parse(plugindef)
    answer = options.get("answer", "core")
    if answer not in ANSWERS and answer != "raise" and not answer.lstrip("-").isdigit():
        bareosfd.JobMessage(bareosfd.M_FATAL, "callorder: unknown answer=%s\n" % answer)
        return bareosfd.bRC_Error
    if options.get("create", "extract") not in CREATE_STATUS:
        bareosfd.JobMessage(bareosfd.M_FATAL, "callorder: unknown create=%s\n" % options["create"])
        return bareosfd.bRC_Error
    return bareosfd.bRC_OK


def handle_plugin_event(event):
    record("handle_plugin_event(%d)" % event)
    return bareosfd.bRC_OK


# MARK: - Backup


def handle_backup_file(savepkt):
    name = relative(savepkt.fname)
    record("handle_backup_file(%s, type=%d)" % (name, savepkt.type))
    if "match" in options and not fnmatch.fnmatchcase(name, options["match"]):
        return bareosfd.bRC_Core
    answer = options.get("answer", "core")
    if answer == "raise":
        raise ValueError("callorder raise for %s" % savepkt.fname)
    if answer in ANSWERS:
        return ANSWERS[answer]
    return int(answer)


def start_backup_file(savepkt):
    record("start_backup_file(%s)" % relative(savepkt.fname))  # never expected for an option plugin
    return bareosfd.bRC_Stop


def end_backup_file():
    record("end_backup_file()")
    return bareosfd.bRC_OK


def check_file(fname):
    record("check_file(%s)" % relative(fname))
    return bareosfd.bRC_OK


def get_acl(acl):
    record("get_acl(%s)" % relative(acl.fname))
    return bareosfd.bRC_OK


def get_xattr(xattr):
    record("get_xattr(%s)" % relative(xattr.fname))
    return bareosfd.bRC_OK


# MARK: - Data: bytes pass through unchanged in both directions


def plugin_io(IOP):
    global open_file
    name = IO_NAMES.get(IOP.func, str(IOP.func))
    try:
        if IOP.func == bareosfd.IO_OPEN:
            record("plugin_io(open, %s, flags=%d, mode=%s)" % (relative(IOP.fname), IOP.flags, oct(IOP.mode)))
            writing = IOP.flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if writing:
                descriptor = os.open(IOP.fname, IOP.flags, IOP.mode or 0o600)
                open_file = os.fdopen(descriptor, "wb")
            else:
                open_file = open(IOP.fname, "rb")
            IOP.status = bareosfd.iostat_do_in_plugin
        elif IOP.func == bareosfd.IO_READ:
            data = open_file.read(IOP.count)
            IOP.buf = bytearray(data)
            IOP.status = len(data)
            record("plugin_io(read, count=%d) -> %d" % (IOP.count, IOP.status))
        elif IOP.func == bareosfd.IO_WRITE:
            record("plugin_io(write, count=%d)" % IOP.count)
            data = IOP.buf or b""
            open_file.write(data)
            IOP.status = len(data)
        elif IOP.func == bareosfd.IO_CLOSE:
            record("plugin_io(close)")
            if open_file is not None:
                open_file.close()
                open_file = None
            IOP.status = 0
        else:
            record("plugin_io(%s, offset=%d, whence=%d)" % (name, IOP.offset, IOP.whence))
            IOP.status = open_file.seek(IOP.offset, IOP.whence) if open_file is not None else 0
    except OSError as error:
        record("plugin_io(%s) failed: %s" % (name, error))
        IOP.status = -1
        IOP.io_errno = error.errno or 0
        return bareosfd.bRC_Error
    return bareosfd.bRC_OK


# MARK: - Restore


def start_restore_file(cmd):
    record("start_restore_file(%r)" % cmd)
    return bareosfd.bRC_OK


def create_file(restorepkt):
    record("create_file(%s, type=%d)" % (relative(restorepkt.ofname), restorepkt.type))
    is_regular = restorepkt.type in (bareosfd.FT_REG, bareosfd.FT_REGE)
    choice = options.get("create", "extract" if is_regular else "core")
    restorepkt.create_status = CREATE_STATUS[choice]
    if choice == "extract":
        os.makedirs(os.path.dirname(restorepkt.ofname) or ".", exist_ok=True)
    return bareosfd.bRC_OK


def set_file_attributes(restorepkt):
    record("set_file_attributes(%s)" % relative(restorepkt.ofname))
    statp = restorepkt.statp
    path = restorepkt.ofname
    if open_file is not None:
        open_file.flush()  # IO_CLOSE comes after this call; flush so the times set here stay
    if statp is not None and os.path.lexists(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IMODE(statp.st_mode))
        os.utime(path, (statp.st_atime, statp.st_mtime))
    return bareosfd.bRC_OK


def end_restore_file():
    record("end_restore_file()")
    return bareosfd.bRC_OK


def set_acl(acl):
    record("set_acl(%s)" % relative(acl.fname))
    return bareosfd.bRC_OK


def set_xattr(xattr):
    record("set_xattr(%s)" % relative(xattr.fname))
    return bareosfd.bRC_OK


def restore_object_data(rop):
    record("restore_object_data(%s)" % rop.object_name)
    return bareosfd.bRC_OK
