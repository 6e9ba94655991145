import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

@testable import Pipeline

/// Volumes against real GNU tar: it lists and extracts ours, and we read what it writes.
final class PaxGNUTarTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        try PaxTestSupport.tarAvailable()
        directory = try PaxTestSupport.makeDirectory()
    }

    override func tearDown() {
        if !directory.isEmpty { PaxTestSupport.removeDirectory(directory) }
    }

    private func tar(_ arguments: [String]) throws -> PaxTestSupport.ToolResult {
        try PaxTestSupport.run("tar", arguments)
    }

    /// GNU tar 1.34 warns about every record keyword it does not know, ours and `hdrcharset` included (exit status
    /// stays 0); `--warning=no-unknown-keyword` silences exactly that.
    private func assertOnlyUnknownKeywordWarnings(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        for warning in text.split(separator: "\n") {
            XCTAssertTrue(
                warning.hasPrefix("tar: Ignoring unknown extended header keyword 'OPTIONPIPELINE.")
                    || warning == "tar: Ignoring unknown extended header keyword 'hdrcharset'",
                String(warning), file: file, line: line)
        }
    }

    private func makeOutputDirectory(_ name: String) throws -> String {
        let path = directory + "/" + name
        XCTAssertEqual(mkdir(path, 0o755), 0)
        return path
    }

    func testTarListsEveryMember() throws {
        let (members, data) = PaxFixtures.everyKind()
        let path = directory + "/list.tar"
        try PaxTestSupport.writeVolume(path, members, data: data)
        let noisy = try tar(["-tvf", path])
        XCTAssertEqual(noisy.status, 0, noisy.errorText)
        assertOnlyUnknownKeywordWarnings(noisy.errorText)
        // Our records travel inside a pax comment, which tar ignores silently; only hdrcharset is unknown to it.
        XCTAssertFalse(noisy.errorText.contains("OPTIONPIPELINE"), noisy.errorText)
        let verbose = try tar(["--warning=no-unknown-keyword", "-tvf", path])
        XCTAssertEqual(verbose.status, 0, verbose.errorText)
        XCTAssertEqual(verbose.errorText, "")
        XCTAssertEqual(verbose.output, noisy.output)
        let listing = String(decoding: verbose.output, as: UTF8.self)
        XCTAssertEqual(listing.split(separator: "\n").count, members.count, listing)
        XCTAssertTrue(listing.contains("hrw-r----- 1000/1000 "), listing)
        XCTAssertTrue(listing.contains(" top/hard link to top/plain\n"), listing)
        XCTAssertTrue(listing.contains(" top/link -> plain\n"), listing)
        XCTAssertTrue(listing.contains(" top/binary link -> caf\\377 x\n"), listing)
        XCTAssertTrue(listing.contains("crw-rw-rw- 0/0 "), listing)
        XCTAssertTrue(listing.contains(" 1,3 "), listing)
        XCTAssertTrue(listing.contains(" 7,1048575 "), listing)
        XCTAssertTrue(listing.contains("prw--w---- "), listing)
        XCTAssertTrue(listing.contains("drwxrwsr-x root/root "), listing)
        XCTAssertTrue(listing.contains("-rw-r----- someone/no-such-group 10000 "), listing)
        XCTAssertTrue(listing.contains("-rwsr-xr-x uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu/gr"), listing)

        let names = try tar(["--warning=no-unknown-keyword", "-tf", path])
        XCTAssertEqual(names.status, 0, names.errorText)
        let expected = members.map { PaxTestSupport.tarEscaped($0.name) + ($0.kind == .directory ? "/" : "") }
        XCTAssertEqual(String(decoding: names.output, as: UTF8.self).split(separator: "\n").map(String.init), expected)
    }

    func testTarExtractsEveryKind() throws {
        let root = geteuid() == 0
        let (members, data) = PaxFixtures.everyKind(devices: root)
        let path = directory + "/extract.tar"
        try PaxTestSupport.writeVolume(path, members, data: data)
        let out = try makeOutputDirectory("out")
        let result = try tar(["-xf", path, "--xattrs", "--acls", "-C", out])
        XCTAssertEqual(result.status, 0, result.errorText)
        assertOnlyUnknownKeywordWarnings(result.errorText)

        for member in members {
            let file = PaxTestSupport.path(out, member.name)
            let shown = String(decoding: member.name, as: UTF8.self)
            let filePath = out + "/" + shown
            guard let info = PaxTestSupport.lstatBytes(file) else {
                XCTFail("\(shown) was not extracted")
                continue
            }
            let type = UInt32(info.st_mode) & UInt32(S_IFMT)
            switch member.kind {
            case .file:
                XCTAssertEqual(type, UInt32(S_IFREG), shown)
                XCTAssertEqual(PaxTestSupport.readFile(file), data[member.name] ?? [], shown)
            case .directory: XCTAssertEqual(type, UInt32(S_IFDIR), shown)
            case .symlink:
                XCTAssertEqual(type, UInt32(S_IFLNK), shown)
                XCTAssertEqual(PaxTestSupport.readLink(file), member.linkTarget, shown)
            case .hardLink:
                let target = try XCTUnwrap(PaxTestSupport.lstatBytes(PaxTestSupport.path(out, member.linkTarget ?? [])))
                XCTAssertEqual(info.st_ino, target.st_ino, shown)
                XCTAssertEqual(info.st_nlink, 2, shown)
            case .fifo: XCTAssertEqual(type, UInt32(S_IFIFO), shown)
            case .charDevice, .blockDevice:
                XCTAssertEqual(type, UInt32(member.kind == .charDevice ? S_IFCHR : S_IFBLK), shown)
                let numbers = PaxTestSupport.deviceNumbers(UInt64(info.st_rdev))
                XCTAssertEqual(numbers.major, member.deviceMajor, shown)
                XCTAssertEqual(numbers.minor, member.deviceMinor, shown)
            case .socket: XCTFail("no sockets in volumes")
            }
            guard member.kind != .symlink else { continue }
            if member.kind != .hardLink {
                XCTAssertEqual(UInt32(info.st_mode) & 0o7777, member.mode, shown)
                XCTAssertEqual(Int64(info.st_mtim.tv_sec), member.mtime.seconds, shown)
                XCTAssertEqual(Int32(info.st_mtim.tv_nsec), member.mtime.nanoseconds, shown)
            }
            if root {
                XCTAssertEqual(info.st_uid, member.uid, shown)
                XCTAssertEqual(info.st_gid, member.gid, shown)
            }
            for xattr in member.xattrs {
                XCTAssertEqual(
                    try PaxTestSupport.xattr(filePath, String(decoding: xattr.name, as: UTF8.self)), xattr.value,
                    "\(shown) \(String(decoding: xattr.name, as: UTF8.self))")
            }
            for (option, acl) in [("-a", member.aclAccess), ("-d", member.aclDefault)] {
                guard let acl else { continue }
                let shownACL = try PaxTestSupport.run(
                    "getfacl", ["-n", "-E", "--omit-header", option, filePath])
                XCTAssertEqual(shownACL.status, 0, shownACL.errorText)
                let entries = String(decoding: shownACL.output, as: UTF8.self).split(separator: "\n")
                XCTAssertEqual(entries.joined(separator: ","), acl, "\(shown) \(option)")
            }
        }
    }

    func testStreamedCompressedMembersExtractToStandardFrames() throws {
        let original = directory + "/original"
        let content = PaxTestSupport.bytes(700_000, seed: 9) + [UInt8](repeating: 65, count: 500_000)
        try Data(content).write(to: URL(fileURLWithPath: original))
        let gzip = try PaxTestSupport.run("gzip", ["-c", "-n", original])
        let lz4 = try PaxTestSupport.run("lz4", ["-c", "-q", original])
        XCTAssertEqual(gzip.status, 0)
        XCTAssertEqual(lz4.status, 0)

        let path = directory + "/compressed.tar"
        let writer = try PaxWriter(path: path, mode: 0o600)
        for (name, frame) in [("c/original.gz", [UInt8](gzip.output)), ("c/original.lz4", [UInt8](lz4.output))] {
            _ = try writer.beginMember(VolumeMember(name: Array(name.utf8), kind: .file, mode: 0o600))
            var position = 0
            while position < frame.count {
                let step = min(frame.count - position, 4096 + position % 7)
                try frame.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[position..<(position + step)])) }
                position += step
            }
            XCTAssertEqual(try writer.finishMember(), UInt64(frame.count))
        }
        try writer.close()

        let listing = try tar(["-tvf", path])
        XCTAssertEqual(listing.status, 0, listing.errorText)
        XCTAssertTrue(String(decoding: listing.output, as: UTF8.self).contains(" \(gzip.output.count) "))
        let out = try makeOutputDirectory("out")
        let result = try tar(["-xf", path, "-C", out])
        XCTAssertEqual(result.status, 0, result.errorText)
        XCTAssertEqual(try PaxTestSupport.run("gunzip", [out + "/c/original.gz"]).status, 0)
        XCTAssertEqual(try PaxTestSupport.run("lz4", ["-d", "-q", out + "/c/original.lz4", out + "/c/from-lz4"]).status, 0)
        XCTAssertEqual(try PaxTestSupport.run("cmp", [original, out + "/c/original"]).status, 0)
        XCTAssertEqual(try PaxTestSupport.run("cmp", [original, out + "/c/from-lz4"]).status, 0)
    }

    /// A 1 GiB file with two data segments: the volume holds only the segments, and GNU tar restores the holes.
    func testSparseFileKeepsItsHoles() throws {
        let realSize: UInt64 = 1 << 30
        let first = PaxTestSupport.bytes(5000, seed: 10)
        let second = PaxTestSupport.bytes(3000, seed: 11)
        let layout = VolumeMember.SparseLayout(
            realSize: realSize,
            segments: [.init(offset: 4096, length: 5000), .init(offset: 600 << 20, length: 3000)])
        // The same file built directly, for cmp.
        let reference = directory + "/reference"
        let fd = open(reference, O_CREAT | O_WRONLY | O_EXCL, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(first.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 4096) }, 5000)
        XCTAssertEqual(second.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 600 << 20) }, 3000)
        XCTAssertEqual(ftruncate(fd, off_t(realSize)), 0)
        close(fd)

        let path = directory + "/sparse.tar"
        let member = VolumeMember(
            name: Array("data/holes.img".utf8), kind: .file, mode: 0o640, size: 8000,
            mtime: PaxFixtures.time(1_700_000_000, 1), sparse: layout,
            records: [.init(key: "OPTIONPIPELINE.note", value: Array("sparse".utf8))])
        let writer = try PaxWriter(path: path, mode: 0o600)
        let segmentBytes = first + second
        let location = try segmentBytes.withUnsafeBytes { try writer.append(member, data: $0) }
        // The same file again, written in pieces.
        var streamed = member
        streamed.name = Array("holes-streamed.img".utf8)
        _ = try writer.beginMember(streamed)
        try first.withUnsafeBytes { try writer.write($0) }
        try second.withUnsafeBytes { try writer.write($0) }
        XCTAssertEqual(try writer.finishMember(), 8000)
        try writer.close()
        let volumeSize = try XCTUnwrap(PaxTestSupport.lstatBytes(PaxTestSupport.path(directory, Array("sparse.tar".utf8))))
        XCTAssertLessThan(volumeSize.st_size, 64 * 1024)

        let read = try PaxTestSupport.readAll(path)
        XCTAssertEqual(read.count, 2)
        XCTAssertEqual(read[0].0, member)
        XCTAssertEqual(read[0].1, location)
        XCTAssertEqual(read[1].0, streamed)
        XCTAssertEqual(try PaxTestSupport.data(of: read[0].0, at: read[0].1, in: path), segmentBytes)
        XCTAssertEqual(try PaxTestSupport.data(of: read[1].0, at: read[1].1, in: path), segmentBytes)

        let listing = try tar(["-tvf", path])
        XCTAssertEqual(listing.status, 0, listing.errorText)
        let text = String(decoding: listing.output, as: UTF8.self)
        XCTAssertTrue(text.contains(" 1073741824 ") && text.contains("data/holes.img\n"), text)
        XCTAssertFalse(text.contains("GNUSparseFile"), text)

        let out = try makeOutputDirectory("out")
        let result = try tar(["-xf", path, "-C", out])
        XCTAssertEqual(result.status, 0, result.errorText)
        for name in ["data/holes.img", "holes-streamed.img"] {
            let info = try XCTUnwrap(PaxTestSupport.lstatBytes(PaxTestSupport.path(out, Array(name.utf8))))
            XCTAssertEqual(UInt64(info.st_size), realSize)
            XCTAssertLessThan(info.st_blocks, 256, "\(name) has \(info.st_blocks) blocks allocated")
        }
        XCTAssertEqual(try PaxTestSupport.run("cmp", [reference, out + "/data/holes.img"]).status, 0)
        // The streamed copy: its data regions (the whole-file cmp above reads 1 GiB and takes seconds).
        for segment in layout.segments {
            let region = try PaxTestSupport.run(
                "cmp", ["-i", "\(segment.offset)", "-n", "\(segment.length + 4096)", reference, out + "/holes-streamed.img"])
            XCTAssertEqual(region.status, 0, region.errorText)
        }
    }

    /// GNU tar's own pax volumes (sparse, ACL, xattrs) and GNU-format long names read back.
    func testReaderReadsTarMadeVolumes() throws {
        let source = try makeOutputDirectory("src")
        let sparse = source + "/sparse"
        let fd = open(sparse, O_CREAT | O_WRONLY | O_EXCL, 0o644)
        let payload = PaxTestSupport.bytes(8192, seed: 12)
        XCTAssertEqual(payload.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 1 << 20) }, 8192)
        XCTAssertEqual(ftruncate(fd, 4 << 20), 0)
        close(fd)
        let plain = source + "/plain"
        try Data("plain\n".utf8).write(to: URL(fileURLWithPath: plain))
        XCTAssertEqual(try PaxTestSupport.run("setfacl", ["-m", "u:65534:r", plain]).status, 0)
        XCTAssertEqual(try PaxTestSupport.run("setfattr", ["-n", "user.k=1%", "-v", "v", plain]).status, 0)
        let long = String(repeating: "n", count: 150)
        XCTAssertEqual(symlink(String(repeating: "t", count: 120), source + "/" + long), 0)

        let pax = directory + "/gnu-pax.tar"
        let made = try tar(["--format=pax", "--sparse", "--acls", "--xattrs", "-cf", pax, "-C", source, "sparse", "plain", long])
        XCTAssertEqual(made.status, 0, made.errorText)
        let members = try PaxTestSupport.readAll(pax)
        XCTAssertEqual(members.map { String(decoding: $0.0.name, as: UTF8.self) }, ["sparse", "plain", long])
        let sparseMember = members[0].0
        XCTAssertEqual(sparseMember.sparse?.realSize, 4 << 20)
        XCTAssertEqual(sparseMember.sparse?.dataSize, sparseMember.size)
        var restored = [UInt8](repeating: 0, count: 4 << 20)
        var segmentBytes: [UInt8] = []
        try PaxReader(path: pax).readData(of: sparseMember, at: members[0].1) { segmentBytes.append(contentsOf: $0) }
        var position = 0
        for segment in sparseMember.sparse?.segments ?? [] {
            restored.replaceSubrange(Int(segment.offset)..<Int(segment.offset + segment.length),
                with: segmentBytes[position..<(position + Int(segment.length))])
            position += Int(segment.length)
        }
        XCTAssertEqual(Array(restored[(1 << 20)..<((1 << 20) + 8192)]), payload)
        XCTAssertTrue(restored[0..<(1 << 20)].allSatisfy { $0 == 0 })
        let plainMember = members[1].0
        XCTAssertEqual(plainMember.aclAccess, "user::rw-,user:nobody:r--,group::r--,mask::r--,other::r--")
        XCTAssertTrue(plainMember.xattrs.contains(.init(name: Array("user.k=1%".utf8), value: Array("v".utf8))))
        XCTAssertEqual(members[2].0.kind, .symlink)
        XCTAssertEqual(members[2].0.linkTarget, Array(String(repeating: "t", count: 120).utf8))

        let gnu = directory + "/gnu.tar"
        XCTAssertEqual(try tar(["--format=gnu", "-cf", gnu, "-C", source, "plain", long]).status, 0)
        let gnuMembers = try PaxTestSupport.readAll(gnu)
        XCTAssertEqual(gnuMembers.map { String(decoding: $0.0.name, as: UTF8.self) }, ["plain", long])
        XCTAssertEqual(gnuMembers[1].0.linkTarget, Array(String(repeating: "t", count: 120).utf8))
        XCTAssertEqual(try PaxTestSupport.data(of: gnuMembers[0].0, at: gnuMembers[0].1, in: gnu), Array("plain\n".utf8))
    }

    /// GNU tar reads a zero-padded pax `size` (the streaming placeholder) and prefers it to the ustar field.
    func testTarHonoursZeroPaddedSizeRecord() throws {
        let path = directory + "/padded.tar"
        let writer = try PaxWriter(path: path, mode: 0o600)
        _ = try writer.beginMember(VolumeMember(name: Array("five".utf8), kind: .file))
        try Array("hello".utf8).withUnsafeBytes { try writer.write($0) }
        _ = try writer.finishMember()
        try writer.close()
        let bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("padded.tar".utf8))))
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).contains("29 size=00000000000000000005\n"))
        let out = try makeOutputDirectory("out")
        let result = try tar(["-xf", path, "-C", out])
        XCTAssertEqual(result.status, 0, result.errorText)
        XCTAssertEqual(PaxTestSupport.readFile(PaxTestSupport.path(out, Array("five".utf8))), Array("hello".utf8))
    }
}
