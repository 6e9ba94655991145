import XCTest
#if canImport(Glibc)
    import Glibc
#endif
@testable import Pipeline

final class SystemCallTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "systemcall-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testErrnoSaysWhyInTheSystemsWords() {
        XCTAssertEqual(Errno(ENOENT).description, "No such file or directory")
        XCTAssertEqual(Errno.notFound.message("cannot open /x"), "cannot open /x: No such file or directory")
        XCTAssertEqual(Errno(12345).description, "Unknown error 12345")
    }

    func testOpenMissingFileThrowsTheErrno() {
        XCTAssertThrowsError(try FileDescriptor.open(directory + "/missing", O_RDONLY)) { error in
            XCTAssertEqual(error as? Errno, .notFound)
        }
    }

    func testWriteReadRoundTripWithNonUTF8Name() throws {
        // A name that is not valid UTF-8 must reach the kernel byte for byte.
        let name: [UInt8] = Array((directory + "/n").utf8) + [0xFF, 0xFE, 0x41]
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let out = try FileDescriptor.open(name, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        try out.writeAll(bytes)
        try [UInt8]([1, 2, 3]).withUnsafeBytes { try out.writeAll($0, at: 0) }
        try out.close()
        let input = try FileDescriptor.open(name, O_RDONLY)
        let back = try input.closeAfter { () throws(Errno) -> [UInt8] in try input.readAll(chunk: 4096) }
        XCTAssertEqual(back.count, bytes.count)
        XCTAssertEqual(Array(back[0..<3]), [1, 2, 3])
        XCTAssertEqual(Array(back[3...]), Array(bytes[3...]))
        let listed = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(listed.count, 1)
        XCTAssertEqual(try FileDescriptor.open(name, O_RDONLY).closeAfter { 0 }, 0)
    }

    func testOpenRelativeToADirectoryAndExclusiveCreate() throws {
        let parent = try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
        defer { try? parent.close() }
        let first = try FileDescriptor.open(Array("a".utf8), O_WRONLY | O_CREAT | O_EXCL, mode: 0o600, in: parent)
        try first.close()
        XCTAssertThrowsError(try FileDescriptor.open(Array("a".utf8), O_WRONLY | O_CREAT | O_EXCL, in: parent)) {
            XCTAssertEqual($0 as? Errno, .exists)
        }
        XCTAssertEqual(try FileDescriptor.open(directory + "/a", O_RDONLY).closeAfter { 7 }, 7)
    }

    func testDescriptorsAreCloseOnExec() throws {
        let fd = try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
        defer { try? fd.close() }
        XCTAssertNotEqual(fcntl(fd.rawValue, F_GETFD) & FD_CLOEXEC, 0)
    }

    func testReadingAClosedDescriptorFailsWithEBADF() throws {
        let fd = try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
        try fd.close()
        var byte: UInt8 = 0
        XCTAssertThrowsError(try withUnsafeMutableBytes(of: &byte) { try fd.read(into: $0) }) {
            XCTAssertEqual($0 as? Errno, Errno(EBADF))
        }
        XCTAssertThrowsError(try SystemCall.returningCode(EAGAIN)) { XCTAssertEqual($0 as? Errno, .wouldBlock) }
    }
}
