# The no-op Bareos python-fd option plugin of the benchmarks: handle_backup_file answers bRC_Core for every entry,
# so a backup pays Python's start-up and one hook call per file, and nothing else.
import bareosfd


def load_bareos_plugin(plugindef):
    bareosfd.RegisterEvents([bareosfd.bEventHandleBackupFile])
    return bareosfd.bRC_OK


def parse_plugin_definition(plugindef):
    return bareosfd.bRC_OK


def handle_backup_file(savepkt):
    return bareosfd.bRC_Core
