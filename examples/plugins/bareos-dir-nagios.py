"""A Director plugin that reports every job's end to Nagios or Icinga as a passive service check.

At JobEnd it writes one external command

    [1796538043] PROCESS_SERVICE_CHECK_RESULT;HOST;SERVICE;CODE;TEXT|files=N bytes=NB errors=N

to a file (appended) or to the monitor's command pipe (a FIFO such as /var/run/icinga2/cmd/icinga2.cmd, opened
without waiting: no reader means a warning, not a hung job). CODE is 0 (OK) for a job that terminated normally,
1 (WARNING) for one that ended with warnings, 2 (CRITICAL) for a failed or cancelled job.

    Job { ...  Dir Plugin Options = "python3:module_path=/path/to/examples/plugins:module_name=bareos-dir-nagios:output=/var/run/icinga2/cmd/icinga2.cmd" }

Options: `output=PATH` (required), `host=NAME` (default: the job's Client), `service=NAME` (default:
`Backup JOB`, JOB being the Job resource's name).
"""

import errno
import os
import stat
import time

import bareosdir
import BareosDirWrapper
from BareosDirWrapper import *  # noqa: F401,F403 (the entry points the host calls)
from BareosDirPluginBaseclass import BareosDirPluginBaseclass

# Bareos' JobStatus letters at the end of a job, as (Nagios code, state word, what happened).
STATES = {
    "T": (0, "OK", "terminated normally"),
    "W": (1, "WARNING", "terminated with warnings"),
    "E": (2, "CRITICAL", "terminated in error"),
    "f": (2, "CRITICAL", "failed (fatal error)"),
    "A": (2, "CRITICAL", "was canceled"),
}
LEVELS = {"F": "Full", "I": "Incremental", "D": "Differential"}


class NagiosReport(BareosDirPluginBaseclass):
    def parse_plugin_definition(self, plugindef):
        super().parse_plugin_definition(plugindef)
        if "output" not in self.options:
            bareosdir.JobMessage(bareosdir.M_FATAL, "bareos-dir-nagios: the option output=PATH is required\n")
            return bareosdir.bRC_Error
        return bareosdir.bRC_OK

    def handle_plugin_event(self, event):
        super().handle_plugin_event(event)
        if event == bareosdir.bDirEventJobEnd:
            self.report(self.check_line())
        return bareosdir.bRC_OK

    def check_line(self):
        code, word, what = STATES.get(self.jobStatus, (3, "UNKNOWN", "ended with status %r" % self.jobStatus))
        host = self.options.get("host", self.jobClient)
        service = self.options.get("service", "Backup %s" % self.jobResource)
        text = "%s: JobId %d %s (%s) %s: %d files, %d bytes, %d errors" % (
            word,
            self.jobId,
            self.jobName,
            LEVELS.get(self.jobLevel, self.jobLevel),
            what,
            self.jobFiles,
            self.jobBytes,
            self.jobErrors,
        )
        perfdata = "files=%d bytes=%dB errors=%d" % (self.jobFiles, self.jobBytes, self.jobErrors)
        # ';' separates the command's fields and '|' starts the performance data: neither may appear in text.
        text = text.replace(";", ",").replace("|", "/")
        return "[%d] PROCESS_SERVICE_CHECK_RESULT;%s;%s;%d;%s|%s\n" % (
            int(time.time()),
            host,
            service,
            code,
            text,
            perfdata,
        )

    def report(self, line):
        path = self.options["output"]
        try:
            is_pipe = stat.S_ISFIFO(os.stat(path).st_mode)
        except FileNotFoundError:
            is_pipe = False
        flags = os.O_WRONLY | (os.O_NONBLOCK if is_pipe else os.O_APPEND | os.O_CREAT)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as error:
            if is_pipe and error.errno == errno.ENXIO:
                bareosdir.JobMessage(
                    bareosdir.M_WARNING, "bareos-dir-nagios: nobody reads the command pipe %s; check not sent\n" % path
                )
                return
            raise
        try:
            # One write of less than PIPE_BUF bytes: the monitor never sees half a command.
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        bareosdir.DebugMessage(100, "bareos-dir-nagios: sent %s" % line)


def load_bareos_plugin(plugindef):
    BareosDirWrapper.bareos_dir_plugin_object = NagiosReport(plugindef)
    return bareosdir.bRC_OK
