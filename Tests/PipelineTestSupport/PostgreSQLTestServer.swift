import Foundation
import Pipeline

/// A throwaway PostgreSQL server for the tests: initialized in a temporary directory with `initdb`, run by
/// `pg_ctl` as the unprivileged user `nobody` (the server refuses to run as root, and the tests run as root),
/// listening only on a unix socket in that directory (`listen_addresses = ''`), with `trust` authentication.
///
/// One server per test process, started by the first test that asks for it (``shared()``, about 2 s) and stopped
/// with its directory removed when the process exits. Each test takes a fresh database (``createDatabase()``).
/// The binaries come from `/usr/lib/postgresql/*/bin` (the newest version there), as Debian's `postgresql`
/// package installs them.
public final class PostgreSQLTestServer: Sendable {
    /// The directory of the data, the log and the socket.
    public let directory: String
    /// The directory holding `initdb`, `pg_ctl`, `psql`.
    public let binaries: String
    /// The server's superuser (created by `initdb -U`).
    public let superuser = "optionhost"

    /// The socket directory, as a `DB Address` (libpq's `host`).
    public var socketDirectory: String { directory }
    public var dataDirectory: String { directory + "/data" }

    private static let started: Result<PostgreSQLTestServer, StartError> = Result { () throws(StartError) in
        try PostgreSQLTestServer()
    }

    /// The server of this test process, started at the first call.
    public static func shared() throws -> PostgreSQLTestServer {
        try started.get()
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    private init() throws(StartError) {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let newest = versions.compactMap({ Int($0) }).max() else {
            throw StartError(description: "no PostgreSQL server in /usr/lib/postgresql/*/bin (Debian: postgresql)")
        }
        binaries = "/usr/lib/postgresql/\(newest)/bin"
        // Short: the socket path (`<directory>/.s.PGSQL.5432`) must fit in 107 bytes.
        directory = "/tmp/op-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let user = "setpriv --reuid=nobody --regid=nogroup --clear-groups"
        let script = """
            set -e
            # Foundation's Process learns that its child exited when every copy of a socket it passes down is
            # closed: the server would keep one open forever and `Shell.run` would never return.
            for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done
            mkdir -m 0700 '\(directory)'
            chown nobody:nogroup '\(directory)'
            cd '\(directory)'
            \(user) '\(binaries)/initdb' -D data -U \(superuser) -A trust -E UTF8 --locale=C --no-sync >init.log 2>&1
            \(user) '\(binaries)/pg_ctl' -D data -l server.log -w -t 60 \
                -o "-k '\(directory)' -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=60" start >ctl.log 2>&1
            chmod 0755 '\(directory)'
            """
        let (status, output) = (try? Shell.run(script)) ?? (-1, "cannot run bash")
        if status != 0 {
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            let initLog = (try? String(contentsOfFile: directory + "/init.log", encoding: .utf8)) ?? ""
            _ = try? Shell.run("rm -rf '\(directory)'")
            throw StartError(
                description: "cannot start the test PostgreSQL server (exit \(status)): \(output)\(initLog)\(log)")
        }
        atexit {
            // The only instance; `started` was set before this handler can run.
            if case .success(let server) = PostgreSQLTestServer.started { server.stop() }
        }
    }

    /// Stops the server at once and removes its directory.
    func stop() {
        _ = try? Shell.run(
            "setpriv --reuid=nobody --regid=nogroup --clear-groups '\(binaries)/pg_ctl' -D '\(dataDirectory)' "
                + "-m immediate -w stop >/dev/null 2>&1; rm -rf '\(directory)'")
    }

    /// Runs SQL as the superuser with `psql` in database `database`; returns its output (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        let quoted = sql.replacingOccurrences(of: "'", with: "'\\''")
        let (status, output) = try Shell.run(
            "'\(binaries)/psql' -X -q -A -t -v ON_ERROR_STOP=1 -h '\(directory)' -U \(superuser) -d \(database) "
                + "-c '\(quoted)' 2>&1")
        guard status == 0 else { throw StartError(description: "psql failed (exit \(status)): \(output)") }
        return output
    }

    /// A new, empty database with a unique name.
    public func createDatabase(prefix: String = "t") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    /// Connection settings for `database` on this server, as the superuser over the socket.
    public func settings(database: String) -> PostgreSQLSettings {
        PostgreSQLSettings(databaseName: database, address: socketDirectory, user: superuser)
    }
}
