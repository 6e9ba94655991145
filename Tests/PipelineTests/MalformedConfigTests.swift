import XCTest

@testable import Pipeline

/// Each malformed input must fail with the exact `file:line:col: message` a user sees.
final class MalformedConfigTests: XCTestCase {
    private func assertError(
        _ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try Configuration.parse(text: text, fileName: "m.conf")
            XCTFail("expected an error: \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.headline, expected, file: file, line: line)
        }
    }

    func testIncludeWithEquals() {
        assertError(
            "FileSet { Name = \"a\"\n  Include = { File = /x }\n}",
            "m.conf:2:11: Include takes a block: write 'Include {' without '='")
    }

    func testIncludeAndExcludeOnOneLineSwallowsTheExclude() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include { File = /a } Exclude { File = /b }\n}",
            "m.conf:4:1: expected a resource type such as FileSet or Job, got '}'")
    }

    func testOptionsBooleanTrue() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { Recurse = True }\n    File = /x\n  }\n}",
            "m.conf:4:25: invalid value \"True\" for Recurse: expected yes or no")
    }

    func testSignatureWithBlank() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { Signature = SHA 1 }\n  }\n}",
            "m.conf:4:27: invalid value \"SHA\" for Signature: expected MD5, SHA1, SHA256, SHA512 or XXH128")
    }

    func testBackslashInUnquotedFile() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    File = C:\\x\n  }\n}",
            "m.conf:4:12: backslash in an unquoted File value; use forward slashes or quote the value")
    }

    func testNULInQuotedFileIsAnErrorAtItsColumn() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    File = \"/etc/pass\u{0}wd\"\n  }\n}",
            "m.conf:4:22: NUL byte in the configuration (a value cannot contain one)")
    }

    func testNULInUnquotedFileIsAnError() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    File = /etc\u{0}/x\n  }\n}",
            "m.conf:4:16: NUL byte in the configuration (a value cannot contain one)")
    }

    func testNULInOtherPathDirectivesIsAnError() {
        assertError(
            "Archive {\n  Name = a\n  Directory = \"/srv/ar\u{0}chive\"\n}",
            "m.conf:3:23: NUL byte in the configuration (a value cannot contain one)")
        assertError(
            "Catalog {\n  Name = c\n  DB Driver = sqlite3\n  DB Name = /var/c\u{0}.db\n}",
            "m.conf:4:19: NUL byte in the configuration (a value cannot contain one)")
        assertError("@/etc/x\u{0}y\n", "m.conf:1:8: NUL byte in the configuration (a value cannot contain one)")
    }

    func testNULInACommentIsIgnored() throws {
        _ = try Configuration.parse(text: "# a \u{0} comment\nFileSet { Name = \"a\" }\n", fileName: "m.conf")
    }

    func testNumericName() {
        assertError("FileSet {\n  Name = 123\n}", "m.conf:2:10: expected a name, got number 123 (quote it: \"123\")")
    }

    func testUnknownFileSetDirective() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Inclde { File = /x }\n}", "m.conf:3:3: unknown FileSet directive \"Inclde\"")
    }

    func testUnknownResourceType() {
        assertError("Filesets { Name = x }", "m.conf:1:1: unknown resource type \"Filesets\"")
    }

    func testCompressionLevelOutOfRange() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options {\n      Compression = GZIP10\n    }\n  }\n}",
            "m.conf:5:21: invalid value \"GZIP10\" for Compression: "
                + "expected GZIP, GZIP1 to GZIP9, LZO, LZFAST, LZ4 or LZ4HC")
    }

    func testSizeWithBinaryUnitIsRefused() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options {\n      Size = 10KiB\n    }\n  }\n}",
            "m.conf:5:14: invalid value \"10KiB\" for Size: expected a size such as 10k, <1m, >2g or 1m-10m "
                + "(units k kb m mb g gb ...)")
    }

    func testInvalidRegex() throws {
        do {
            _ = try Configuration.parse(
                text: "FileSet {\n  Name = \"a\"\n  Include {\n    Options {\n      Regex = \"a(b\"\n    }\n  }\n}",
                fileName: "m.conf")
            XCTFail("expected an error")
        } catch {
            XCTAssertTrue(
                error.headline.hasPrefix("m.conf:5:15: invalid regular expression \"a(b\": "), error.headline)
        }
    }

    func testCommentBetweenPartsOfAnOptionsPlugin() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options {\n      Plugin = \"python3\" # the plugin\n"
                + "               \":module_name=x\"\n    }\n  }\n}",
            "m.conf:5:38: expected a value for Plugin, got end of line")
    }

    func testUnterminatedQuote() {
        assertError("FileSet {\n  Name = \"unterminated\n}", "m.conf:2:10: unterminated quoted string")
    }

    func testMissingClosingBrace() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    File = /x",
            "m.conf:4:14: unexpected end of file inside an Include block: missing '}'")
    }

    func testOptionsInsideExclude() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Exclude {\n    Options { Exclude = yes }\n  }\n}",
            "m.conf:4:5: \"Options\" is not allowed in an Exclude block (only File =)")
    }

    func testEncryptionNotPermitted() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { Encryption = AES256 }\n  }\n}",
            "m.conf:4:15: Encryption is not permitted in an Options block")
    }

    func testNameTwice() {
        assertError("FileSet {\n  Name = \"a\"\n  Name = \"b\"\n}", "m.conf:3:3: Name given twice in this FileSet resource")
    }

    func testDuplicateResource() {
        assertError(
            "FileSet { Name = \"a\" }\nFileSet { Name = \"a\" }",
            "m.conf:2:1: FileSet \"a\" is defined twice (first at m.conf:1:1)")
    }

    func testUndefinedFileSet() {
        assertError(
            "Job {\n  Name = \"j\"\n  Type = Backup\n  FileSet = \"missing\"\n}",
            "m.conf:4:13: FileSet \"missing\" named by Job \"j\" is not defined")
    }

    func testBadJobType() {
        assertError(
            "Job {\n  Name = \"j\"\n  Type = Bakup\n}",
            "m.conf:3:10: invalid Job Type \"Bakup\": expected Backup, Restore, Verify, Admin, Copy, Migrate, "
                + "Consolidate, Archive")
    }

    func testUndefinedJobDefs() {
        assertError("Job {\n  Name = \"j\"\n  JobDefs = \"nope\"\n}", "m.conf:3:13: JobDefs \"nope\" is not defined")
    }

    func testUnquotedNumericBoolean() {
        assertError(
            "Job {\n  Name = \"j\"\n  Type = Backup\n  Accurate = 1\n}",
            "m.conf:4:14: expected yes or no for Accurate, got \"1\"")
    }

    func testKeywordWithUnderscore() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { Signature_1 = MD5 }\n  }\n}",
            "m.conf:4:15: expected an Options directive, got unquoted string \"Signature_1\"")
    }

    func testMissingIncludeFile() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  @/nonexistent/file.conf\n}",
            "m.conf:3:3: cannot open included config file /nonexistent/file.conf: No such file or directory")
    }

    func testBadVolumeMode() {
        assertError(
            "Archive {\n  Name = \"a\"\n  Volume Mode = 0999\n  Directory = /x\n}",
            "m.conf:3:17: invalid Volume Mode \"0999\": expected an octal mode such as 0600")
    }

    func testUnknownPipelineDirective() {
        assertError(
            "Pipeline {\n  Name = \"p\"\n  Stage = \"checksum\"\n  Colour = red\n}",
            "m.conf:4:3: unknown Pipeline directive \"Colour\"")
    }

    func testUndefinedPipeline() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { Plugin = \"pipeline:nope\" }\n  }\n}",
            "m.conf:4:24: Pipeline \"nope\" is not defined")
    }

    func testPipelineCycle() {
        assertError(
            "Pipeline {\n  Name = p\n  Stage = \"pipeline:q\"\n}\nPipeline {\n  Name = q\n  Stage = \"pipeline:p\"\n}",
            "m.conf:7:11: Pipeline \"p\" includes itself (p -> q -> p)")
    }

    func testBadCharacterInName() {
        assertError(
            "FileSet {\n  Name = \"a;b\"\n}",
            "m.conf:2:10: Name \"a;b\" contains ';'; names may use letters, digits, blanks and : . - _ /")
    }

    func testJobWithoutType() {
        assertError("Job {\n  Name = \"j\"\n}", "m.conf:1:1: Job \"j\" has no Type (set it here or in its JobDefs)")
    }

    func testMissingValue() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Description =\n}", "m.conf:3:16: expected a value for Description, got end of line")
    }

    func testBadShadowing() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { Shadowing = sometimes }\n  }\n}",
            "m.conf:4:27: invalid value \"sometimes\" for Shadowing: expected none, localwarn, localremove, globalwarn "
                + "or globalremove")
    }

    func testBadAccurateLetters() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { Accurate = xyz }\n  }\n}",
            "m.conf:4:26: invalid value \"xyz\" for Accurate: expected letters from i p n u g s a m c d 5 1 A")
    }

    func testBadDriveType() {
        assertError(
            "FileSet {\n  Name = \"a\"\n  Include {\n    Options { DriveType = floppy }\n  }\n}",
            "m.conf:4:27: invalid value \"floppy\" for DriveType: expected removable, fixed, remote, cdrom or ramdisk")
    }

    func testResourceWithoutBrace() {
        assertError("FileSet\n  Name = \"a\"\n}", "m.conf:2:3: expected '{' after FileSet, got identifier \"Name\"")
    }

    func testResourceWithoutName() {
        assertError("Pipeline {\n  Stage = \"x:y\"\n}", "m.conf:1:1: Pipeline resource has no Name")
    }

    func testArchiveWithoutDirectory() {
        assertError("Archive {\n  Name = a\n}", "m.conf:1:1: Archive \"a\" has no Directory")
    }

    func testUTF16ByteOrderMark() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("utf16-\(getpid()).conf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes: [UInt8] = [0xFF, 0xFE] + Array("FileSet { Name = a }".utf8).flatMap { [$0, 0] }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        XCTAssertThrowsError(try Configuration.load(path: path)) { error in
            XCTAssertEqual(
                (error as? ConfigError)?.headline,
                "\(path):1:1: this file appears to be UTF-16 encoded; save it as UTF-8")
        }
    }
}
