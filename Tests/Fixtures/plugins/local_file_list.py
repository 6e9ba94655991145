"""local_file_list: a command plugin that backs up the files named in a list, in the spirit of the
`bareos-fd-local-fileset` plugin Bareos ships (our own code, NEW API, no helper modules).

FileSet: Include { Plugin = "python3:module_path=...:module_name=local_file_list:filename=LIST" }
Options:
    filename=LIST         one absolute path per line (regular files, directories, symlinks)
    do_io_in_core=True    IO_OPEN answers iostat_do_in_core with a descriptor: the host reads and writes it
    since=True            Incremental: only files changed since GetValue(bVarSinceTime) are produced; check_file
                          answers bRC_Seen for every listed path (so unchanged files are not recorded as deleted)
Every start_backup_file / end_backup_file / check_file / restore call is reported as "lfl: ..." (M_INFO).
"""

import os
import stat

import bareosfd

options = {}
files = []
current = None
descriptor = None


def say(text):
    bareosfd.JobMessage(bareosfd.M_INFO, "lfl: %s\n" % text)


def load_bareos_plugin(plugindef):
    bareosfd.RegisterEvents([bareosfd.bEventEndBackupJob])
    return bareosfd.bRC_OK


def parse_plugin_definition(plugindef):
    global files
    for part in plugindef.split(":"):
        key, _, value = part.partition("=")
        if key:
            options[key] = value
    with open(options["filename"]) as listing:
        names = [line.strip() for line in listing if line.strip()]
    since = bareosfd.GetValue(bareosfd.bVarSinceTime) if options.get("since") == "True" else 0
    files = [name for name in names if since == 0 or int(os.lstat(name).st_mtime) >= since]
    return bareosfd.bRC_OK


def handle_plugin_event(event):
    return bareosfd.bRC_OK


def start_backup_file(savepkt):
    global current
    if not files:
        return bareosfd.bRC_Stop
    current = files.pop(0)
    info = os.lstat(current)
    statp = bareosfd.StatPacket()
    statp.st_mode = info.st_mode
    statp.st_uid = info.st_uid
    statp.st_gid = info.st_gid
    statp.st_size = info.st_size
    statp.st_atime = int(info.st_atime)
    statp.st_mtime = int(info.st_mtime)
    statp.st_ctime = int(info.st_ctime)
    savepkt.statp = statp
    savepkt.fname = current
    if stat.S_ISDIR(info.st_mode):
        savepkt.type = bareosfd.FT_DIREND
        savepkt.link = current + "/"
        savepkt.no_read = True
    elif stat.S_ISLNK(info.st_mode):
        savepkt.type = bareosfd.FT_LNK
        savepkt.link = os.readlink(current)
        savepkt.no_read = True
    else:
        savepkt.type = bareosfd.FT_REG
    say("start_backup_file(%s)" % current)
    return bareosfd.bRC_OK


def end_backup_file():
    say("end_backup_file(%s)" % current)
    return bareosfd.bRC_More if files else bareosfd.bRC_OK


def plugin_io(iop):
    global descriptor
    if iop.func == bareosfd.IO_OPEN:
        flags = os.O_RDONLY if iop.flags == 0 else iop.flags
        descriptor = os.open(iop.fname, flags, iop.mode or 0o600)
        if options.get("do_io_in_core") == "True":
            iop.filedes = descriptor
            iop.status = bareosfd.iostat_do_in_core
        else:
            iop.status = bareosfd.iostat_do_in_plugin
    elif iop.func == bareosfd.IO_READ:
        iop.buf = bytearray(os.read(descriptor, iop.count))
        iop.status = len(iop.buf)
    elif iop.func == bareosfd.IO_WRITE:
        iop.status = os.write(descriptor, iop.buf)
    elif iop.func == bareosfd.IO_CLOSE:
        os.close(descriptor)
        descriptor = None
    return bareosfd.bRC_OK


def check_file(fname):
    with open(options["filename"]) as listing:
        listed = {line.strip() for line in listing}
    answer = bareosfd.bRC_Seen if fname in listed else bareosfd.bRC_OK
    say("check_file(%s) -> %d" % (fname, answer))
    return answer


def start_restore_file(cmd):
    return bareosfd.bRC_OK


def create_file(restorepkt):
    os.makedirs(os.path.dirname(restorepkt.ofname), exist_ok=True)
    restorepkt.create_status = bareosfd.CF_EXTRACT
    say("create_file(%s)" % restorepkt.ofname)
    return bareosfd.bRC_OK


def set_file_attributes(restorepkt):
    os.chmod(restorepkt.ofname, stat.S_IMODE(restorepkt.statp.st_mode))
    os.utime(restorepkt.ofname, (restorepkt.statp.st_atime, restorepkt.statp.st_mtime))
    return bareosfd.bRC_OK


def end_restore_file():
    return bareosfd.bRC_OK
