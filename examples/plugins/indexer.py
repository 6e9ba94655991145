"""indexer: write a JSON Lines index of every entry the job offers to the plugin.

Option plugin (python-fd NEW API). Options:
    index=PATH   (mandatory) file the JSON lines are appended to

One object per entry, of any type:
    {"path": "/etc/hosts", "type": "FT_REG", "size": 220, "mtime": 1700000000, "uid": 0, "mode": "0o644"}
A name that is not valid UTF-8 is given as "path_b64" (base64 of its raw bytes) instead of "path". Every entry
goes to the host (bRC_Core). At the end of the backup the plugin appends {"summary": true, "entries": N}.

FileSet: Options { Plugin = "python3:module_path=/path/to/examples/plugins:module_name=indexer:index=/var/tmp/index.jsonl" }
"""

import base64
import json
import os
import stat

import bareosfd
from BareosFdPluginBaseclass import BareosFdPluginBaseclass
from BareosFdWrapper import *  # noqa: F401,F403 - the entry points the host looks up in this module

# FT_* number -> name, from the module's dict (its keys are bytes).
TYPE_NAMES = {number: name.decode("ascii") for name, number in bareosfd.bFileType.items()}


def entry_record(savepkt):
    record = {}
    try:
        savepkt.fname.encode("utf-8")  # str from undecodable bytes carries surrogates and fails here
        record["path"] = savepkt.fname
    except UnicodeEncodeError:
        record["path_b64"] = base64.b64encode(os.fsencode(savepkt.fname)).decode("ascii")
    file_type = savepkt.type & 0xFFFF
    record["type"] = TYPE_NAMES.get(file_type, str(file_type))
    statp = savepkt.statp
    record["size"] = statp.st_size if statp is not None else None
    record["mtime"] = statp.st_mtime if statp is not None else None
    record["uid"] = statp.st_uid if statp is not None else None
    record["mode"] = oct(stat.S_IMODE(statp.st_mode)) if statp is not None else None
    return record


@BareosPlugin
class Indexer(BareosFdPluginBaseclass):
    def __init__(self, plugindef):
        super().__init__(plugindef, mandatory_options=["index"])
        self.index = None
        self.entries = 0

    def open_index(self):
        if self.index is None:
            self.index = open(self.options["index"], "a", encoding="utf-8")
        return self.index

    def start_backup_job(self):
        try:
            self.open_index()
        except OSError as error:
            bareosfd.JobMessage(bareosfd.M_FATAL, "indexer: cannot open %s: %s\n" % (self.options["index"], error))
            return bareosfd.bRC_Error
        return bareosfd.bRC_OK

    def handle_backup_file(self, savepkt):
        line = json.dumps(entry_record(savepkt), ensure_ascii=False, separators=(",", ":"))
        self.open_index().write(line + "\n")
        self.entries += 1
        return bareosfd.bRC_Core

    def end_backup_job(self):
        if self.index is not None:
            self.index.write(json.dumps({"summary": True, "entries": self.entries}) + "\n")
            self.index.close()
            self.index = None
        return bareosfd.bRC_OK
