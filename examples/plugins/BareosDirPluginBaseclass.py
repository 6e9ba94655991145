"""A base class for python-dir (Director) plugins, like the helper Bareos installs under this name.

Written for OptionPipeline from the published description of the python-dir interface. It registers the job
events JobInit, JobStart, JobRun and JobEnd, reads the job's name, level, type, id, client, status and priority
when it is created, parses the plugin's options into `self.options`, and on each event records the time and the
job's status; at JobEnd it also reads the final counts (`self.jobErrors`, `self.jobFiles`, `self.jobBytes`,
`self.jobReadBytes`, `self.jobStatus`, ...). Subclasses override `handle_plugin_event`, call this one first, and
act on what it read.
"""

import time

import bareosdir


class BareosDirPluginBaseclass(object):
    """Keeps the job's variables up to date as the job's events arrive."""

    def __init__(self, plugindef):
        bareosdir.DebugMessage(100, "%s: created with %r\n" % (self.__class__.__name__, plugindef))
        bareosdir.RegisterEvents(
            [
                bareosdir.bDirEventJobInit,
                bareosdir.bDirEventJobStart,
                bareosdir.bDirEventJobRun,
                bareosdir.bDirEventJobEnd,
            ]
        )
        self.options = {}
        self.jobName = bareosdir.GetValue(bareosdir.bDirVarJobName)
        self.jobResource = bareosdir.GetValue(bareosdir.bDirVarJob)
        self.jobLevel = chr(bareosdir.GetValue(bareosdir.bDirVarLevel))
        self.jobType = chr(bareosdir.GetValue(bareosdir.bDirVarType))
        self.jobId = bareosdir.GetValue(bareosdir.bDirVarJobId)
        self.jobClient = bareosdir.GetValue(bareosdir.bDirVarClient)
        self.jobStatus = chr(bareosdir.GetValue(bareosdir.bDirVarJobStatus))
        self.priority = bareosdir.GetValue(bareosdir.bDirVarPriority)
        self.jobInitTime = self.jobStartTime = self.jobRunTime = self.jobEndTime = None

    def __str__(self):
        return "<%s job=%s jobid=%s client=%s>" % (self.__class__.__name__, self.jobName, self.jobId, self.jobClient)

    def parse_plugin_definition(self, plugindef):
        """`key=value:key=value:` into self.options; an item without a value is left out. Override to check the
        options (return bRC_Error to fail the job before it reads anything)."""
        for item in plugindef.split(":"):
            key, _, value = item.partition("=")
            if key and value:
                self.options[key] = value
        return bareosdir.bRC_OK

    def handle_plugin_event(self, event):
        now = time.time()
        self.jobStatus = chr(bareosdir.GetValue(bareosdir.bDirVarJobStatus))
        if event == bareosdir.bDirEventJobInit:
            self.jobInitTime = now
        elif event == bareosdir.bDirEventJobStart:
            self.jobStartTime = now
        elif event == bareosdir.bDirEventJobRun:
            self.jobRunTime = now
        elif event == bareosdir.bDirEventJobEnd:
            self.jobEndTime = now
            self.jobLevel = chr(bareosdir.GetValue(bareosdir.bDirVarLevel))
            self.jobErrors = bareosdir.GetValue(bareosdir.bDirVarJobErrors)
            self.jobFiles = bareosdir.GetValue(bareosdir.bDirVarJobFiles)
            self.jobBytes = bareosdir.GetValue(bareosdir.bDirVarJobBytes)
            self.jobReadBytes = bareosdir.GetValue(bareosdir.bDirVarReadBytes)
            self.jobNumVols = bareosdir.GetValue(bareosdir.bDirVarNumVols)
            started = self.jobRunTime or self.jobStartTime or now
            self.jobRunningTime = now - started
        return bareosdir.bRC_OK
