"""noop: an option plugin that leaves every entry to the host (bRC_Core) and does nothing else.

What a python3: stage costs per file on its own (the call into the plugin's sub-interpreter, the savepkt it gets):
the row of this plugin in `optionhost backup --stats` shows it. No options.

FileSet: Options { Plugin = "python3:module_path=/path/to/examples/plugins:module_name=noop" }
"""

import bareosfd


def load_bareos_plugin(plugindef):
    bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
    return bareosfd.bRC_OK


def parse_plugin_definition(plugindef):
    return bareosfd.bRC_OK


def handle_backup_file(savepkt):
    return bareosfd.bRC_Core
