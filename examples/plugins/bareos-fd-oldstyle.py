"""bareos-fd-oldstyle: an option plugin written the way python-fd plugins were written around 2014.

OLD API: every entry point and every bareosfd function takes the opaque `context` first, the constants come
from `bareos_fd_consts` as dicts keyed by str, and no helper module is used. Kept to show (and test) that such
plugins run unmodified. Options:
    skip_suffix=.tmp   names ending in this are skipped (default: nothing is skipped)

Everything else is left to the host (bRC_Core). At the end of the backup a job message says how many files
were skipped.

FileSet: Options { Plugin = "python:module_path=/path/to/examples/plugins:module_name=bareos-fd-oldstyle:skip_suffix=.tmp" }
"""

from bareosfd import *
from bareos_fd_consts import *

# Module state; each job runs the plugin in its own interpreter, so this is per job.
skip_suffix = None
skipped = 0


def load_bareos_plugin(context, plugindef):
    DebugMessage(context, 100, "bareos-fd-oldstyle: load_bareos_plugin called with %s\n" % plugindef)
    RegisterEvents(
        context,
        [bEventType["bEventJobEnd"], bEventType["bEventEndBackupJob"], bEventType["bEventHandleBackupFile"]],
    )
    return parse_plugin_definition(context, plugindef)


def parse_plugin_definition(context, plugindef):
    """Read key=value items separated by ':'.

    Up to Bareos 15.2 the plugin got the whole FileSet string (`python:module_path=...:module_name=...:...`),
    so the plugin name and the module_path/module_name items are skipped here.
    """
    global skip_suffix
    for item in plugindef.split(":"):
        if "=" not in item:
            continue  # the plugin name, or an empty item
        key, value = item.split("=", 1)
        if key in ("module_path", "module_name"):
            continue
        if key == "skip_suffix":
            skip_suffix = value
        else:
            JobMessage(context, bJobMessageType["M_WARNING"], "bareos-fd-oldstyle: unknown option %s\n" % key)
    return bRCs["bRC_OK"]


def handle_plugin_event(context, event):
    if event == bEventType["bEventEndBackupJob"]:
        JobMessage(context, bJobMessageType["M_INFO"], "bareos-fd-oldstyle: skipped %d files\n" % skipped)
    elif event == bEventType["bEventJobEnd"]:
        DebugMessage(context, 100, "bareos-fd-oldstyle: job ended\n")
    return bRCs["bRC_OK"]


def handle_backup_file(context, savepkt):
    global skipped
    if skip_suffix and savepkt.fname.endswith(skip_suffix):
        skipped += 1
        DebugMessage(context, 100, "bareos-fd-oldstyle: skipping %s\n" % savepkt.fname)
        return bRCs["bRC_Skip"]
    return bRCs["bRC_Core"]
