"""gzip_io: store regular files as gzip streams and inflate them again at restore.

Option plugin (python-fd NEW API) in package form (`module_name=gzip_io` imports this directory). Options:
    level=1..9   compression level (default 6)

Backup: the plugin takes every regular file with data (bRC_OK) and hands the host a standard gzip stream of its
content through plugin_io; `gunzip` reads the stored bytes. Other entries go to the host (bRC_Core).
Restore: create_file asks for the data (CF_EXTRACT), plugin_io inflates what the host writes, and
set_file_attributes restores owner, mode and times.

FileSet: Options { Plugin = "python3:module_path=/path/to/examples/plugins:module_name=gzip_io" }
"""

import errno
import zlib

import bareosfd
from BareosFdPluginBaseclass import BareosFdPluginBaseclass
from BareosFdWrapper import *  # noqa: F401,F403 - the entry points the host looks up in this module

GZIP_WBITS = 31  # 16 + 15: a gzip header and trailer around a raw deflate stream
READ_SIZE = 256 * 1024
MAX_OUTPUT = 1024 * 1024  # inflate at most this much per step, so a tiny record cannot balloon in memory


@BareosPlugin
class GzipIO(BareosFdPluginBaseclass):
    def __init__(self, plugindef):
        super().__init__(plugindef)
        self.compressor = None
        self.decompressor = None
        self.pending = bytearray()  # compressed bytes not yet handed to the host
        self.source_done = False
        self.received = False  # restore: whether any stored bytes arrived for the open file

    def check_options(self, mandatory_options=None):
        level = self.options.get("level", "6")
        if not (level.isdigit() and 1 <= int(level) <= 9):
            bareosfd.JobMessage(bareosfd.M_FATAL, "gzip_io: level must be 1..9, not '%s'\n" % level)
            return bareosfd.bRC_Error
        self.level = int(level)
        return bareosfd.bRC_OK

    def handle_backup_file(self, savepkt):
        if savepkt.type == bareosfd.FT_REG:
            return bareosfd.bRC_OK
        return bareosfd.bRC_Core

    # MARK: - Backup: compress while reading

    def plugin_io_open(self, IOP):
        result = super().plugin_io_open(IOP)  # opens self.file for reading or writing
        if self.opens_for_writing(IOP.flags):
            self.decompressor = zlib.decompressobj(GZIP_WBITS)
            self.received = False
        else:
            self.compressor = zlib.compressobj(self.level, zlib.DEFLATED, GZIP_WBITS)
            self.pending = bytearray()
            self.source_done = False
        return result

    def plugin_io_read(self, IOP):
        while len(self.pending) < IOP.count and not self.source_done:
            chunk = self.file.read(max(IOP.count, READ_SIZE))
            if chunk:
                self.pending += self.compressor.compress(chunk)
            else:
                self.pending += self.compressor.flush()
                self.source_done = True
        out = self.pending[: IOP.count]
        del self.pending[: IOP.count]
        IOP.buf = out
        IOP.status = len(out)  # 0 only once everything, trailer included, was handed out
        return bareosfd.bRC_OK

    # MARK: - Restore: inflate while writing

    def plugin_io_write(self, IOP):
        data = bytes(IOP.buf or b"")
        self.received = self.received or bool(data)
        try:
            self.inflate(data)
        except zlib.error as error:
            message = "gzip_io: %s: stored data is not valid gzip: %s\n" % (self.FNAME, error)
            bareosfd.JobMessage(bareosfd.M_ERROR, message)
            IOP.status = -1
            IOP.io_errno = errno.EIO
            return bareosfd.bRC_Error
        IOP.status = len(data)
        return bareosfd.bRC_OK

    def inflate(self, data):
        while data:
            if self.decompressor.eof:  # concatenated gzip members are one stream for gunzip too
                self.decompressor = zlib.decompressobj(GZIP_WBITS)
            self.file.write(self.decompressor.decompress(data, MAX_OUTPUT))
            if self.decompressor.eof:
                data = self.decompressor.unused_data
            else:
                data = self.decompressor.unconsumed_tail

    def plugin_io_flush(self):
        """Write what the inflater still holds; set_file_attributes calls this before setting the times."""
        if self.decompressor is not None and self.file is not None:
            self.file.write(self.decompressor.flush())
        super().plugin_io_flush()

    def plugin_io_close(self, IOP):
        truncated = False
        if self.decompressor is not None:
            self.plugin_io_flush()
            # data arrived but the gzip trailer never did: the stored stream is cut short
            truncated = self.received and not self.decompressor.eof
        self.compressor = self.decompressor = None
        self.pending = bytearray()
        super().plugin_io_close(IOP)
        if truncated:
            bareosfd.JobMessage(bareosfd.M_ERROR, "gzip_io: %s: stored gzip stream is truncated\n" % self.FNAME)
            IOP.status = -1
            IOP.io_errno = errno.EIO
            return bareosfd.bRC_Error
        return bareosfd.bRC_OK
