# Test plugin of the StagesTests suite: the whole bareosfd surface (python-fd API §3-§5) from a real job.
# It raises AssertionError (failing the job at start, with the traceback) on the first difference. Options:
#   jobid=N   the JobId the job must have; take=1   take regular files over and round-trip ACL/xattr packets.
import bareosfd
from bareosfd import *
from bareosfd import bRC_OK, bRC_Core, bRC_Skip, bRC_Seen
import os
import sys
import socket
import threading
import time

COUNTER = 0
TAG = None
STATE = {}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(exc, fn, text=None):
    try:
        fn()
    except exc as e:
        if text is not None:
            check(text in str(e), "message %r lacks %r" % (str(e), text))
        return
    raise AssertionError("no %s from %r" % (exc.__name__, fn))


def test_constants():
    check(bareosfd.bRCs[b"bRC_OK"] == 0 and bRCs[b"bRC_Cancel"] == 8, "bRCs")
    check("bRC_OK" not in bRCs, "bRCs has str key")
    check(bLevels[b"L_FULL"] == b"F" and bLevels[b"L_NONE"] == b" ", "bLevels")
    check(L_FULL == "F" and L_VIRTUAL_FULL == "f" and isinstance(L_BASE, str), "L_*")
    check(bAccurateOption[b"bAccurateOptionMtime"] == bAccurateOptionMtime == 128, "bAccurateOption")
    check(iostat_error == -1 and iostat_do_in_plugin == 0 and iostat_do_in_core == 1, "iostat")
    check(bIOPstatus[b"iostat_do_in_core"] == 1, "bIOPstatus")
    check(bVariable[b"bVarAccurateOptions"] == 23 and bVarUsedConfig == 21 and b"bVarPluginPath" not in bVariable, "bVariable")
    check(bEventType[b"bEventVssBackupComplete"] == 31 and bEventOptionPlugin == 18, "bEventType")
    check(bFileType[b"FT_PLUGIN_CONFIG_FILLED"] == 28 and FT_REG == 3, "bFileType")
    check(bCFs[b"CF_CORE"] == 5 and CF_EXTRACT == 3, "bCFs")
    check(bIOPS[b"IO_SEEK"] == 5 and IO_READ == 2, "bIOPS")
    check(bJobMessageType[b"M_VOLMGMT"] == 16 and M_INFO == 6, "bJobMessageType")
    check(len(bRCs) == 9 and len(bJobMessageType) == 16 and len(bFileType) == 28 and len(bEventType) == 31, "dict sizes")
    check(len(bVariable) == 22 and len(bAccurateOption) == 13 and len(bLevels) == 12, "dict sizes 2")


