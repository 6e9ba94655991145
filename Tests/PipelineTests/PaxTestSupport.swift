import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

@testable import Pipeline

/// Helpers for the volume tests: a scratch directory, running GNU tar and friends, raw file access.
enum PaxTestSupport {
    struct ToolResult {
        var status: Int32
        var output: Data
        var errorText: String
    }

    /// A new empty directory under the temporary directory.
    static func makeDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/paxtest.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else { throw NSError(domain: "mkdtemp", code: Int(errno)) }
        return String(cString: made)
    }

    static func removeDirectory(_ path: String) {
        _ = try? run("/bin/rm", ["-rf", path])
    }

    /// Runs a program (found on PATH when not absolute) with LC_ALL=C, returning its status and output.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> ToolResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        process.arguments = program.hasPrefix("/") ? arguments : [program] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        process.environment = environment
        let outputPipe = Pipe()
        let errorPipe = Pipe()
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain standard error on another thread so neither pipe fills up.
        let errorBox = DataBox()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            errorBox.data = errorPipe.fileHandleForReading.readDataToEndOfFile()
        }
        let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ToolResult(
            status: process.terminationStatus, output: output,
            errorText: String(decoding: errorBox.data, as: UTF8.self))
    }

    private final class DataBox: @unchecked Sendable {
        var data = Data()
    }

    static func tarAvailable() throws {
        guard let result = try? run("tar", ["--version"]), result.status == 0,
            String(decoding: result.output, as: UTF8.self).contains("GNU tar")
        else { throw XCTSkip("GNU tar is not installed") }
    }

    /// A file path from raw name bytes.
    static func path(_ directory: String, _ name: [UInt8]) -> [CChar] {
        (Array(directory.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
    }

    static func lstatBytes(_ path: [CChar]) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    static func readFile(_ path: [CChar]) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }

    static func readLink(_ path: [CChar]) -> [UInt8]? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count)
        guard count >= 0 else { return nil }
        return buffer[0..<count].map { UInt8(bitPattern: $0) }
    }

    /// The value of extended attribute `name` of `path` (not following symlinks), through getfattr.
    static func xattr(_ path: String, _ name: String) throws -> [UInt8]? {
        let result = try run("getfattr", ["-h", "--only-values", "-n", name, path])
        return result.status == 0 ? [UInt8](result.output) : nil
    }

    /// Major and minor of a Linux `dev_t` (glibc's encoding).
    static func deviceNumbers(_ device: UInt64) -> (major: UInt32, minor: UInt32) {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        return (UInt32(truncatingIfNeeded: major), UInt32(truncatingIfNeeded: minor))
    }

    /// How `tar -t` with LC_ALL=C and the default escape quoting shows a name.
    static func tarEscaped(_ name: [UInt8]) -> String {
        var text = ""
        for byte in name {
            switch byte {
            case UInt8(ascii: "\\"): text += "\\\\"
            case UInt8(ascii: "\n"): text += "\\n"
            case UInt8(ascii: "\t"): text += "\\t"
            case 0x20..<0x7f: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let octal = String(byte, radix: 8)
                text += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            }
        }
        return text
    }

    /// Appends every member of `members` (data from `data[name]`, empty when absent) to a new volume.
    @discardableResult
    static func writeVolume(
        _ path: String, _ members: [VolumeMember], data: [[UInt8]: [UInt8]] = [:], mode: UInt32 = 0o600
    ) throws -> [MemberLocation] {
        let writer = try PaxWriter(path: path, mode: mode)
        var locations: [MemberLocation] = []
        for member in members {
            let bytes = data[member.name] ?? []
            locations.append(try bytes.withUnsafeBytes { try writer.append(member, data: $0) })
        }
        try writer.close()
        return locations
    }

    static func readAll(_ path: String) throws -> [(VolumeMember, MemberLocation)] {
        let reader = try PaxReader(path: path)
        var result: [(VolumeMember, MemberLocation)] = []
        while let entry = try reader.next() { result.append(entry) }
        return result
    }

    static func data(of member: VolumeMember, at location: MemberLocation, in path: String, chunkSize: Int = 1 << 20)
        throws -> [UInt8]
    {
        let reader = try PaxReader(path: path)
        var result: [UInt8] = []
        try reader.readData(of: member, at: location, chunkSize: chunkSize) { result.append(contentsOf: $0) }
        return result
    }

    /// Deterministic pseudo-random bytes.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        var result = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            result[index] = UInt8(truncatingIfNeeded: state >> 33)
        }
        return result
    }
}

