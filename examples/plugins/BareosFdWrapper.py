"""Module-level python-fd entry points that forward to one plugin object, like Bareos' helper of the same name.

Written for OptionPipeline from the published description of the python-fd interface (NEW API). The host calls
the entry points it finds in the plugin module's namespace; a plugin gets them with

    from BareosFdWrapper import *          # load_bareos_plugin, parse_plugin_definition, ..., BareosPlugin

    @BareosPlugin
    class MyPlugin(BareosFdPluginBaseclass):
        ...

`BareosPlugin` remembers the class, and `load_bareos_plugin(plugindef)` creates the one instance of it and keeps
it in `BareosFdWrapper.bareos_fd_plugin_object`; every other entry point calls the method of the same name on
that object. The decorator also puts the entry points into the class's module, so a plugin that imports only
`BareosPlugin` works too; names the module already defines are left alone.

Older plugins define `load_bareos_plugin` themselves and assign `BareosFdWrapper.bareos_fd_plugin_object`;
that keeps working, since the forwarders look the object up at every call.
"""

import sys

import bareosfd

# The plugin object of this interpreter (one per job and plugin instance: each instance has its own interpreter).
bareos_fd_plugin_object = None
# The class registered with @BareosPlugin.
plugin_class = None


def _plugin():
    if bareos_fd_plugin_object is None:
        raise RuntimeError("BareosFdWrapper: no plugin object (load_bareos_plugin did not create one)")
    return bareos_fd_plugin_object


def load_bareos_plugin(plugindef):
    """Create the instance of the @BareosPlugin class; the host then calls parse_plugin_definition."""
    global bareos_fd_plugin_object
    if plugin_class is None:
        bareosfd.JobMessage(bareosfd.M_FATAL, "BareosFdWrapper: no class was registered with @BareosPlugin\n")
        return bareosfd.bRC_Error
    bareos_fd_plugin_object = plugin_class(plugindef)
    return bareosfd.bRC_OK


def parse_plugin_definition(plugindef):
    return _plugin().parse_plugin_definition(plugindef)


def handle_plugin_event(event):
    return _plugin().handle_plugin_event(event)


def handle_backup_file(savepkt):
    return _plugin().handle_backup_file(savepkt)


def start_backup_file(savepkt):
    return _plugin().start_backup_file(savepkt)


def end_backup_file():
    return _plugin().end_backup_file()


def start_restore_file(cmd):
    return _plugin().start_restore_file(cmd)


def end_restore_file():
    return _plugin().end_restore_file()


def restore_object_data(ROP):
    return _plugin().restore_object_data(ROP)


def plugin_io(IOP):
    return _plugin().plugin_io(IOP)


def create_file(restorepkt):
    return _plugin().create_file(restorepkt)


def set_file_attributes(restorepkt):
    return _plugin().set_file_attributes(restorepkt)


def check_file(fname):
    return _plugin().check_file(fname)


def get_acl(acl):
    return _plugin().get_acl(acl)


def set_acl(acl):
    return _plugin().set_acl(acl)


def get_xattr(xattr):
    return _plugin().get_xattr(xattr)


def set_xattr(xattr):
    return _plugin().set_xattr(xattr)


ENTRY_POINTS = [
    "load_bareos_plugin",
    "parse_plugin_definition",
    "handle_plugin_event",
    "handle_backup_file",
    "start_backup_file",
    "end_backup_file",
    "start_restore_file",
    "end_restore_file",
    "restore_object_data",
    "plugin_io",
    "create_file",
    "set_file_attributes",
    "check_file",
    "get_acl",
    "set_acl",
    "get_xattr",
    "set_xattr",
]


def BareosPlugin(cls):
    """Class decorator: make `cls` the plugin class and give its module the entry points."""
    global plugin_class
    plugin_class = cls
    module = sys.modules.get(cls.__module__)
    if module is not None:
        namespace = vars(module)
        for name in ENTRY_POINTS:
            namespace.setdefault(name, globals()[name])
    return cls


__all__ = ENTRY_POINTS + ["BareosPlugin", "bareos_fd_plugin_object"]