def test_types():
    names = {SavePacket: "save_pkt", StatPacket: "stat_pkt", RestorePacket: "restore_pkt", IoPacket: "io_pkt",
             AclPacket: "acl_pkt", XattrPacket: "xattr_pkt", RestoreObject: "restore_object"}
    for t, n in names.items():
        check(t.__name__ == n and type(t()).__name__ == n, "type name %s" % n)
    sp = SavePacket(fname="/a")
    check(sp.fname == "/a" and sp.link == "" and sp.flags == bytearray(5) and type(sp.flags) is bytearray, "save defaults")
    check(sp.statp is None and sp.cmd is None and sp.object is None and sp.object_name is None, "save None")
    check(sp.no_read is False and sp.type == 0 and sp.delta_seq == 0, "save ints")
    check(SavePacket().fname == "", "fname default")
    expect_error(TypeError, lambda: setattr(sp, "cmd", "x"), "readonly attribute")
    expect_error(TypeError, lambda: setattr(sp, "no_read", 1))
    expect_error(TypeError, lambda: setattr(sp, "type", 1.5))
    expect_error(TypeError, lambda: SavePacket(statp=None))
    sp.no_read = True
    sp.object = bytearray(b"xyz")
    sp.statp = StatPacket()
    sp2 = SavePacket(fname="/b", link="/c", type=FT_LNK, flags=bytearray(b"\1\0\0\0\0"), no_read=True, portable=True,
                     accurate_found=False, cmd="python3:x", save_time=5, delta_seq=2, object_name="o",
                     object=bytearray(b"x"), object_len=1, object_index=3)
    check(sp2.cmd == "python3:x" and sp2.portable is True and sp2.object_index == 3 and sp2.link == "/c", "save kwargs")
    st = StatPacket()
    check(st.st_mode == 0o100700 and st.st_size == 2 ** 64 - 1 and st.st_blksize == 4096 and st.st_blocks == 1, "stat defaults")
    check(abs(st.st_mtime - time.time()) < 5 and abs(st.st_atime - time.time()) < 5 and st.st_ctime > 0, "stat times")
    check(st.st_dev == 0 and st.st_uid == 0 and st.st_nlink == 0, "stat zero")
    check(st.mode == st.st_mode and st.size == st.st_size and st.mtime == st.st_mtime, "aliases")
    st.size = 5
    check(st.st_size == 5, "alias write")
    st.st_uid = 1000
    check(st.uid == 1000, "alias read")
    st2 = StatPacket(dev=1, ino=2, mode=0o40755, nlink=3, uid=4, gid=5, rdev=6, size=10, atime=7, mtime=8, ctime=9, blksize=512, blocks=2)
    check((st2.st_dev, st2.st_ino, st2.st_mode, st2.st_nlink, st2.st_uid, st2.st_gid, st2.st_rdev, st2.st_size, st2.st_atime, st2.st_mtime, st2.st_ctime, st2.st_blksize, st2.st_blocks) == (1, 2, 0o40755, 3, 4, 5, 6, 10, 7, 8, 9, 512, 2), "stat kwargs")
    expect_error(TypeError, lambda: setattr(st, "st_mtime", 1.5))
    expect_error(TypeError, lambda: StatPacket(st_mode=1))
    rp = RestorePacket()
    check(rp.ofname is None and rp.statp is None and rp.create_status == 0 and rp.filedes == -1, "restore defaults")
    rp = RestorePacket(stream=1, data_stream=2, type=3, file_index=4, linkFI=5, uid=6, statp=StatPacket(), attrEX="",
                       ofname="/o", olname="", where="/w", regexwhere=None, replace=ord("a"), create_status=CF_ERROR)
    check(rp.ofname == "/o" and rp.where == "/w" and rp.regexwhere is None and rp.replace == 97, "restore kwargs")
    expect_error(TypeError, lambda: setattr(rp, "ofname", "x"), "readonly attribute")
    rp.create_status = CF_EXTRACT
    iop = IoPacket()
    check(iop.filedes == -1 and iop.buf is None and iop.fname is None and iop.status == 0 and iop.win32 is False, "io defaults")
    iop = IoPacket(func=IO_READ, count=10, flags=0, mode=0, buf=bytearray(b"x"), fname="/f", status=1, io_errno=0,
                   lerror=0, whence=0, offset=12, win32=False, filedes=3)
    check(iop.fname == "/f" and iop.offset == 12 and iop.filedes == 3, "io kwargs")
    expect_error(TypeError, lambda: setattr(iop, "fname", "y"), "readonly attribute")
    expect_error(TypeError, lambda: setattr(iop, "win32", 0))
    acl = AclPacket(fname="/x", content=bytearray(b"abc"))
    check(acl.fname == "/x" and acl.content == bytearray(b"abc"), "acl")
    check(AclPacket().content is None, "acl default")
    xp = XattrPacket(fname="/x", name=bytearray(b"n"), value=bytearray(b"v"))
    check(xp.name == bytearray(b"n") and xp.value == bytearray(b"v"), "xattr")
    ro = RestoreObject(object_name="o", object=bytearray(b"d"), plugin_name="p", object_type=FT_RESTORE_FIRST,
                       object_len=1, object_full_len=1, object_index=1, object_compression=0, stream=0, jobid=3)
    check(ro.plugin_name == "p" and ro.jobid == 3, "rop")
    expect_error(TypeError, lambda: setattr(ro, "plugin_name", "q"), "readonly attribute")
    for obj in (sp, st, rp, iop, acl, xp, ro):
        check(repr(obj).startswith(type(obj).__name__) or "(" in repr(obj), "repr %r" % obj)


