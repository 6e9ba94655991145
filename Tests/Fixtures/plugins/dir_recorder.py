# Test Director plugin (Dir Plugin Options): appends one JSON line per call to log=PATH, with every bDirVar*
# variable the job gives at each event, written without helpers against the python-dir API. Options:
#   events=1,2,3,4   what it registers;  answer_N=raise|none|NUMBER   how handle_plugin_event(N) answers;
#   message_N=TEXT   a JobMessage(M_INFO) at event N.
import json

import bareosdir
from bareos_dir_consts import bDirEventType, brDirVariable

options = {}


def record(entry):
    with open(options["log"], "a") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def load_bareos_plugin(plugindef):
    for item in plugindef.split(":"):
        key, _, value = item.partition("=")
        if key:
            options[key] = value
    events = [int(event) for event in options.get("events", "1,2,3,4").split(",")]
    record(
        {
            "call": "load_bareos_plugin",
            "plugindef": plugindef,
            "register": bareosdir.RegisterEvents(events),
            "consts": [bDirEventType["bDirEventJobEnd"], brDirVariable["bDirVarReadBytes"]],
            "bytes_keys": bareosdir.bDirVariable[b"bDirVarJobBytes"],
        }
    )
    return bareosdir.bRC_OK


def parse_plugin_definition(plugindef):
    record({"call": "parse_plugin_definition", "plugindef": plugindef})
    return bareosdir.bRC_OK


def handle_plugin_event(event):
    entry = {"call": "handle_plugin_event", "event": event}
    for key, number in bareosdir.bDirVariable.items():
        entry[key.decode()] = bareosdir.GetValue(number)
    record(entry)
    message = options.get("message_%d" % event)
    if message:
        bareosdir.JobMessage(bareosdir.M_INFO, message + "\n")
    answer = options.get("answer_%d" % event)
    if answer == "raise":
        raise RuntimeError("dir_recorder was told to raise at event %d" % event)
    if answer == "none":
        return None
    if answer:
        return int(answer)
    return bareosdir.bRC_OK
