import ArgumentParser
import Stages

#if canImport(Glibc)
import Glibc
#endif

/// `optionhost plugin-process` (hidden): the plugin process of `Plugin Isolation = process`, started by a backup
/// for one Python plugin string and driven over the socket it finds at descriptor 3. Not for people to run.
struct PluginProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-process", abstract: "Runs one Python plugin for a backup (started by optionhost itself).",
        shouldDisplay: false)

    func run() throws {
        Glibc.exit(PluginProcessServer.run())
    }
}