def test_thread():
    result = []

    def worker():
        try:
            GetValue(bVarJobId)
            result.append("no error")
        except RuntimeError as e:
            result.append(str(e))
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    check(result == ["bareosfd: plugin_ctx is unset"], "thread context %r" % result)



def test_values(options):
    check(GetValue(bVarJobId) == int(options["jobid"]), "JobId %r" % GetValue(bVarJobId))
    check(GetValue(bVarFDName) == "optionhost-fd", "FDName")
    check(GetValue(bVarLevel) == ord("F") and chr(GetValue(bVarLevel)) == L_FULL, "Level")
    check(GetValue(bVarType) == ord("B"), "Type")
    # No Client = in the Job and no CONFIG: the host name, and Bareos' default configuration glob (never None).
    check(GetValue(bVarClient) == socket.gethostname(), "Client %r" % GetValue(bVarClient))
    check(GetValue(bVarUsedConfig) == "/etc/bareos/bareos-fd.d/*/*.conf", "UsedConfig %r" % GetValue(bVarUsedConfig))
    name = GetValue(bVarJobName)
    check(name.startswith("j.") and len(name) == len("j.2026-01-01_00.00.00_01"), "JobName %r" % name)
    check(GetValue(bVarJobStatus) == ord("R"), "JobStatus")
    check(GetValue(bVarSinceTime) == 0, "Since")
    check(GetValue(bVarAccurate) == 0 and GetValue(bVarAccurateOptions) is None, "Accurate")
    check(GetValue(bVarFileSeen) is None and GetValue(bVarVssClient) is None and GetValue(bVarDistName) is None, "None vars")
    check(isinstance(GetValue(bVarWorkingDir), str), "WorkingDir")
    check(GetValue(bVarWhere) is None and GetValue(bVarRegexWhere) is None, "Where")
    check(GetValue(bVarExePath).startswith("/"), "ExePath")
    check(GetValue(bVarVersion).startswith("optionhost "), "Version")
    check(GetValue(bVarPrevJobName) is None and GetValue(bVarPrefixLinks) == 0, "PrevJobName, PrefixLinks")
    check(GetValue(bVarCheckChanges) is True, "CheckChanges default")
    check(GetValue(22) is None and GetValue(999) is None, "unknown variables")
    check(SetValue(bVarSinceTime, 1234) == 0 and GetValue(bVarSinceTime) == 1234, "SetValue since")
    check(SetValue(bVarSinceTime, 0) == 0, "SetValue since back")
    check(SetValue(bVarCheckChanges, 1) == 0 and GetValue(bVarCheckChanges) is False, "CheckChanges 1 disables")
    check(SetValue(bVarCheckChanges, True) == 0 and GetValue(bVarCheckChanges) is True, "CheckChanges True")
    check(SetValue(bVarJobId, 1) == 2, "SetValue of a read-only variable")
    expect_error(TypeError, lambda: GetValue("x"))


def test_functions():
    check(RegisterEvents([bEventJobEnd, bEventHandleBackupFile, 99]) == 0, "RegisterEvents")
    check(RegisterEvents([]) == 2 and RegisterEvents([0, 32]) == 2, "RegisterEvents out of range")
    expect_error(TypeError, lambda: RegisterEvents(5))
    check(UnRegisterEvents([bEventJobEnd]) == 0, "UnRegisterEvents")
    check(RegisterEvents((bEventEndBackupJob, bEventStartRestoreJob, bEventEndRestoreJob)) == 0, "tuple")
    check(GetInstanceCount() >= 1, "GetInstanceCount")
    # The FileSet is fixed before plugins load: these answer bRC_Error with a warning each.
    check(AddExclude("/ex") == 2 and AddInclude(path="/in") == 2 and AddOptions("MfXXH128") == 2, "fileset 1")
    check(AddRegex(".*\\.o$", ord("F")) == 2 and AddWild(item="*.c", type=ord("B")) == 2, "fileset 2")
    check(NewOptions() == 2 and NewInclude() == 2 and NewPreInclude() == 2, "fileset 3")
    sp = SavePacket(fname="/nonexistent/new", type=FT_REG)
    check(CheckChanges(sp) == 0, "CheckChanges of a Full")
    sp.statp = StatPacket(mode=0o100644)
    check(AcceptFile(sp) == 0, "AcceptFile")
    check(SetSeenBitmap(True) == 0 and ClearSeenBitmap(True) == 0, "seen bitmaps")
    DebugMessage(level=50, msg="debug kw\n")
    JobMessage(type=M_INFO, msg="surface: functions ok\n")


