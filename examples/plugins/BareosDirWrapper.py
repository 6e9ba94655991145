"""Module-level python-dir entry points that forward to one plugin object, like Bareos' helper of the same name.

Written for OptionPipeline from the published description of the python-dir interface. A Director plugin module
creates its object in `load_bareos_plugin` and keeps it here:

    import BareosDirWrapper
    from BareosDirWrapper import *          # parse_plugin_definition, handle_plugin_event

    def load_bareos_plugin(plugindef):
        BareosDirWrapper.bareos_dir_plugin_object = MyPlugin(plugindef)
        return bareosdir.bRC_OK

The forwarders look the object up at every call, so the module's namespace gets them once, at import.
"""

# The plugin object of this interpreter (one per job and Dir Plugin Options string: each has its own interpreter).
bareos_dir_plugin_object = None


def _plugin():
    if bareos_dir_plugin_object is None:
        raise RuntimeError("BareosDirWrapper: no plugin object (load_bareos_plugin did not create one)")
    return bareos_dir_plugin_object


def parse_plugin_definition(plugindef):
    return _plugin().parse_plugin_definition(plugindef)


def handle_plugin_event(event):
    return _plugin().handle_plugin_event(event)
