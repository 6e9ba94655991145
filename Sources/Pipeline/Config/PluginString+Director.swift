/// Splitting `Dir Plugin Options` strings the way Bareos' python-dir plugin does.
extension PluginString {
    /// Splits a Director plugin string (`python3:module_path=DIR:module_name=NAME:key=value`) as python-dir does:
    /// the plugin name must be `python3` or `python`; every item needs a `=`; `instance`, `module_path` and
    /// `module_name` (whole keys, any case) are the plugin's own and are taken out, unchanged; the other items
    /// are what `load_bareos_plugin` and `parse_plugin_definition` receive (`key=value:key=value:`). A string
    /// without `module_name` cannot load a module and is refused too.
    public static func directorDefinition(_ string: String) throws(Problem) -> PythonDefinition {
        guard isPython(string) else {
            throw Problem(
                message: "Director plugin \"\(name(string))\" is not one this host runs: Dir Plugin Options takes "
                    + "python3: (or python:) strings")
        }
        var definition = PythonDefinition(modulePath: nil, moduleName: nil, options: "")
        var items: [String] = []
        for (key, bytes) in try pythonItems(string) {
            let value = String(decoding: bytes, as: UTF8.self)
            switch key.lowercased() {
            case "module_path": definition.modulePath = value
            case "module_name": definition.moduleName = value
            case "instance": break
            default: items.append(key + "=" + value)
            }
        }
        guard let module = definition.moduleName, !module.isEmpty else {
            throw Problem(message: "plugin definition \"\(string)\" names no module_name")
        }
        if !items.isEmpty { definition.options = items.joined(separator: ":") + ":" }
        return definition
    }
}