OPTIONS = {}
TAKEN = {}


def load_bareos_plugin(plugindef):
    for item in plugindef.split(":"):
        key, _, value = item.partition("=")
        if key:
            OPTIONS[key] = value
    check(sys.prefix == "/usr" and sys.executable == "/usr/bin/python3.11" and sys.flags.isolated == 1, "interpreter")
    if GetValue(bVarType) == ord("R"):  # loaded by a restore: the values of a restore job
        check(GetValue(bVarWhere).startswith("/") and GetValue(bVarLevel) == ord("F"), "restore values")
        return bRC_OK
    test_constants()
    test_values(OPTIONS)
    test_functions()
    test_types()
    test_thread()
    return bRC_OK


def parse_plugin_definition(plugindef):
    return bRC_OK


def handle_plugin_event(event):
    return bRC_OK


def handle_backup_file(savepkt):
    check(type(savepkt.statp).__name__ == "stat_pkt" and savepkt.portable is True, "packet")
    expect_error(TypeError, lambda: setattr(savepkt, "cmd", "x"), "readonly attribute")
    if OPTIONS.get("take") and savepkt.type == FT_REG:
        return bRC_OK
    return bRC_Core


def plugin_io(iop):
    if iop.func == IO_OPEN:
        TAKEN["file"] = open(iop.fname, "wb" if iop.flags & 1 else "rb")
    elif iop.func == IO_READ:
        iop.buf = TAKEN["file"].read(iop.count)        # bytes are accepted as well as bytearray
        iop.status = len(iop.buf)
    elif iop.func == IO_WRITE:
        TAKEN["file"].write(iop.buf)
        iop.status = iop.count
    elif iop.func == IO_CLOSE:
        TAKEN["file"].close()
    return bRC_OK


def get_acl(acl):
    check(acl.content is None, "get_acl in")
    acl.content = bytearray(b"acl of " + os.fsencode(acl.fname))
    return bRC_OK


def get_xattr(xattr):
    pending = TAKEN.setdefault("xattrs", [(b"user.a", b"1"), (b"user.b", b"2")])
    name, value = pending.pop(0)
    xattr.name = bytearray(name)
    xattr.value = bytearray(value)
    if pending:
        return bRC_More
    del TAKEN["xattrs"]
    return bRC_OK


def start_restore_file(cmd):
    return bRC_OK


def create_file(restorepkt):
    check(restorepkt.create_status == CF_ERROR and restorepkt.filedes == -1 and restorepkt.replace == ord("a"), "in")
    check(restorepkt.ofname.endswith(restorepkt.original_file_name), "ofname under where")
    os.makedirs(os.path.dirname(restorepkt.ofname), exist_ok=True)
    restorepkt.create_status = CF_EXTRACT
    return bRC_OK


def set_file_attributes(restorepkt):
    return bRC_OK


def end_restore_file():
    return bRC_OK


def set_acl(acl):
    JobMessage(M_INFO, "set_acl %s\n" % bytes(acl.content).decode())
    return bRC_OK


def set_xattr(xattr):
    JobMessage(M_INFO, "set_xattr %s=%s\n" % (bytes(xattr.name).decode(), bytes(xattr.value).decode()))
    return bRC_OK
