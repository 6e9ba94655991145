import XCTest

@testable import Pipeline

/// The lexical and statement rules of `bareos-conf-fileset.md` section 1, checked on the values they produce.
final class ConfigLanguageTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// The single Include of FileSet "t" in `body` (wrapped in a FileSet).
    private func include(_ body: String) throws -> Include {
        let configuration = try Configuration.parse(text: "FileSet {\n  Name = t\n\(body)\n}\n")
        return try XCTUnwrap(configuration.fileSets["t"]?.includes.first)
    }

    private func files(_ body: String) throws -> [String] {
        try include("  Include {\n\(body)\n  }").files.map(\.text)
    }

    private func options(_ body: String) throws -> OptionsBlock {
        try XCTUnwrap(include("  Include {\n    Options {\n\(body)\n    }\n  }").options.first)
    }

    // MARK: - Section 1.10 edge cases

    func testIdentifierValuesDropInnerBlanks() throws {
        let configuration = try Configuration.parse(text: "FileSet {\n  Name = Linux All\n}")
        XCTAssertNotNil(configuration.fileSets["LinuxAll"])
        XCTAssertEqual(try files("File = abc def/x"), ["abcdef/x"])
    }

    func testQuotedDescriptionKeepsHash() throws {
        let configuration = try Configuration.parse(text: "FileSet {\n  Name = a\n  Description = \"a # b\"\n}")
        XCTAssertEqual(configuration.fileSets["a"]?.description, "a # b")
    }

    func testUnquotedValuesEndAtCommentBlankAndComma() throws {
        XCTAssertEqual(try files("File = /a#b"), ["/a"])
        XCTAssertEqual(try files("File = /a /b"), ["/a"])
        XCTAssertEqual(try files("File = \"/a\", \"/b\""), ["/a"])
    }

    func testSemicolonEndsTheStatement() {
        XCTAssertThrowsError(try files("File = /a;b")) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "\"b\" is not allowed in an Include block")
        }
    }

    func testQuotedBackslashEscapes() throws {
        XCTAssertEqual(try files("File = \"C:\\\\x\""), ["C:\\x"])
        XCTAssertEqual(try files("File = \"a\\\"b\\n\""), ["a\"bn"])
    }

    func testWildAndRegexQuoting() throws {
        let block = try options("Wild = *.c\nRegex = \\.o$\nRegex = \"\\.o$\"\nRegex = \"\\\\.(jpe?g|png)$\"")
        XCTAssertEqual(block.wild.map { String(decoding: $0, as: UTF8.self) }, ["*.c"])
        XCTAssertEqual(
            block.regex.map { String(decoding: $0, as: UTF8.self) }, ["\\.o$", ".o$", "\\.(jpe?g|png)$"])
    }

    func testSizeRestOfLineIgnored() throws {
        XCTAssertEqual(try options("Size = 10 MB").size, .approximately(10))
        XCTAssertEqual(try options("Size = \"10 MB\"").size, .approximately(10_000_000))
        XCTAssertEqual(try options("Size = 10MB").size, .approximately(10_000_000))
        XCTAssertEqual(try options("Size = \"<1m\"").size, .smallerThan(1_048_576))
    }

    func testCompressionValues() throws {
        XCTAssertEqual(try options("Compression = gzip9").compression, .gzip(level: 9))
        XCTAssertEqual(try options("Compression = GZIP").compression, .gzip(level: 6))
        XCTAssertEqual(try options("Compression = lz4hc").compression, .lz4hc)
    }

    func testCommaDoesNotMakeAList() throws {
        let block = try options("Compression = GZIP, Signature = MD5")
        XCTAssertEqual(block.compression, .gzip(level: 6))
        XCTAssertEqual(block.signatures, [])
    }

    func testSemicolonAndBraceInOneLineOptions() throws {
        let include = try include("  Include {\n    Options { Signature = MD5; Compression = LZ4 }\n    File = /x\n  }")
        XCTAssertEqual(include.options.first?.signatures, [.md5])
        XCTAssertEqual(include.options.first?.compression, .lz4)
        XCTAssertEqual(include.files.map(\.text), ["/x"])
    }

    func testRepeatedOptionsAccumulate() throws {
        let block = try options("Recurse = no\nRecurse = yes\nSignature = SHA256\nSignature = MD5\nCompression = LZ4\nCompression = GZIP2")
        XCTAssertFalse(block.recurse)
        XCTAssertEqual(block.effectiveSignature, .md5)
        XCTAssertEqual(block.compression, .gzip(level: 2))
    }

    func testOptionsDefaults() throws {
        let block = try options("")
        XCTAssertFalse(block.hardLinks)
        XCTAssertTrue(block.aclSupport)
        XCTAssertTrue(block.xattrSupport)
        XCTAssertTrue(block.recurse)
        XCTAssertTrue(block.oneFS)
        let synthesized = try include("  Include {\n    File = /x\n  }").options
        XCTAssertEqual(synthesized.count, 1)
        XCTAssertTrue(synthesized[0].synthesized)
    }

    func testSpacedAndCaseInsensitiveKeywords() throws {
        let configuration = try Configuration.parse(
            text: """
                Fileset {
                  NAME = a
                  Ignore FileSet Changes = yes
                  Include {
                    Exclude Dir Containing = .nobackup
                    Options { One FS = no; FS Type = ext4; Hard Links = Yes; ignore case = YES }
                    File = /x
                  }
                }
                """)
        let fileSet = try XCTUnwrap(configuration.fileSets["a"])
        XCTAssertTrue(fileSet.ignoreFileSetChanges)
        let block = try XCTUnwrap(fileSet.includes.first?.options.first)
        XCTAssertFalse(block.oneFS)
        XCTAssertEqual(block.fsTypes, ["ext4"])
        XCTAssertTrue(block.hardLinks)
        XCTAssertTrue(block.ignoreCase)
        XCTAssertEqual(fileSet.includes.first?.excludeDirContaining, [Array(".nobackup".utf8)])
    }

    func testDeprecatedBooleansWarn() throws {
        let configuration = try Configuration.parse(
            text: "FileSet {\n  Name = a\n  Ignore FileSet Changes = true\n  Enable VSS = \"0\"\n}", fileName: "b.conf")
        XCTAssertTrue(configuration.fileSets["a"]!.ignoreFileSetChanges)
        XCTAssertFalse(configuration.fileSets["a"]!.enableVSS)
        let messages = configuration.warnings.map(\.description)
        XCTAssertTrue(messages.contains("b.conf:3:28: warning: IgnoreFileSetChanges = true is deprecated; write yes or no"))
        XCTAssertTrue(messages.contains("b.conf:4:16: warning: EnableVSS = \"0\" is deprecated; write yes or no"))
    }

    // MARK: - Section 1.7 quoted-string joining

    func testAdjacentQuotedStringsJoin() throws {
        let include = try include(
            """
              Include {
                Plugin = "python3"
                         ":module_path=/usr/lib/bareos/plugins"
                         ":module_name=foo"
                Plugin = "ldap:uri=ldap\\\\"  "://host"
                File = "/a" "/b"
              }
            """)
        XCTAssertEqual(
            include.plugins.map(\.string),
            ["python3:module_path=/usr/lib/bareos/plugins:module_name=foo", "ldap:uri=ldap\\://host"])
        // Joining adds no separator: "/a" + "/b" (the reference text abbreviates this as `/ab`).
        XCTAssertEqual(include.files.map(\.text), ["/a/b"])
    }

    func testBlankLineStopsJoining() throws {
        XCTAssertEqual(try files("File = \"/a\"\n\n    File = \"/b\""), ["/a", "/b"])
    }

    func testCommentAfterPartStillJoinsForFile() throws {
        XCTAssertEqual(try files("File = \"/a\" # first part\n         \"/b\""), ["/a/b"])
    }

    func testNewlineInsideQuotesIsKept() throws {
        let configuration = try Configuration.parse(text: "FileSet {\n  Name = a\n  Description = \"x\ny\\\nz\"\n}")
        XCTAssertEqual(configuration.fileSets["a"]?.description, "x\ny\nz")
    }

    func testUTF8ByteOrderMarkAndCRLF() throws {
        let path = try write("bom.conf", "\u{FEFF}FileSet {\r\n  Name = a\r\n  Include {\r\n    File = /x\r\n  }\r\n}\r\n")
        let configuration = try Configuration.load(path: path)
        XCTAssertEqual(configuration.fileSets["a"]?.includes.first?.files.map(\.text), ["/x"])
    }

    func testValueOnTheNextLine() throws {
        XCTAssertEqual(try files("File =\n      /next"), ["/next"])
        XCTAssertThrowsError(try Configuration.parse(text: "FileSet {\n  Name =\n  a\n}"))
    }

    // MARK: - Section 1.8 includes

    func testIncludeInsideAResourceAndBoundary() throws {
        let listFile = try write("files.inc", "File = /from/include\n")
        let closing = try write("close.inc", "File = /closing")
        let main = try write(
            "main.conf",
            "FileSet {\n  Name = a\n  Include {\n    @\(listFile)\n    @\(closing)}\n}\n")
        let configuration = try Configuration.load(path: main)
        XCTAssertEqual(
            configuration.fileSets["a"]?.includes.first?.files.map(\.text), ["/from/include", "/closing"])
        XCTAssertEqual(configuration.files, [main, listFile, closing])
    }

    func testQuotedIncludeNameWithBlank() throws {
        let spaced = try write("with space.conf", "FileSet { Name = spaced }\n")
        let main = try write("main.conf", "@\"\(spaced)\"\n")
        XCTAssertNotNil(try Configuration.load(path: main).fileSets["spaced"])
    }

    func testGlobIncludeReadsLastMatchFirstAndIgnoresEmptyPattern() throws {
        _ = try write("d/a.conf", "FileSet { Name = a }\n")
        _ = try write("d/b.conf", "FileSet { Name = b }\n")
        let main = try write("main.conf", "@\(directory.path)/d/*.conf\n@\(directory.path)/none/*.conf\n")
        let configuration = try Configuration.load(path: main)
        XCTAssertEqual(configuration.resources.map(\.name), ["b", "a"])
    }

    func testRelativeIncludeResolvesNextToTheIncludingFile() throws {
        _ = try write("sub/part.conf", "FileSet { Name = part }\n")
        let main = try write("main.conf", "@sub/part.conf\n")
        XCTAssertNotNil(try Configuration.load(path: main).fileSets["part"])
    }

    func testIncludeCycleIsAnError() throws {
        let a = try write("a.conf", "@\(directory.path)/b.conf\n")
        let b = try write("b.conf", "@\(directory.path)/a.conf\n")
        XCTAssertThrowsError(try Configuration.load(path: a)) { error in
            XCTAssertEqual(
                (error as? ConfigError)?.headline, "\(b):1:1: include cycle: \(a) -> \(b) -> \(directory.path)/a.conf")
        }
    }

    func testCommandInclude() throws {
        let configuration = try Configuration.parse(text: "@|\"echo 'FileSet { Name = fromcmd }'\"\n")
        XCTAssertNotNil(configuration.fileSets["fromcmd"])
        XCTAssertThrowsError(try Configuration.parse(text: "@|\"exit 3\"\n", fileName: "c.conf")) { error in
            XCTAssertEqual((error as? ConfigError)?.headline, "c.conf:1:1: @|exit 3: command exited with status 3")
        }
    }

    // MARK: - Directory input

    func testDirectoryTreeInput() throws {
        _ = try write("bareos-dir.d/fileset/x.conf", "FileSet { Name = x; Include { File = /x } }\n")
        _ = try write(
            "bareos-dir.d/job/j.conf", "Job {\n  Name = j\n  Type = Backup\n  FileSet = x\n  Level = Full\n}\n")
        for path in [directory.path, directory.path + "/bareos-dir.d"] {
            let configuration = try Configuration.load(path: path)
            XCTAssertEqual(configuration.job(named: "j")?.level, .full)
        }
        let main = try write("bareos-dir.conf", "FileSet { Name = only }\n")
        XCTAssertEqual(try Configuration.load(path: directory.path).fileSets.keys.sorted(), ["only"])
        try FileManager.default.removeItem(atPath: main)
    }

    /// A directory that is neither form is an error, even when it holds `*/*.conf` files (`check /tmp` read
    /// whatever `*/*.conf` it found there); the bareos-dir.d tree itself is read by its name.
    func testDirectoryWithNeitherFormIsAnError() throws {
        _ = try write("conf.d/fileset/x.conf", "FileSet { Name = x }\n")
        let path = directory.path + "/conf.d"
        XCTAssertThrowsError(try Configuration.load(path: path)) { error in
            XCTAssertEqual(
                (error as? ConfigError)?.headline,
                "no configuration found in \(path): expected bareos-dir.conf or bareos-dir.d/*/*.conf in it, "
                    + "or a bareos-dir.d directory itself")
        }
        try FileManager.default.moveItem(atPath: path, toPath: directory.path + "/bareos-dir.d")
        XCTAssertEqual(try Configuration.load(path: directory.path + "/bareos-dir.d").fileSets.keys.sorted(), ["x"])
        XCTAssertEqual(try Configuration.load(path: directory.path + "/bareos-dir.d/").fileSets.keys.sorted(), ["x"])
    }

    // MARK: - Jobs and our resources

    func testJobDefsInheritanceAndOurResources() throws {
        let configuration = try Configuration.parse(
            text: """
                Catalog { Name = cat; DB Driver = sqlite3; DB Name = "/var/lib/op/catalog.db" }
                Archive { Name = disk; Directory = "/srv/volumes"; Maximum Volume Bytes = 4g; Volume Mode = 0640 }
                Pipeline { Name = audit; Stage = "checksum:log=/tmp/sums"; Stage = "owner:allow=alice" }
                JobDefs { Name = base; Type = Backup; Level = Differential; Catalog = cat; Archive = disk; Accurate = yes }
                JobDefs { Name = mid; JobDefs = base; Stage Error Policy = fail }
                FileSet {
                  Name = fs
                  Include { Options { Plugin = "pipeline:audit"; } Options { Plugin = "python3:module_name=x" } File = /x }
                }
                Job { Name = nightly; JobDefs = mid; FileSet = fs; Level = Full }
                """)
        let job = try XCTUnwrap(configuration.job(named: "nightly"))
        XCTAssertEqual(job.level, .full)
        XCTAssertEqual(job.type, .backup)
        XCTAssertEqual(job.catalog, "cat")
        XCTAssertEqual(job.archive, "disk")
        XCTAssertTrue(job.accurate)
        XCTAssertEqual(job.stageErrorPolicy, .fail)
        XCTAssertEqual(configuration.catalogs["cat"]?.databaseName, "/var/lib/op/catalog.db")
        XCTAssertTrue(configuration.catalogs["cat"]?.isSupported ?? false)
        XCTAssertEqual(configuration.archives["disk"]?.maximumVolumeBytes, 4 * 1024 * 1024 * 1024)
        XCTAssertEqual(configuration.archives["disk"]?.volumeMode, 0o640)
        let fileSet = try XCTUnwrap(configuration.fileSets["fs"])
        XCTAssertEqual(
            configuration.chains(for: fileSet),
            [[["checksum:log=/tmp/sums", "owner:allow=alice"], ["python3:module_name=x"]]])
    }

    func testPostgreSQLCatalogDirectivesAreReadAndThePasswordNeverShown() throws {
        let configuration = try Configuration.parse(
            text: """
                Catalog {
                  Name = shared; DB Driver = postgresql; DB Name = optionhost; DB Address = /run/postgresql
                  DB Port = 5433; DB User = backup; DB Password = "s3cret pw"
                }
                """, fileName: "pg.conf")
        let catalog = try XCTUnwrap(configuration.catalogs["shared"])
        XCTAssertTrue(catalog.isPostgreSQL)
        XCTAssertFalse(catalog.isSupported)
        XCTAssertEqual(
            catalog.postgreSQL,
            PostgreSQLSettings(
                databaseName: "optionhost", address: "/run/postgresql", port: 5433, user: "backup", password: "s3cret pw"))
        XCTAssertEqual(configuration.warnings.map(\.description), [], "every command works on PostgreSQL")
        XCTAssertFalse("\(configuration.warnings)".contains("s3cret"))

        XCTAssertThrowsError(
            try Configuration.parse(
                text: "Catalog { Name = c; DB Driver = postgresql; DB Name = x; DB Port = 99999 }", fileName: "pg.conf")
        ) { error in
            XCTAssertEqual((error as? ConfigError)?.headline, "pg.conf:1:68: invalid DB Port \"99999\": expected a TCP port number (1-65535)")
        }
        XCTAssertThrowsError(
            try Configuration.parse(text: "Catalog { Name = c; DB Driver = postgresql }", fileName: "pg.conf")
        ) { error in
            XCTAssertEqual(
                (error as? ConfigError)?.headline, "pg.conf:1:1: Catalog \"c\" (DB Driver = postgresql) has no DB Name: name the database")
        }
    }

    func testIncludeLevelCommandPluginIsKeptWithAWarning() throws {
        let configuration = try Configuration.parse(
            text: "FileSet {\n  Name = a\n  Include {\n    Plugin = \"bpipe:file=/x:reader=cat:writer=cat\"\n  }\n}",
            fileName: "p.conf")
        XCTAssertEqual(configuration.fileSets["a"]?.includes.first?.plugins.first?.string, "bpipe:file=/x:reader=cat:writer=cat")
        XCTAssertTrue(
            configuration.warnings.contains { $0.location?.description == "p.conf:4:14" && $0.message.contains("bpipe") })
    }
}
