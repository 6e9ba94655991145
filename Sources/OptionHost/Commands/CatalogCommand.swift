import ArgumentParser
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

extension OptionHost {
    /// `optionhost catalog copy --from FILE.db CONFIG`: move a SQLite catalog into the configured (PostgreSQL) one.
    struct CatalogCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "catalog", abstract: "Work on whole catalogs.", subcommands: [Copy.self])

        struct Copy: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Copy a SQLite catalog into the configuration's catalog (e.g. a PostgreSQL one).",
                discussion: """
                    Copies every row (jobs, FileSets, volumes, files, messages, job data, the search index) with its \
                    ids into the Catalog the configuration names (the Job's with --job, else the only one), which \
                    must have no jobs yet; then compares both sides: rows per table and a SHA-256 over every files \
                    row. Exit codes: 0 the copy is whole, 2 usage error, 3 the copy failed or differs.
                    """)

            @Option(help: "The SQLite catalog file to copy.")
            var from: String

            @Argument(help: "A config file or directory naming the target Catalog.")
            var config: String

            @Option(help: "The Job whose Catalog is the target (when the configuration has several).")
            var job: String?

            func run() throws {
                let configuration: Configuration
                do {
                    configuration = try Configuration.load(path: config)
                } catch {
                    throw CommandSupport.report(.usage("\(error)"), json: false)
                }
                do {
                    guard access(from, F_OK) == 0 else { throw CommandFailure.usage("catalog \(from) does not exist") }
                    let location = try CatalogOptions.location(
                        flag: nil, configuration: configuration, job: job.flatMap { configuration.job(named: $0) })
                    let source = try SQLiteCatalog.open(path: from, create: false)
                    defer { try? source.close() }
                    let target: DatabaseCatalog
                    switch location {
                    case .file(let path): target = try SQLiteCatalog.open(path: path, create: true)
                    case .postgreSQL(let settings):
                        target = try DatabaseCatalog.open(postgreSQL: settings, create: true)
                    }
                    defer { try? target.close() }
                    let (copied, found) = try CatalogCopy.copy(from: source, to: target)
                    let out = ByteWriter.standardOutput
                    out.line("Copied \(from) into \(location.name):")
                    out.line("  " + found.rows.map { "\($0.table) \($0.count)" }.joined(separator: ", ") + " rows")
                    guard copied == found else {
                        out.flush()
                        let expected = copied.rows.map { "\($0.table) \($0.count)" }.joined(separator: ", ")
                        throw CommandFailure.failed(
                            "the copy differs from \(from) (\(expected) rows, files SHA-256 "
                                + "\(Hex.encode(copied.filesDigest)) there, \(Hex.encode(found.filesDigest)) here)")
                    }
                    out.line("  files rows SHA-256 \(Hex.encode(found.filesDigest)) on both sides")
                    out.flush()
                } catch let failure as CommandFailure {
                    throw CommandSupport.report(failure, json: false)
                } catch let error as CatalogError {
                    throw CommandSupport.report(.failed("\(error)"), json: false)
                }
            }
        }
    }
}