/// A volume's worth of members of every kind, with the data of the regular files.
enum PaxFixtures {
    static func time(_ seconds: Int64, _ nanoseconds: Int32) -> FileStat.Timestamp {
        FileStat.Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    static let longName = Array("top/".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 140) + [UInt8(ascii: "/")]
        + [UInt8](repeating: UInt8(ascii: "b"), count: 155)
    static let splittableName = Array("top/".utf8) + [UInt8](repeating: UInt8(ascii: "c"), count: 100)
        + [UInt8(ascii: "/")] + [UInt8](repeating: UInt8(ascii: "f"), count: 95)
    static let binaryName = Array("top/caf".utf8) + [0xFF] + Array(" x".utf8)
    static let newlineName = Array("top/with space\nand newline".utf8)

    /// Every kind (devices when `devices`), names and metadata that need pax records.
    static func everyKind(devices: Bool = true) -> (members: [VolumeMember], data: [[UInt8]: [UInt8]]) {
        var members: [VolumeMember] = []
        var data: [[UInt8]: [UInt8]] = [:]
        members.append(
            VolumeMember(
                name: Array("top".utf8), kind: .directory, mode: 0o2775, userName: "root", groupName: "root",
                mtime: time(1_700_000_000, 123_456_789), atime: time(1_700_000_100, 5), ctime: time(1_700_000_200, 999_999_999),
                xattrs: [.init(name: Array("user.dir".utf8), value: Array("on a directory".utf8))],
                aclAccess: "user::rwx,user:65534:r-x,group::rwx,mask::rwx,other::r-x",
                aclDefault: "user::rwx,user:65534:r--,group::r-x,mask::r-x,other::---"))
        members.append(
            VolumeMember(name: Array("top/sub dir".utf8), kind: .directory, mode: 0o755, mtime: time(1_600_000_000, 1)))
        let plain = Array("top/plain".utf8)
        data[plain] = PaxTestSupport.bytes(10_000, seed: 1)
        members.append(
            VolumeMember(
                name: plain, kind: .file, mode: 0o640, uid: 1000, gid: 1000, userName: "someone", groupName: "no-such-group",
                size: 10_000, mtime: time(1_650_000_000, 987_654_321), atime: time(1_650_000_001, 0),
                xattrs: [
                    .init(name: Array("user.comment".utf8), value: Array("hello".utf8)),
                    .init(name: Array("user.binary".utf8), value: [0, 1, 10, 255, 61, 10]),
                    .init(name: Array("user.a=b%c".utf8), value: Array("odd name".utf8)),
                ],
                aclAccess: "user::rw-,user:1000:r--,group::r--,mask::r--,other::---",
                records: [
                    .init(key: "OPTIONPIPELINE.jobid", value: Array("42".utf8)),
                    .init(key: "OPTIONPIPELINE.fileindex", value: Array("7".utf8)),
                    .init(key: "OPTIONPIPELINE.chain", value: Array("gzip\ncheckswm=x".utf8)),
                    .init(key: "OPTIONPIPELINE.digest.raw", value: [0, 255, 10, 61, 32]),
                ]))
        data[newlineName] = Array("line one\nline two\n".utf8)
        members.append(
            VolumeMember(name: newlineName, kind: .file, mode: 0o600, size: 18, mtime: time(1_500_000_000, 500_000_000)))
        data[binaryName] = PaxTestSupport.bytes(513, seed: 2)
        members.append(
            VolumeMember(name: binaryName, kind: .file, mode: 0o644, size: 513, mtime: time(1_400_000_000, 42)))
        data[longName] = PaxTestSupport.bytes(512, seed: 3)
        members.append(VolumeMember(name: longName, kind: .file, mode: 0o604, size: 512, mtime: time(1_300_000_000, 7)))
        data[splittableName] = []
        members.append(
            VolumeMember(name: splittableName, kind: .file, mode: 0o444, size: 0, mtime: time(1_300_000_001, 8)))
        members.append(
            VolumeMember(
                name: Array("top/link".utf8), kind: .symlink, mode: 0o777, mtime: time(1_200_000_000, 11),
                linkTarget: Array("plain".utf8)))
        members.append(
            VolumeMember(
                name: Array("top/binary link".utf8), kind: .symlink, mode: 0o777, mtime: time(1_200_000_000, 12),
                linkTarget: Array("caf".utf8) + [0xFF] + Array(" x".utf8)))
        members.append(
            VolumeMember(
                name: Array("top/hard".utf8), kind: .hardLink, mode: 0o640, uid: 1000, gid: 1000,
                mtime: time(1_650_000_000, 987_654_321), linkTarget: plain))
        members.append(
            VolumeMember(name: Array("top/fifo".utf8), kind: .fifo, mode: 0o620, mtime: time(1_100_000_000, 13)))
        data[Array("top/bigid".utf8)] = Array("setuid, big ids".utf8)
        members.append(
            VolumeMember(
                name: Array("top/bigid".utf8), kind: .file, mode: 0o4755, uid: 3_000_000, gid: 3_000_001,
                userName: String(repeating: "u", count: 40), groupName: "gr\u{e9}oupe", size: 15,
                mtime: time(1_000_000_000, 999_999_999)))
        if devices {
            members.append(
                VolumeMember(
                    name: Array("top/null".utf8), kind: .charDevice, mode: 0o666, mtime: time(900_000_000, 1),
                    deviceMajor: 1, deviceMinor: 3))
            members.append(
                VolumeMember(
                    name: Array("top/loop".utf8), kind: .blockDevice, mode: 0o660, mtime: time(900_000_000, 2),
                    deviceMajor: 7, deviceMinor: 1_048_575))
        }
        return (members, data)
    }
}
