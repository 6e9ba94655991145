# Test Director plugin in the old (Bareos <= 19) style: a context first in every entry point and every bareosdir
# call, constants from bareos_dir_consts' str-keyed dicts. Reports JobEnd as one job message.
import bareosdir
from bareos_dir_consts import bDirEventType, bJobMessageType, brDirVariable, bRCs


def load_bareos_plugin(context, plugindef):
    bareosdir.RegisterEvents(context, [bDirEventType["bDirEventJobEnd"]])
    return bRCs["bRC_OK"]


def parse_plugin_definition(context, plugindef):
    return bRCs["bRC_OK"]


def handle_plugin_event(context, event):
    job = bareosdir.GetValue(context, brDirVariable["bDirVarJob"])
    status = chr(bareosdir.GetValue(context, brDirVariable["bDirVarJobStatus"]))
    bareosdir.JobMessage(
        context, bJobMessageType["M_INFO"], "old-style: event %d, job %s ended %s\n" % (event, job, status)
    )
    return bRCs["bRC_OK"]
