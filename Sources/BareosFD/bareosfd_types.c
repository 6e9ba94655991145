// The seven packet types of module `bareosfd` (API reference §5), as heap types created per module object.
//
// Attribute rules follow CPython member semantics: int members range-check and reject floats, bool members accept
// only True/False, object members read None when unset, and "C string" members (cmd, fname of I/O, ACL and xattr
// packets, the restore names, plugin_name) are read-only str: assigning raises TypeError("readonly attribute").
#include "bareosfd_internal.h"

#include <stdio.h>
#include <time.h>

#define OPFD_VISIT(field) Py_VISIT(self->field);
#define OPFD_CLEAR(field) Py_CLEAR(self->field);

// Traverse/clear/dealloc for a GC type whose PyObject* fields are listed by OBJS(X).
#define OPFD_DEFINE_GC(PREFIX, STRUCT, OBJS)                                   \
    static int PREFIX##_traverse(PyObject *op, visitproc visit, void *arg) {   \
        STRUCT *self = (STRUCT *)op;                                           \
        Py_VISIT(Py_TYPE(op));                                                 \
        OBJS(OPFD_VISIT)                                                       \
        return 0;                                                              \
    }                                                                          \
    static int PREFIX##_clear(PyObject *op) {                                  \
        STRUCT *self = (STRUCT *)op;                                           \
        OBJS(OPFD_CLEAR)                                                       \
        return 0;                                                              \
    }                                                                          \
    static void PREFIX##_dealloc(PyObject *op) {                               \
        PyTypeObject *type = Py_TYPE(op);                                      \
        PyObject_GC_UnTrack(op);                                               \
        PREFIX##_clear(op);                                                    \
        type->tp_free(op);                                                     \
        Py_DECREF(type);                                                       \
    }

// MARK: - Read-only str attributes (closure = offset of the PyObject* field)

static PyObject *readonly_get(PyObject *self, void *closure) {
    PyObject *value = *(PyObject **)((char *)self + (Py_ssize_t)closure);
    return Py_NewRef(value != NULL ? value : Py_None);
}

static int readonly_set(PyObject *self, PyObject *value, void *closure) {
    (void)self;
    (void)value;
    (void)closure;
    PyErr_SetString(PyExc_TypeError, "readonly attribute");
    return -1;
}

#define READONLY_STR(NAME, STRUCT, FIELD, DOC) \
    {NAME, readonly_get, readonly_set, DOC, (void *)offsetof(STRUCT, FIELD)}

