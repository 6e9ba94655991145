// The entry points only command plugins have (start_backup_file, end_backup_file, restore_object_data): what
// the host hands a plugin named at Include level, and what it copies back (python-fd §5.1, §5.7).
#include "bareosfd_internal.h"

#include <stdlib.h>
#include <string.h>

void opfd_command_packet_clear(opfd_command_packet *packet) {
    if (packet == NULL) {
        return;
    }
    free(packet->fname);
    free(packet->link);
    free(packet->object_name);
    free(packet->object);
    packet->fname = NULL;
    packet->link = NULL;
    packet->object_name = NULL;
    packet->object = NULL;
}

/// A str field as a malloc'd UTF-8 (surrogateescape) copy: 0 (None or ""), 1 (copied), -1 (not a str, or an error).
static int copy_text_field(PyObject *field, char **copy, size_t *length) {
    *copy = NULL;
    *length = 0;
    if (field == NULL || field == Py_None) {
        return 0;
    }
    if (!PyUnicode_Check(field)) {
        return -1;
    }
    opfd_text text;
    if (opfd_text_get(field, &text) < 0) {
        PyErr_Clear();
        return -1;
    }
    if (text.size == 0) {
        opfd_text_release(&text);
        return 0;
    }
    *copy = malloc((size_t)text.size + 1);
    if (*copy == NULL) {
        opfd_text_release(&text);
        return -1;
    }
    memcpy(*copy, text.data, (size_t)text.size);
    (*copy)[text.size] = 0;
    *length = (size_t)text.size;
    opfd_text_release(&text);
    return 1;
}

/// Copies what the plugin set into `out`; NULL on success, else what was wrong (static text).
static const char *copy_back(opfd_instance *instance, opfd_SavePacket *packet, opfd_command_packet *out) {
    if (packet->fname == NULL || !PyUnicode_Check(packet->fname)) {
        return "start_backup_file: savepkt.fname must be a str";
    }
    if (copy_text_field(packet->fname, &out->fname, &out->fname_length) < 0) {
        return "start_backup_file: savepkt.fname cannot be encoded";
    }
    if (packet->link != NULL && packet->link != Py_None && !PyUnicode_Check(packet->link)) {
        return "start_backup_file: savepkt.link must be a str";
    }
    if (copy_text_field(packet->link, &out->link, &out->link_length) < 0) {
        return "start_backup_file: savepkt.link cannot be encoded";
    }
    PyObject *flags = packet->flags;
    if (flags == NULL || !PyByteArray_Check(flags) || PyByteArray_GET_SIZE(flags) != (Py_ssize_t)sizeof(out->flags)) {
        return "start_backup_file: savepkt.flags must be a bytearray of 5 bytes";
    }
    memcpy(out->flags, PyByteArray_AS_STRING(flags), sizeof(out->flags));
    out->has_stat = 0;
    if (packet->statp != NULL && Py_IS_TYPE(packet->statp, instance->types->stat_type)) {
        opfd_StatPacket *stat = (opfd_StatPacket *)packet->statp;
        out->has_stat = 1;
        out->stat.dev = stat->dev;
        out->stat.ino = stat->ino;
        out->stat.mode = stat->mode;
        out->stat.nlink = stat->nlink;
        out->stat.uid = stat->uid;
        out->stat.gid = stat->gid;
        out->stat.rdev = stat->rdev;
        out->stat.size = stat->size;
        out->stat.atime = stat->atime;
        out->stat.mtime = stat->mtime;
        out->stat.ctime = stat->ctime;
        out->stat.blksize = stat->blksize;
        out->stat.blocks = stat->blocks;
    }
    out->type = packet->type;
    out->no_read = packet->no_read;
    out->portable = packet->portable;
    out->accurate_found = packet->accurate_found;
    out->delta_seq = packet->delta_seq;
    out->save_time = packet->save_time;
    out->object_len = packet->object_len;
    out->object_index = packet->object_index;
    if (copy_text_field(packet->object_name, &out->object_name, &out->object_name_length) < 0) {
        return "start_backup_file: savepkt.object_name must be a str";
    }
    int copied = opfd_copy_buffer_field(packet->object, &out->object, &out->object_length);
    if (copied == -1) {
        return "start_backup_file: savepkt.object must be a bytearray or bytes";
    }
    if (copied == -2) {
        return "start_backup_file: out of memory";
    }
    return NULL;
}

