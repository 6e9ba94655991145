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
that keeps working, since the forwarders look the object up at every call. Old-generation plugins (Bareos <= 19,
`load_bareos_plugin(context, plugindef)`) work too: the forwarders pass the context on to the object's methods.
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


# Each forwarder passes its arguments on unchanged: (savepkt) from a NEW-API host call, (context, savepkt) when the
# host runs an old-generation plugin (its load_bareos_plugin takes a context), whose object then gets the context
# first, as the methods of the old base class expect.


def parse_plugin_definition(*args):
    return _plugin().parse_plugin_definition(*args)


def handle_plugin_event(*args):
    return _plugin().handle_plugin_event(*args)


def handle_backup_file(*args):
    return _plugin().handle_backup_file(*args)


def start_backup_file(*args):
    return _plugin().start_backup_file(*args)


def end_backup_file(*args):
    return _plugin().end_backup_file(*args)


def start_restore_file(*args):
    return _plugin().start_restore_file(*args)


def end_restore_file(*args):
    return _plugin().end_restore_file(*args)


def restore_object_data(*args):
    return _plugin().restore_object_data(*args)


def plugin_io(*args):
    return _plugin().plugin_io(*args)


def create_file(*args):
    return _plugin().create_file(*args)


def set_file_attributes(*args):
    return _plugin().set_file_attributes(*args)


def check_file(*args):
    return _plugin().check_file(*args)


def get_acl(*args):
    return _plugin().get_acl(*args)


def set_acl(*args):
    return _plugin().set_acl(*args)


def get_xattr(*args):
    return _plugin().get_xattr(*args)


def set_xattr(*args):
    return _plugin().set_xattr(*args)


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
