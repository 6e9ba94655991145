import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

@testable import Pipeline

/// Writer → reader round trips, damaged volumes, name checks and volume modes.
final class PaxVolumeTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try PaxTestSupport.makeDirectory()
    }

    override func tearDown() {
        PaxTestSupport.removeDirectory(directory)
    }

    func testRoundTripOfEveryKind() throws {
        let (members, data) = PaxFixtures.everyKind()
        let path = directory + "/every.tar"
        let locations = try PaxTestSupport.writeVolume(path, members, data: data)
        let read = try PaxTestSupport.readAll(path)
        XCTAssertEqual(read.count, members.count)
        for (index, (member, location)) in read.enumerated() where index < members.count {
            XCTAssertEqual(member, members[index], "member \(index)")
            XCTAssertEqual(location, locations[index])
            XCTAssertEqual(
                try PaxTestSupport.data(of: member, at: location, in: path, chunkSize: 100),
                data[members[index].name] ?? [], "data of member \(index)")
            let reader = try PaxReader(path: path)
            let (again, againLocation) = try reader.member(at: location.headerOffset)
            XCTAssertEqual(again, member)
            XCTAssertEqual(againLocation, location)
        }
        XCTAssertEqual(locations.first?.headerOffset, 0)
        for location in locations {
            XCTAssertEqual(location.headerOffset % 512, 0)
            XCTAssertEqual(location.dataOffset % 512, 0)
        }
        // The volume ends with two zero blocks after the last member.
        let size = try XCTUnwrap(PaxTestSupport.lstatBytes(PaxTestSupport.path(directory, Array("every.tar".utf8))))
            .st_size
        XCTAssertEqual(size % 512, 0)
    }

    func testRecordsInTheVolumeAreTheDocumentedOnes() throws {
        let (members, data) = PaxFixtures.everyKind(devices: false)
        let path = directory + "/records.tar"
        try PaxTestSupport.writeVolume(path, members, data: data)
        let bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("records.tar".utf8))))
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("30 mtime=1650000000.987654321\n"))
        XCTAssertTrue(text.contains("21 hdrcharset=BINARY\n"))
        XCTAssertTrue(text.contains("SCHILY.acl.access=user::rw-\nuser:1000:r--\ngroup::r--\nmask::r--\nother::---\n\n"))
        XCTAssertTrue(text.contains("SCHILY.xattr.user.a%3Db%25c=odd name\n"))
        XCTAssertTrue(text.contains("15 uid=3000000\n"))
        XCTAssertTrue(text.contains(" OPTIONPIPELINE.jobid=42\n"))
        XCTAssertTrue(text.contains("PaxHeaders/plain"))
        XCTAssertTrue(text.contains("ustar\u{0}00"))
        XCTAssertFalse(text.contains("GNUSparseFile"))
    }

    func testTimesBeforeTheEpochAndLargeValues() throws {
        let path = directory + "/times.tar"
        let members = [
            VolumeMember(name: Array("old".utf8), kind: .file, mtime: PaxFixtures.time(-2, 750_000_000)),
            VolumeMember(
                name: Array("older".utf8), kind: .directory, mtime: PaxFixtures.time(-86_400, 0),
                atime: PaxFixtures.time(0, 0), ctime: PaxFixtures.time(9_000_000_000, 1)),
            VolumeMember(
                name: Array("ids".utf8), kind: .fifo, uid: UInt32.max, gid: 2_097_152, userName: "", groupName: "g",
                mtime: PaxFixtures.time(Int64(UInt32.max) * 4, 0),
                sparse: nil),
        ]
        try PaxTestSupport.writeVolume(path, members)
        let read = try PaxTestSupport.readAll(path).map(\.0)
        var expected = members
        expected[2].userName = nil  // an empty owner name is not stored
        XCTAssertEqual(read, expected)
        let bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("times.tar".utf8))))
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("22 mtime=-1.250000000\n"))
        XCTAssertTrue(text.contains("26 mtime=-86400.000000000\n"))
        XCTAssertTrue(text.contains("18 uid=4294967295\n"))
        XCTAssertTrue(text.contains("15 gid=2097152\n"))
        try PaxTestSupport.tarAvailable()
        let listing = try PaxTestSupport.run("tar", ["--warning=no-unknown-keyword", "--utc", "-tvf", path])
        XCTAssertEqual(listing.status, 0, listing.errorText)
        let shown = String(decoding: listing.output, as: UTF8.self)
        XCTAssertTrue(shown.contains("1969-12-31 23:59 old\n"), shown)
        XCTAssertTrue(shown.contains("4294967295/g "), shown)
    }

    func testStreamingMemberSizeIsPatched() throws {
        let path = directory + "/stream.tar"
        let writer = try PaxWriter(path: path, mode: 0o600)
        let small = PaxTestSupport.bytes(3000, seed: 4)
        let big = PaxTestSupport.bytes(3 << 20, seed: 5)
        // Small member: headers still in memory when the size is patched.
        let first = try writer.beginMember(VolumeMember(name: Array("s/small".utf8), kind: .file, mtime: PaxFixtures.time(5, 6)))
        try small.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<1000])) }
        try small.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[1000...])) }
        XCTAssertEqual(try writer.finishMember(), 3000)
        // Big member: headers already on disk when the size is patched.
        let second = try writer.beginMember(VolumeMember(name: Array("s/big".utf8), kind: .file, mtime: PaxFixtures.time(7, 8)))
        XCTAssertEqual(second.headerOffset, writer.offset - (second.dataOffset - second.headerOffset))
        var position = 0
        for step in [1, 511, 100_000, 1 << 20, 5] {
            try big.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[position..<(position + step)])) }
            position += step
        }
        try big.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[position...])) }
        XCTAssertEqual(try writer.finishMember(), UInt64(big.count))
        let empty = try writer.beginMember(VolumeMember(name: Array("s/empty".utf8), kind: .file))
        XCTAssertEqual(try writer.finishMember(), 0)
        try writer.close()

        let read = try PaxTestSupport.readAll(path)
        XCTAssertEqual(read.map(\.0.name), [Array("s/small".utf8), Array("s/big".utf8), Array("s/empty".utf8)])
        XCTAssertEqual(read.map(\.1), [first, second, empty])
        XCTAssertEqual(read.map(\.0.size), [3000, UInt64(big.count), 0])
        XCTAssertEqual(try PaxTestSupport.data(of: read[0].0, at: read[0].1, in: path), small)
        XCTAssertEqual(try PaxTestSupport.data(of: read[1].0, at: read[1].1, in: path, chunkSize: 70_000), big)
        let bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("stream.tar".utf8))))
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).contains("29 size=00000000000000003000\n"))
    }

    func testAbandonedMemberLeavesNoTrace() throws {
        let path = directory + "/abandon.tar"
        let writer = try PaxWriter(path: path, mode: 0o600)
        let data = PaxTestSupport.bytes(2 << 20, seed: 6)
        let kept = try data.withUnsafeBytes {
            try writer.append(VolumeMember(name: Array("kept".utf8), kind: .file, size: 100), data: UnsafeRawBufferPointer(rebasing: $0[0..<100]))
        }
        let start = writer.offset
        _ = try writer.beginMember(VolumeMember(name: Array("dropped in memory".utf8), kind: .file))
        try data.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<10])) }
        try writer.abandonMember()
        XCTAssertEqual(writer.offset, start)
        _ = try writer.beginMember(VolumeMember(name: Array("dropped on disk".utf8), kind: .file))
        try data.withUnsafeBytes { try writer.write($0) }
        try writer.abandonMember()
        XCTAssertEqual(writer.offset, start)
        XCTAssertThrowsError(try writer.finishMember())
        let last = try data.withUnsafeBytes {
            try writer.append(VolumeMember(name: Array("last".utf8), kind: .file, size: 5), data: UnsafeRawBufferPointer(rebasing: $0[0..<5]))
        }
        XCTAssertEqual(last.headerOffset, start)
        try writer.close()
        let read = try PaxTestSupport.readAll(path)
        XCTAssertEqual(read.map(\.0.name), [Array("kept".utf8), Array("last".utf8)])
        XCTAssertEqual(read.map(\.1), [kept, last])
        XCTAssertEqual(try PaxTestSupport.data(of: read[1].0, at: read[1].1, in: path), Array(data[0..<5]))
    }

    func testWriterRefusesBadMembers() throws {
        let path = directory + "/refuse.tar"
        let writer = try PaxWriter(path: path, mode: 0o600)
        let bad: [VolumeMember] = [
            VolumeMember(name: Array("/abs".utf8), kind: .file),
            VolumeMember(name: Array("a/../b".utf8), kind: .file),
            VolumeMember(name: Array("..".utf8), kind: .directory),
            VolumeMember(name: [], kind: .file),
            VolumeMember(name: [UInt8(ascii: "a"), 0], kind: .file),
            VolumeMember(name: Array("sock".utf8), kind: .socket),
            VolumeMember(name: Array("h".utf8), kind: .hardLink, linkTarget: Array("../etc/passwd".utf8)),
            VolumeMember(name: Array("h".utf8), kind: .hardLink, linkTarget: Array("/etc/passwd".utf8)),
            VolumeMember(name: Array("l".utf8), kind: .symlink),
            VolumeMember(name: Array("f".utf8), kind: .file, linkTarget: Array("x".utf8)),
            VolumeMember(name: Array("f".utf8), kind: .file, mode: 0o100644),
            VolumeMember(name: Array("f".utf8), kind: .file, records: [.init(key: "jobid", value: [])]),
            VolumeMember(name: Array("f".utf8), kind: .file, records: [.init(key: "OPTIONPIPELINE.a=b", value: [])]),
            VolumeMember(name: Array("f".utf8), kind: .file, aclAccess: ""),
            VolumeMember(name: Array("f".utf8), kind: .file, mtime: PaxFixtures.time(1, 1_000_000_000)),
            VolumeMember(name: Array("d".utf8), kind: .directory, sparse: .init(realSize: 0, segments: [])),
            VolumeMember(
                name: Array("f".utf8), kind: .file,
                sparse: .init(realSize: 10, segments: [.init(offset: 5, length: 3), .init(offset: 4, length: 1)])),
            VolumeMember(name: Array("f".utf8), kind: .file, sparse: .init(realSize: 10, segments: [.init(offset: 8, length: 3)])),
        ]
        for member in bad {
            XCTAssertThrowsError(try writer.append(member, data: UnsafeRawBufferPointer(start: nil, count: 0)), "\(member)") {
                XCTAssertTrue(($0 as? VolumeError)?.description.contains(path) ?? false, "\($0)")
            }
        }
        // A size that does not match the data, data for a directory.
        XCTAssertThrowsError(try [1, 2, 3].withUnsafeBytes {
            try writer.append(VolumeMember(name: Array("f".utf8), kind: .file, size: 2), data: $0)
        })
        XCTAssertThrowsError(try [UInt8(1)].withUnsafeBytes {
            try writer.append(VolumeMember(name: Array("d".utf8), kind: .directory, size: 1), data: $0)
        })
        // Nothing was written; the writer is still usable.
        XCTAssertEqual(writer.offset, 0)
        _ = try writer.append(VolumeMember(name: Array("ok/./x".utf8), kind: .file), data: UnsafeRawBufferPointer(start: nil, count: 0))
        _ = try writer.beginMember(VolumeMember(name: Array("open".utf8), kind: .file))
        XCTAssertThrowsError(try writer.close())
        XCTAssertThrowsError(
            try writer.append(VolumeMember(name: Array("g".utf8), kind: .file), data: UnsafeRawBufferPointer(start: nil, count: 0)))
        _ = try writer.finishMember()
        try writer.close()
        XCTAssertThrowsError(try writer.close())
        XCTAssertEqual(try PaxTestSupport.readAll(path).map(\.0.name), [Array("ok/./x".utf8), Array("open".utf8)])
    }

    func testCorruptChecksumIsAnError() throws {
        let (members, data) = PaxFixtures.everyKind(devices: false)
        let path = directory + "/corrupt.tar"
        let locations = try PaxTestSupport.writeVolume(path, members, data: data)
        // Damage the ustar header of the third member (the block just before its data), then its pax header.
        for offset in [locations[2].dataOffset - 512 + 10, locations[2].headerOffset + 3] {
            let copy = directory + "/damaged.tar"
            var bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("corrupt.tar".utf8))))
            bytes[Int(offset)] ^= 0x20
            try Data(bytes).write(to: URL(fileURLWithPath: copy))
            let reader = try PaxReader(path: copy)
            XCTAssertNotNil(try reader.next())
            XCTAssertNotNil(try reader.next())
            XCTAssertThrowsError(try reader.next()) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("checksum") && text.contains(copy), text)
            }
            XCTAssertThrowsError(try PaxReader(path: copy).member(at: locations[2].headerOffset))
            XCTAssertNoThrow(try PaxReader(path: copy).member(at: locations[3].headerOffset))
        }
    }

    /// Restore and verify read members without our records: everything else (xattrs, ACLs, times) is the same
    /// as a full read, and the data comes back identical whether it is served from the header window (chunk
    /// size above the member's size) or read apart (chunk size below it).
    func testMemberWithoutOurRecordsAndDataFromTheWindow() throws {
        let (members, data) = PaxFixtures.everyKind(devices: false)
        let path = directory + "/window.tar"
        let locations = try PaxTestSupport.writeVolume(path, members, data: data)
        for (index, location) in locations.enumerated() {
            let (full, fullLocation) = try PaxReader(path: path).member(at: location.headerOffset)
            let (lean, leanLocation) = try PaxReader(path: path).member(at: location.headerOffset, ourRecords: false)
            XCTAssertEqual(fullLocation, leanLocation)
            XCTAssertEqual(full.records, members[index].records)
            var withoutRecords = full
            withoutRecords.records = []
            XCTAssertEqual(lean, withoutRecords)
            guard full.kind == .file else { continue }
            let reader = try PaxReader(path: path)
            let (member, at) = try reader.member(at: location.headerOffset, ourRecords: false)
            for chunkSize in [1 << 20, 100] {
                var bytes: [UInt8] = []
                try reader.readData(of: member, at: at, chunkSize: chunkSize) { bytes.append(contentsOf: $0) }
                XCTAssertEqual(bytes, data[members[index].name] ?? [], "\(index) \(chunkSize)")
            }
        }
    }

    /// Old writers summed the header bytes as signed chars: such a header is accepted, a wrong sum is not.
    func testSignedChecksumIsAccepted() throws {
        let path = directory + "/signed.tar"
        let name = Array("caf".utf8) + [0xE9]  // a byte above 127 makes the signed and unsigned sums differ
        let locations = try PaxTestSupport.writeVolume(path, [VolumeMember(name: name, kind: .file, mode: 0o644)])
        var bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("signed.tar".utf8))))
        let header = Int(locations[0].dataOffset) - 512
        XCTAssertTrue(bytes[header..<(header + 100)].contains(0xE9), "the ustar name field holds the byte")
        var signed = 8 * 32
        for index in 0..<512 where !(148..<156).contains(index) { signed += Int(Int8(bitPattern: bytes[header + index])) }
        let field = Array(String(format: "%06o", signed).utf8) + [0, 32]
        bytes.replaceSubrange((header + 148)..<(header + 156), with: field)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try PaxReader(path: path).member(at: locations[0].headerOffset).0.name, name)
        bytes.replaceSubrange((header + 148)..<(header + 156), with: Array(String(format: "%06o", signed + 1).utf8) + [0, 32])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try PaxReader(path: path).member(at: locations[0].headerOffset)) { error in
            XCTAssertTrue("\(error)".contains("header checksum mismatch"), "\(error)")
        }
    }

    func testMalformedRecordsAreAnError() throws {
        let path = directory + "/records.tar"
        let locations = try PaxTestSupport.writeVolume(path, [VolumeMember(name: Array("f".utf8), kind: .file)])
        var bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("records.tar".utf8))))
        // "NN path=f\n": make the length too large (the header checksum does not cover the records).
        let start = Int(locations[0].headerOffset) + 512
        XCTAssertEqual(Array(bytes[start..<(start + 9)]), Array("9 path=f\n".utf8))
        bytes[start] = UInt8(ascii: "5")
        try Data(bytes).write(to: URL(fileURLWithPath: path + ".bad"))
        XCTAssertThrowsError(try PaxReader(path: path + ".bad").next()) {
            XCTAssertTrue("\($0)".contains("malformed"), "\($0)")
        }
    }

    func testTruncatedVolumeIsAnError() throws {
        let (members, data) = PaxFixtures.everyKind(devices: false)
        let path = directory + "/whole.tar"
        let locations = try PaxTestSupport.writeVolume(path, members, data: data)
        let bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("whole.tar".utf8))))
        let plainIndex = 2
        let cuts = [
            Int(locations[plainIndex].dataOffset) + 5000,  // inside data
            Int(locations[plainIndex].dataOffset) + 10_000,  // inside padding
            Int(locations[plainIndex].headerOffset) + 700,  // inside the records
            Int(locations[plainIndex].dataOffset) - 100,  // inside the ustar header
        ]
        for cut in cuts {
            let copy = directory + "/cut\(cut).tar"
            try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: copy))
            let reader = try PaxReader(path: copy)
            XCTAssertNotNil(try reader.next())
            XCTAssertNotNil(try reader.next())
            XCTAssertThrowsError(try reader.next(), "cut at \(cut)") { error in
                XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
            }
        }
        // Reading data past the end of a shortened volume also fails.
        let copy = directory + "/short.tar"
        try Data(bytes[0..<Int(locations[plainIndex].dataOffset + 4096)]).write(to: URL(fileURLWithPath: copy))
        let reader = try PaxReader(path: copy)
        XCTAssertThrowsError(try reader.readData(of: members[plainIndex], at: locations[plainIndex]) { _ in })
    }

    func testVolumeEndsAtEndBlocksOrEndOfFile() throws {
        let path = directory + "/ends.tar"
        try PaxTestSupport.writeVolume(path, [VolumeMember(name: Array("one".utf8), kind: .fifo)])
        let reader = try PaxReader(path: path)
        XCTAssertNotNil(try reader.next())
        XCTAssertNil(try reader.next())
        XCTAssertNil(try reader.next())
        // Without the end blocks (a writer that was never closed) the end of the file ends the volume.
        let bytes = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("ends.tar".utf8))))
        try Data(bytes[0..<(bytes.count - 1024)]).write(to: URL(fileURLWithPath: path + ".open"))
        let open = try PaxReader(path: path + ".open")
        XCTAssertNotNil(try open.next())
        XCTAssertNil(try open.next())
        XCTAssertThrowsError(try open.member(at: 3))
        XCTAssertThrowsError(try PaxReader(path: directory + "/missing.tar"))
    }

    /// Random damage and crafted extreme numbers give errors, never a crash or a runaway allocation.
    func testDamagedVolumesNeverCrash() throws {
        var (members, data) = PaxFixtures.everyKind()
        let sparseData = PaxTestSupport.bytes(1500, seed: 20)
        let sparseName = Array("top/sparse".utf8)
        data[sparseName] = sparseData
        members.append(
            VolumeMember(
                name: sparseName, kind: .file, size: 1500,
                sparse: .init(realSize: 1 << 40, segments: [.init(offset: 0, length: 700), .init(offset: 1 << 30, length: 800)])))
        let path = directory + "/fuzz.tar"
        try PaxTestSupport.writeVolume(path, members, data: data)
        let original = try XCTUnwrap(PaxTestSupport.readFile(PaxTestSupport.path(directory, Array("fuzz.tar".utf8))))
        XCTAssertEqual(try PaxTestSupport.readAll(path).last?.0, members.last)

        func scan(_ bytes: [UInt8]) throws {
            let copy = directory + "/fuzzed.tar"
            try Data(bytes).write(to: URL(fileURLWithPath: copy))
            guard let reader = try? PaxReader(path: copy) else { return }
            var count = 0
            while count < 100, let entry = try? reader.next() {
                let (member, location) = entry
                count += 1
                try? reader.readData(of: member, at: location, chunkSize: 4096) { _ in }
            }
        }
        var state: UInt64 = 12345
        func random(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<(1 + random(4)) {
                let index = random(bytes.count)
                bytes[index] = random(3) == 0 ? UInt8(random(256)) : [0, 0x30, 0x39, 0x0a, 0x20, 0x3d, 0xff][random(7)]
            }
            if random(4) == 0 { bytes.removeLast(random(bytes.count)) }
            try scan(bytes)
        }
        // Records whose values are at the limits of UInt64.
        func record(_ key: String, _ value: String) -> String {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count != length { length += 1 }
            return String(length) + body
        }
        let extremes = [
            ("size", "18446744073709551615", "past the end"), ("size", "18446744073709551616", "bad size"),
            ("GNU.sparse.realsize", "99999999999999999999", "bad GNU.sparse.realsize"),
            ("mtime", "-9223372036854775808.5", "bad mtime"), ("uid", "4294967296", "bad uid"),
        ]
        for (key, value, problem) in extremes {
            let record = record(key, value)
            // A new extended header holding just this record, followed by the first member's ustar header and data.
            let recordBytes = Array(record.utf8)
            let member = try XCTUnwrap(PaxTestSupport.readAll(path).first)
            var block = [UInt8](repeating: 0, count: 512)
            let name = Array("PaxHeaders/x".utf8)
            block.replaceSubrange(0..<name.count, with: name)
            for (offset, text) in [(100, "0000644"), (108, "0000000"), (116, "0000000"), (136, "00000000000")] {
                block.replaceSubrange(offset..<(offset + text.utf8.count), with: Array(text.utf8))
            }
            let size = String(recordBytes.count, radix: 8)
            let sizeField = Array((String(repeating: "0", count: 11 - size.count) + size).utf8)
            block.replaceSubrange(124..<135, with: sizeField)
            block[156] = UInt8(ascii: "x")
            block.replaceSubrange(257..<265, with: Array("ustar\u{0}00".utf8))
            block.replaceSubrange(148..<156, with: [UInt8](repeating: 0x20, count: 8))
            let sum = String(block.reduce(0) { $0 + Int($1) }, radix: 8)
            block.replaceSubrange(148..<155, with: Array((String(repeating: "0", count: 6 - sum.count) + sum + "\u{0}").utf8))
            var padded = recordBytes
            padded.append(contentsOf: [UInt8](repeating: 0, count: (512 - recordBytes.count % 512) % 512))
            let ustarStart = Int(member.1.dataOffset) - 512
            let bytes = block + padded + Array(original[ustarStart...])
            let copy = directory + "/crafted.tar"
            try Data(bytes).write(to: URL(fileURLWithPath: copy))
            XCTAssertThrowsError(try PaxReader(path: copy).next(), record) {
                XCTAssertTrue("\($0)".contains(problem), "\($0)")
            }
            try scan(bytes)
        }
    }

    func testSafeComponents() throws {
        for bad in ["../x", "a/../../b", "/abs", "a//b", ".", "..", "a/./b", "a/", "", "a/b/.."] {
            XCTAssertThrowsError(try MemberName.safeComponents(Array(bad.utf8)), bad)
        }
        XCTAssertThrowsError(try MemberName.safeComponents([UInt8(ascii: "a"), 0, UInt8(ascii: "b")]))
        XCTAssertEqual(
            try MemberName.safeComponents(Array("a/b c/d".utf8)), [Array("a".utf8), Array("b c".utf8), Array("d".utf8)])
        XCTAssertEqual(try MemberName.safeComponents([0xFF, UInt8(ascii: "/"), UInt8(ascii: "\n")]), [[0xFF], [10]])
        XCTAssertEqual(try MemberName.safeComponents(Array("...".utf8)), [Array("...".utf8)])
    }

    func testVolumeModeIsExact() throws {
        let saved = umask(0o077)
        defer { umask(saved) }
        for mode: UInt32 in [0o600, 0o640, 0o644] {
            let path = directory + "/mode\(String(mode, radix: 8)).tar"
            let writer = try PaxWriter(path: path, mode: mode)
            try writer.close()
            let result = try PaxTestSupport.run("stat", ["-c", "%a", path])
            XCTAssertEqual(String(decoding: result.output, as: UTF8.self), String(mode, radix: 8) + "\n")
            XCTAssertThrowsError(try PaxWriter(path: path, mode: mode)) {
                XCTAssertTrue("\($0)".contains("exists"), "\($0)")
            }
        }
        XCTAssertThrowsError(try PaxWriter(path: directory + "/bad.tar", mode: 0o100600))
    }
}