opfd_status opfd_start_backup_file(opfd_instance *instance, opfd_command_packet *in, int *rc, opfd_error *error) {
    PyObject *function;
    opfd_status status = opfd_call_begin(instance, OPFD_EP_START_BACKUP_FILE, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    PyTypeObject *type = instance->types->save_type;
    opfd_SavePacket *packet = (opfd_SavePacket *)type->tp_alloc(type, 0);
    if (packet == NULL) {
        return opfd_call_build_failed(instance, function, error);
    }
    // Bareos hands a command plugin an empty packet: fname and link "", no statp, type 0, portable.
    packet->fname = PyUnicode_FromString("");
    packet->link = PyUnicode_FromString("");
    packet->flags = PyByteArray_FromStringAndSize((const char *)in->flags, sizeof(in->flags));
    packet->cmd = in->cmd != NULL ? opfd_cmd_object(instance, in->cmd) : Py_NewRef(Py_None);
    if (packet->fname == NULL || packet->link == NULL || packet->flags == NULL || packet->cmd == NULL) {
        Py_DECREF(packet);
        return opfd_call_build_failed(instance, function, error);
    }
    packet->statp = Py_NewRef(Py_None);
    packet->portable = 1;
    packet->save_time = in->save_time;
    status = opfd_call_invoke(instance, OPFD_EP_START_BACKUP_FILE, function, (PyObject *)packet, rc, error);
    if (status == OPFD_DONE && *rc == 0) {
        const char *problem = copy_back(instance, packet, in);
        if (problem != NULL) {
            opfd_command_packet_clear(in);
            opfd_error_set(error, problem);
            status = OPFD_BAD_PACKET;
        }
    }
    Py_DECREF(packet);
    return status;
}

opfd_status opfd_end_backup_file(opfd_instance *instance, int *rc, opfd_error *error) {
    PyObject *function;
    opfd_status status = opfd_call_begin(instance, OPFD_EP_END_BACKUP_FILE, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    return opfd_call_invoke(instance, OPFD_EP_END_BACKUP_FILE, function, NULL, rc, error);
}

opfd_status opfd_restore_object_data(opfd_instance *instance, const opfd_restore_object *in, int *rc,
                                     opfd_error *error) {
    PyObject *function;
    opfd_status status = opfd_call_begin(instance, OPFD_EP_RESTORE_OBJECT_DATA, &function, rc, error);
    if (status != OPFD_DONE) {
        return status;
    }
    PyTypeObject *type = instance->types->restore_object_type;
    opfd_RestoreObject *object = (opfd_RestoreObject *)type->tp_alloc(type, 0);
    if (object == NULL) {
        return opfd_call_build_failed(instance, function, error);
    }
    object->object_name = opfd_decode(in->object_name, in->object_name_length);
    object->object = PyByteArray_FromStringAndSize((const char *)in->object, (Py_ssize_t)in->object_length);
    object->plugin_name = opfd_decode(in->plugin_name, in->plugin_name != NULL ? strlen(in->plugin_name) : 0);
    if (object->object_name == NULL || object->object == NULL || object->plugin_name == NULL) {
        Py_DECREF(object);
        return opfd_call_build_failed(instance, function, error);
    }
    object->object_type = in->object_type;
    object->object_len = (int)in->object_length;
    object->object_full_len = (int)in->object_length;
    object->object_index = in->object_index;
    object->jobid = (unsigned int)in->jobid;
    status = opfd_call_invoke(instance, OPFD_EP_RESTORE_OBJECT_DATA, function, (PyObject *)object, rc, error);
    Py_DECREF(object);
    return status;
}