/// Stores a constructor argument for a read-only str field: str or None only.
static int set_str_field(PyObject **field, PyObject *value, const char *name) {
    if (value == NULL) {
        return 0;
    }
    if (value != Py_None && !PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be str or None, not %.100s", name, Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_XSETREF(*field, value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}

static void set_object_field(PyObject **field, PyObject *value) {
    if (value != NULL) {
        Py_XSETREF(*field, value == Py_None ? NULL : Py_NewRef(value));
    }
}

/// repr: "<type name>(a=..., b=...)" over the given attribute names.
static PyObject *generic_repr(PyObject *self, const char *const *names) {
    PyObject *parts = PyList_New(0);
    if (parts == NULL) {
        return NULL;
    }
    for (const char *const *name = names; *name != NULL; name++) {
        PyObject *value = PyObject_GetAttrString(self, *name);
        if (value == NULL) {
            Py_DECREF(parts);
            return NULL;
        }
        PyObject *part;
        if (strcmp(*name, "st_mode") == 0 && PyLong_Check(value)) {
            char octal[32];
            snprintf(octal, sizeof(octal), "0o%o", (unsigned int)(PyLong_AsUnsignedLong(value) & 07777));
            part = PyUnicode_FromFormat("%s=%s", *name, octal);
        } else {
            part = PyUnicode_FromFormat("%s=%R", *name, value);
        }
        Py_DECREF(value);
        if (part == NULL || PyList_Append(parts, part) < 0) {
            Py_XDECREF(part);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(part);
    }
    PyObject *separator = PyUnicode_FromString(", ");
    PyObject *joined = separator != NULL ? PyUnicode_Join(separator, parts) : NULL;
    Py_XDECREF(separator);
    Py_DECREF(parts);
    if (joined == NULL) {
        return NULL;
    }
    PyObject *result = PyUnicode_FromFormat("%s(%U)", _PyType_Name(Py_TYPE(self)), joined);
    Py_DECREF(joined);
    return result;
}

// MARK: - SavePacket (save_pkt)

#define SAVE_OBJS(X) X(fname) X(link) X(statp) X(flags) X(cmd) X(object_name) X(object)
OPFD_DEFINE_GC(save, opfd_SavePacket, SAVE_OBJS)

static PyMemberDef save_members[] = {
    {"fname", T_OBJECT, offsetof(opfd_SavePacket, fname), 0, "path of the file (str)"},
    {"link", T_OBJECT, offsetof(opfd_SavePacket, link), 0, "link target / first name / dir path (str)"},
    {"statp", T_OBJECT, offsetof(opfd_SavePacket, statp), 0, "StatPacket or None"},
    {"type", T_INT, offsetof(opfd_SavePacket, type), 0, "FT_* file type"},
    {"flags", T_OBJECT, offsetof(opfd_SavePacket, flags), 0, "FO_* option bits (bytearray of 5 bytes)"},
    {"no_read", T_BOOL, offsetof(opfd_SavePacket, no_read), 0, NULL},
    {"portable", T_BOOL, offsetof(opfd_SavePacket, portable), 0, NULL},
    {"accurate_found", T_BOOL, offsetof(opfd_SavePacket, accurate_found), 0, NULL},
    {"save_time", T_LONGLONG, offsetof(opfd_SavePacket, save_time), 0, NULL},
    {"delta_seq", T_UINT, offsetof(opfd_SavePacket, delta_seq), 0, NULL},
    {"object_name", T_OBJECT, offsetof(opfd_SavePacket, object_name), 0, NULL},
    {"object", T_OBJECT, offsetof(opfd_SavePacket, object), 0, NULL},
    {"object_len", T_INT, offsetof(opfd_SavePacket, object_len), 0, NULL},
    {"object_index", T_INT, offsetof(opfd_SavePacket, object_index), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef save_getset[] = {
    READONLY_STR("cmd", opfd_SavePacket, cmd, "the plugin string (read-only str)"),
    {NULL, NULL, NULL, NULL, NULL},
};

static const char *const save_repr_names[] = {
    "fname", "link", "type", "flags", "no_read", "portable", "accurate_found", "cmd", "save_time", "delta_seq",
    "object_name", "object", "object_len", "object_index", "statp", NULL,
};

static PyObject *save_repr(PyObject *self) {
    return generic_repr(self, save_repr_names);
}

/// Stores `value` (or a new reference to "" when NULL) into an object field.
static int set_object_or_empty(PyObject **field, PyObject *value) {
    PyObject *stored = value != NULL ? Py_NewRef(value) : PyUnicode_FromStringAndSize("", 0);
    if (stored == NULL) {
        return -1;
    }
    Py_XSETREF(*field, stored);
    return 0;
}

static int save_init(PyObject *op, PyObject *args, PyObject *kwds) {
    opfd_SavePacket *self = (opfd_SavePacket *)op;
    static char *kwlist[] = {"fname", "link", "type", "flags", "no_read", "portable", "accurate_found", "cmd",
                             "save_time", "delta_seq", "object_name", "object", "object_len", "object_index",
                             NULL};
    PyObject *fname = NULL, *link = NULL, *flags = NULL, *cmd = NULL, *object_name = NULL, *object = NULL;
    int type = 0, no_read = 0, portable = 0, accurate_found = 0, object_len = 0, object_index = 0;
    long long save_time = 0;
    unsigned int delta_seq = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOiOpppOLIOOii:SavePacket", kwlist, &fname, &link, &type,
                                     &flags, &no_read, &portable, &accurate_found, &cmd, &save_time, &delta_seq,
                                     &object_name, &object, &object_len, &object_index)) {
        return -1;
    }
    if (set_str_field(&self->cmd, cmd, "cmd") < 0 || set_object_or_empty(&self->fname, fname) < 0 ||
        set_object_or_empty(&self->link, link) < 0) {
        return -1;
    }
    if (flags != NULL) {
        set_object_field(&self->flags, flags);
    } else {
        PyObject *zeros = PyByteArray_FromStringAndSize("\0\0\0\0\0", 5);
        if (zeros == NULL) {
            return -1;
        }
        Py_XSETREF(self->flags, zeros);
    }
    set_object_field(&self->object_name, object_name);
    set_object_field(&self->object, object);
    self->type = type;
    self->no_read = (char)no_read;
    self->portable = (char)portable;
    self->accurate_found = (char)accurate_found;
    self->save_time = save_time;
    self->delta_seq = delta_seq;
    self->object_len = object_len;
    self->object_index = object_index;
    return 0;
}

static PyType_Slot save_slots[] = {
    {Py_tp_doc, "SavePacket: one file offered to handle_backup_file (option plugins) or start_backup_file."},
    {Py_tp_members, save_members},
    {Py_tp_getset, save_getset},
    {Py_tp_init, save_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_repr, save_repr},
    {Py_tp_traverse, save_traverse},
    {Py_tp_clear, save_clear},
    {Py_tp_dealloc, save_dealloc},
    {0, NULL},
};

static PyType_Spec save_spec = {
    .name = "bareosfd.save_pkt",
    .basicsize = sizeof(opfd_SavePacket),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = save_slots,
};

// MARK: - StatPacket (stat_pkt)

static void stat_dealloc(PyObject *op) {
    PyTypeObject *type = Py_TYPE(op);
    type->tp_free(op);
    Py_DECREF(type);
}

// The st_* names, plus the old-generation aliases without the prefix (same storage).
#define STAT_MEMBER(NAME, KIND, FIELD) \
    {"st_" NAME, KIND, offsetof(opfd_StatPacket, FIELD), 0, NULL}, {NAME, KIND, offsetof(opfd_StatPacket, FIELD), 0, NULL}

static PyMemberDef stat_members[] = {
    STAT_MEMBER("dev", T_UINT, dev),
    STAT_MEMBER("ino", T_ULONGLONG, ino),
    STAT_MEMBER("mode", T_USHORT, mode),
    STAT_MEMBER("nlink", T_USHORT, nlink),
    STAT_MEMBER("uid", T_UINT, uid),
    STAT_MEMBER("gid", T_UINT, gid),
    STAT_MEMBER("rdev", T_UINT, rdev),
    STAT_MEMBER("size", T_ULONGLONG, size),
    STAT_MEMBER("atime", T_LONG, atime),
    STAT_MEMBER("mtime", T_LONG, mtime),
    STAT_MEMBER("ctime", T_LONG, ctime),
    STAT_MEMBER("blksize", T_UINT, blksize),
    STAT_MEMBER("blocks", T_ULONGLONG, blocks),
    {NULL, 0, 0, 0, NULL},
};

static const char *const stat_repr_names[] = {
    "st_dev", "st_ino", "st_mode", "st_nlink", "st_uid", "st_gid", "st_rdev", "st_size", "st_atime", "st_mtime",
    "st_ctime", "st_blksize", "st_blocks", NULL,
};

static PyObject *stat_repr(PyObject *self) {
    return generic_repr(self, stat_repr_names);
}

static int stat_init(PyObject *op, PyObject *args, PyObject *kwds) {
    opfd_StatPacket *self = (opfd_StatPacket *)op;
    static char *kwlist[] = {"dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "atime", "mtime",
                             "ctime", "blksize", "blocks", NULL};
    long now = (long)time(NULL);
    unsigned int dev = 0, uid = 0, gid = 0, rdev = 0, blksize = 4096;
    unsigned long long ino = 0, size = (unsigned long long)-1, blocks = 1;
    unsigned short mode = 0100700, nlink = 0;
    long atime = now, mtime = now, ctime = now;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|IKHHIIIKlllIK:StatPacket", kwlist, &dev, &ino, &mode, &nlink,
                                     &uid, &gid, &rdev, &size, &atime, &mtime, &ctime, &blksize, &blocks)) {
        return -1;
    }
    self->dev = dev;
    self->ino = ino;
    self->mode = mode;
    self->nlink = nlink;
    self->uid = uid;
    self->gid = gid;
    self->rdev = rdev;
    self->size = size;
    self->atime = atime;
    self->mtime = mtime;
    self->ctime = ctime;
    self->blksize = blksize;
    self->blocks = blocks;
    return 0;
}

static PyType_Slot stat_slots[] = {
    {Py_tp_doc, "StatPacket: stat data (st_* attributes; old names without the prefix are aliases)."},
    {Py_tp_members, stat_members},
    {Py_tp_init, stat_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_repr, stat_repr},
    {Py_tp_dealloc, stat_dealloc},
    {0, NULL},
};

static PyType_Spec stat_spec = {
    .name = "bareosfd.stat_pkt",
    .basicsize = sizeof(opfd_StatPacket),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = stat_slots,
};

// MARK: - RestorePacket (restore_pkt)

#define RESTORE_OBJS(X) \
    X(statp) X(attrEX) X(ofname) X(olname) X(where) X(regexwhere) X(original_file_name) X(original_link_name)
OPFD_DEFINE_GC(restore, opfd_RestorePacket, RESTORE_OBJS)

static PyMemberDef restore_members[] = {
    {"stream", T_INT, offsetof(opfd_RestorePacket, stream), 0, NULL},
    {"data_stream", T_INT, offsetof(opfd_RestorePacket, data_stream), 0, NULL},
    {"type", T_INT, offsetof(opfd_RestorePacket, type), 0, NULL},
    {"file_index", T_INT, offsetof(opfd_RestorePacket, file_index), 0, NULL},
    {"linkFI", T_INT, offsetof(opfd_RestorePacket, linkFI), 0, NULL},
    {"uid", T_UINT, offsetof(opfd_RestorePacket, uid), 0, NULL},
    {"statp", T_OBJECT, offsetof(opfd_RestorePacket, statp), 0, NULL},
    {"replace", T_INT, offsetof(opfd_RestorePacket, replace), 0, NULL},
    {"create_status", T_INT, offsetof(opfd_RestorePacket, create_status), 0, NULL},
    {"filedes", T_LONGLONG, offsetof(opfd_RestorePacket, filedes), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef restore_getset[] = {
    READONLY_STR("attrEX", opfd_RestorePacket, attrEX, NULL),
    READONLY_STR("ofname", opfd_RestorePacket, ofname, NULL),
    READONLY_STR("olname", opfd_RestorePacket, olname, NULL),
    READONLY_STR("where", opfd_RestorePacket, where, NULL),
    READONLY_STR("regexwhere", opfd_RestorePacket, regexwhere, NULL),
    READONLY_STR("original_file_name", opfd_RestorePacket, original_file_name, NULL),
    READONLY_STR("original_link_name", opfd_RestorePacket, original_link_name, NULL),
    {NULL, NULL, NULL, NULL, NULL},
};

static const char *const restore_repr_names[] = {
    "stream", "data_stream", "type", "file_index", "linkFI", "uid", "statp", "attrEX", "ofname", "olname",
    "where", "regexwhere", "replace", "create_status", "filedes", "original_file_name", "original_link_name",
    NULL,
};

static PyObject *restore_repr(PyObject *self) {
    return generic_repr(self, restore_repr_names);
}

static int restore_init(PyObject *op, PyObject *args, PyObject *kwds) {
    opfd_RestorePacket *self = (opfd_RestorePacket *)op;
    static char *kwlist[] = {"stream", "data_stream", "type", "file_index", "linkFI", "uid", "statp", "attrEX",
                             "ofname", "olname", "where", "regexwhere", "replace", "create_status", NULL};
    int stream = 0, data_stream = 0, type = 0, file_index = 0, link_fi = 0, replace = 0, create_status = 0;
    unsigned int uid = 0;
    PyObject *statp = NULL, *attr_ex = NULL, *ofname = NULL, *olname = NULL, *where = NULL, *regexwhere = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|iiiiiIOOOOOOii:RestorePacket", kwlist, &stream, &data_stream,
                                     &type, &file_index, &link_fi, &uid, &statp, &attr_ex, &ofname, &olname, &where,
                                     &regexwhere, &replace, &create_status)) {
        return -1;
    }
    if (set_str_field(&self->attrEX, attr_ex, "attrEX") < 0 || set_str_field(&self->ofname, ofname, "ofname") < 0 ||
        set_str_field(&self->olname, olname, "olname") < 0 || set_str_field(&self->where, where, "where") < 0 ||
        set_str_field(&self->regexwhere, regexwhere, "regexwhere") < 0) {
        return -1;
    }
    set_object_field(&self->statp, statp);
    self->stream = stream;
    self->data_stream = data_stream;
    self->type = type;
    self->file_index = file_index;
    self->linkFI = link_fi;
    self->uid = uid;
    self->replace = replace;
    self->create_status = create_status;
    self->filedes = -1;
    return 0;
}

static PyType_Slot restore_slots[] = {
    {Py_tp_doc, "RestorePacket: one file to restore (create_file, set_file_attributes)."},
    {Py_tp_members, restore_members},
    {Py_tp_getset, restore_getset},
    {Py_tp_init, restore_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_repr, restore_repr},
    {Py_tp_traverse, restore_traverse},
    {Py_tp_clear, restore_clear},
    {Py_tp_dealloc, restore_dealloc},
    {0, NULL},
};

static PyType_Spec restore_spec = {
    .name = "bareosfd.restore_pkt",
    .basicsize = sizeof(opfd_RestorePacket),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = restore_slots,
};

// MARK: - IoPacket (io_pkt)

#define IO_OBJS(X) X(buf) X(fname)
OPFD_DEFINE_GC(io, opfd_IoPacket, IO_OBJS)

static PyMemberDef io_members[] = {
    {"func", T_USHORT, offsetof(opfd_IoPacket, func), 0, "IO_* function"},
    {"count", T_INT, offsetof(opfd_IoPacket, count), 0, NULL},
    {"flags", T_INT, offsetof(opfd_IoPacket, flags), 0, NULL},
    {"mode", T_INT, offsetof(opfd_IoPacket, mode), 0, NULL},
    {"buf", T_OBJECT, offsetof(opfd_IoPacket, buf), 0, NULL},
    {"status", T_LONGLONG, offsetof(opfd_IoPacket, status), 0, NULL},
    {"io_errno", T_INT, offsetof(opfd_IoPacket, io_errno), 0, NULL},
    {"lerror", T_INT, offsetof(opfd_IoPacket, lerror), 0, NULL},
    {"whence", T_INT, offsetof(opfd_IoPacket, whence), 0, NULL},
    {"offset", T_LONGLONG, offsetof(opfd_IoPacket, offset), 0, NULL},
    {"win32", T_BOOL, offsetof(opfd_IoPacket, win32), 0, NULL},
    {"filedes", T_LONGLONG, offsetof(opfd_IoPacket, filedes), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef io_getset[] = {
    READONLY_STR("fname", opfd_IoPacket, fname, NULL),
    {NULL, NULL, NULL, NULL, NULL},
};

static const char *const io_repr_names[] = {
    "func", "count", "flags", "mode", "buf", "fname", "status", "io_errno", "lerror", "whence", "offset", "win32",
    "filedes", NULL,
};

static PyObject *io_repr(PyObject *self) {
    return generic_repr(self, io_repr_names);
}

static int io_init(PyObject *op, PyObject *args, PyObject *kwds) {
    opfd_IoPacket *self = (opfd_IoPacket *)op;
    static char *kwlist[] = {"func", "count", "flags", "mode", "buf", "fname", "status", "io_errno", "lerror",
                             "whence", "offset", "win32", "filedes", NULL};
    unsigned short func = 0;
    int count = 0, flags = 0, mode = 0, io_errno = 0, lerror = 0, whence = 0, win32 = 0;
    long long status = 0, offset = 0, filedes = -1;
    PyObject *buf = NULL, *fname = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|HiiiOOLiiiLpL:IoPacket", kwlist, &func, &count, &flags, &mode,
                                     &buf, &fname, &status, &io_errno, &lerror, &whence, &offset, &win32,
                                     &filedes)) {
        return -1;
    }
    if (set_str_field(&self->fname, fname, "fname") < 0) {
        return -1;
    }
    set_object_field(&self->buf, buf);
    self->func = func;
    self->count = count;
    self->flags = flags;
    self->mode = mode;
    self->status = status;
    self->io_errno = io_errno;
    self->lerror = lerror;
    self->whence = whence;
    self->offset = offset;
    self->win32 = (char)win32;
    self->filedes = filedes;
    return 0;
}

static PyType_Slot io_slots[] = {
    {Py_tp_doc, "IoPacket: one plugin_io request."},
    {Py_tp_members, io_members},
    {Py_tp_getset, io_getset},
    {Py_tp_init, io_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_repr, io_repr},
    {Py_tp_traverse, io_traverse},
    {Py_tp_clear, io_clear},
    {Py_tp_dealloc, io_dealloc},
    {0, NULL},
};

static PyType_Spec io_spec = {
    .name = "bareosfd.io_pkt",
    .basicsize = sizeof(opfd_IoPacket),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = io_slots,
};

// MARK: - AclPacket (acl_pkt)

#define ACL_OBJS(X) X(fname) X(content)
OPFD_DEFINE_GC(acl, opfd_AclPacket, ACL_OBJS)

static PyMemberDef acl_members[] = {
    {"content", T_OBJECT, offsetof(opfd_AclPacket, content), 0, "ACL data (bytearray) or None"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef acl_getset[] = {
    READONLY_STR("fname", opfd_AclPacket, fname, NULL),
    {NULL, NULL, NULL, NULL, NULL},
};

static const char *const acl_repr_names[] = {"fname", "content", NULL};

static PyObject *acl_repr(PyObject *self) {
    return generic_repr(self, acl_repr_names);
}

static int acl_init(PyObject *op, PyObject *args, PyObject *kwds) {
    opfd_AclPacket *self = (opfd_AclPacket *)op;
    static char *kwlist[] = {"fname", "content", NULL};
    PyObject *fname = NULL, *content = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:AclPacket", kwlist, &fname, &content)) {
        return -1;
    }
    if (set_str_field(&self->fname, fname, "fname") < 0) {
        return -1;
    }
    set_object_field(&self->content, content);
    return 0;
}

static PyType_Slot acl_slots[] = {
    {Py_tp_doc, "AclPacket: ACL data of one file (get_acl, set_acl)."},
    {Py_tp_members, acl_members},
    {Py_tp_getset, acl_getset},
    {Py_tp_init, acl_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_repr, acl_repr},
    {Py_tp_traverse, acl_traverse},
    {Py_tp_clear, acl_clear},
    {Py_tp_dealloc, acl_dealloc},
    {0, NULL},
};

static PyType_Spec acl_spec = {
    .name = "bareosfd.acl_pkt",
    .basicsize = sizeof(opfd_AclPacket),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = acl_slots,
};

// MARK: - XattrPacket (xattr_pkt)

#define XATTR_OBJS(X) X(fname) X(name) X(value)
OPFD_DEFINE_GC(xattr, opfd_XattrPacket, XATTR_OBJS)

static PyMemberDef xattr_members[] = {
    {"name", T_OBJECT, offsetof(opfd_XattrPacket, name), 0, "attribute name (bytearray) or None"},
    {"value", T_OBJECT, offsetof(opfd_XattrPacket, value), 0, "attribute value (bytearray) or None"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef xattr_getset[] = {
    READONLY_STR("fname", opfd_XattrPacket, fname, NULL),
    {NULL, NULL, NULL, NULL, NULL},
};

static const char *const xattr_repr_names[] = {"fname", "name", "value", NULL};

static PyObject *xattr_repr(PyObject *self) {
    return generic_repr(self, xattr_repr_names);
}

static int xattr_init(PyObject *op, PyObject *args, PyObject *kwds) {
    opfd_XattrPacket *self = (opfd_XattrPacket *)op;
    static char *kwlist[] = {"fname", "name", "value", NULL};
    PyObject *fname = NULL, *name = NULL, *value = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:XattrPacket", kwlist, &fname, &name, &value)) {
        return -1;
    }
    if (set_str_field(&self->fname, fname, "fname") < 0) {
        return -1;
    }
    set_object_field(&self->name, name);
    set_object_field(&self->value, value);
    return 0;
}

static PyType_Slot xattr_slots[] = {
    {Py_tp_doc, "XattrPacket: one extended attribute of a file (get_xattr, set_xattr)."},
    {Py_tp_members, xattr_members},
    {Py_tp_getset, xattr_getset},
    {Py_tp_init, xattr_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_repr, xattr_repr},
    {Py_tp_traverse, xattr_traverse},
    {Py_tp_clear, xattr_clear},
    {Py_tp_dealloc, xattr_dealloc},
    {0, NULL},
};

static PyType_Spec xattr_spec = {
    .name = "bareosfd.xattr_pkt",
    .basicsize = sizeof(opfd_XattrPacket),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = xattr_slots,
};

// MARK: - RestoreObject (restore_object)

#define ROP_OBJS(X) X(object_name) X(object) X(plugin_name)
OPFD_DEFINE_GC(rop, opfd_RestoreObject, ROP_OBJS)

static PyMemberDef rop_members[] = {
    {"object_name", T_OBJECT, offsetof(opfd_RestoreObject, object_name), 0, NULL},
    {"object", T_OBJECT, offsetof(opfd_RestoreObject, object), 0, NULL},
    {"object_type", T_INT, offsetof(opfd_RestoreObject, object_type), 0, NULL},
    {"object_len", T_INT, offsetof(opfd_RestoreObject, object_len), 0, NULL},
    {"object_full_len", T_INT, offsetof(opfd_RestoreObject, object_full_len), 0, NULL},
    {"object_index", T_INT, offsetof(opfd_RestoreObject, object_index), 0, NULL},
    {"object_compression", T_INT, offsetof(opfd_RestoreObject, object_compression), 0, NULL},
    {"stream", T_INT, offsetof(opfd_RestoreObject, stream), 0, NULL},
    {"jobid", T_UINT, offsetof(opfd_RestoreObject, jobid), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef rop_getset[] = {
    READONLY_STR("plugin_name", opfd_RestoreObject, plugin_name, NULL),
    {NULL, NULL, NULL, NULL, NULL},
};

static const char *const rop_repr_names[] = {
    "object_name", "object", "plugin_name", "object_type", "object_len", "object_full_len", "object_index",
    "object_compression", "stream", "jobid", NULL,
};

static PyObject *rop_repr(PyObject *self) {
    return generic_repr(self, rop_repr_names);
}

static int rop_init(PyObject *op, PyObject *args, PyObject *kwds) {
    opfd_RestoreObject *self = (opfd_RestoreObject *)op;
    static char *kwlist[] = {"object_name", "object", "plugin_name", "object_type", "object_len",
                             "object_full_len", "object_index", "object_compression", "stream", "jobid", NULL};
    PyObject *object_name = NULL, *object = NULL, *plugin_name = NULL;
    int object_type = 0, object_len = 0, object_full_len = 0, object_index = 0, object_compression = 0, stream = 0;
    unsigned int jobid = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOOiiiiiiI:RestoreObject", kwlist, &object_name, &object,
                                     &plugin_name, &object_type, &object_len, &object_full_len, &object_index,
                                     &object_compression, &stream, &jobid)) {
        return -1;
    }
    if (set_str_field(&self->plugin_name, plugin_name, "plugin_name") < 0) {
        return -1;
    }
    set_object_field(&self->object_name, object_name);
    set_object_field(&self->object, object);
    self->object_type = object_type;
    self->object_len = object_len;
    self->object_full_len = object_full_len;
    self->object_index = object_index;
    self->object_compression = object_compression;
    self->stream = stream;
    self->jobid = jobid;
    return 0;
}

static PyType_Slot rop_slots[] = {
    {Py_tp_doc, "RestoreObject: a restore object (restore_object_data)."},
    {Py_tp_members, rop_members},
    {Py_tp_getset, rop_getset},
    {Py_tp_init, rop_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_repr, rop_repr},
    {Py_tp_traverse, rop_traverse},
    {Py_tp_clear, rop_clear},
    {Py_tp_dealloc, rop_dealloc},
    {0, NULL},
};

static PyType_Spec rop_spec = {
    .name = "bareosfd.restore_object",
    .basicsize = sizeof(opfd_RestoreObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = rop_slots,
};

// MARK: - Registration

static int add_type(PyObject *module, PyType_Spec *spec, const char *attribute, PyTypeObject **slot) {
    PyObject *type = PyType_FromModuleAndSpec(module, spec, NULL);
    if (type == NULL) {
        return -1;
    }
    *slot = (PyTypeObject *)type;  // the state keeps this reference
    return PyModule_AddObjectRef(module, attribute, type);
}

int opfd_types_add(PyObject *module, opfd_module_state *state) {
    if (add_type(module, &save_spec, "SavePacket", &state->save_type) < 0 ||
        add_type(module, &stat_spec, "StatPacket", &state->stat_type) < 0 ||
        add_type(module, &restore_spec, "RestorePacket", &state->restore_type) < 0 ||
        add_type(module, &io_spec, "IoPacket", &state->io_type) < 0 ||
        add_type(module, &acl_spec, "AclPacket", &state->acl_type) < 0 ||
        add_type(module, &xattr_spec, "XattrPacket", &state->xattr_type) < 0 ||
        add_type(module, &rop_spec, "RestoreObject", &state->restore_object_type) < 0) {
        return -1;
    }
    return 0;
}

int opfd_types_traverse(opfd_module_state *state, visitproc visit, void *arg) {
    Py_VISIT(state->save_type);
    Py_VISIT(state->stat_type);
    Py_VISIT(state->restore_type);
    Py_VISIT(state->io_type);
    Py_VISIT(state->acl_type);
    Py_VISIT(state->xattr_type);
    Py_VISIT(state->restore_object_type);
    return 0;
}

void opfd_types_clear(opfd_module_state *state) {
    Py_CLEAR(state->save_type);
    Py_CLEAR(state->stat_type);
    Py_CLEAR(state->restore_type);
    Py_CLEAR(state->io_type);
    Py_CLEAR(state->acl_type);
    Py_CLEAR(state->xattr_type);
    Py_CLEAR(state->restore_object_type);
}
