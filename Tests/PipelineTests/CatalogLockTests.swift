import Foundation
import XCTest

@testable import Pipeline

final class CatalogLockTests: CatalogTestCase {
    private func lockError(
        _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
    )
        -> LockError?
    {
        do {
            try body()
            XCTFail("expected a LockError", file: file, line: line)
        } catch let error as LockError {
            return error
        } catch {
            XCTFail("expected a LockError, got \(error)", file: file, line: line)
        }
        return nil
    }

    private func assertLocalTime(_ since: String?, file: StaticString = #filePath, line: UInt = #line) {
        let pattern = #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$"#
        XCTAssertNotNil(
            since?.range(of: pattern, options: .regularExpression), "\(since ?? "nil")", file: file, line: line)
    }

    func testSecondAcquireNamesTheHolder() throws {
        let catalog = path("cat.db")
        let lock = try JobLock.acquire(path: catalog, holder: "nightly")
        XCTAssertEqual(lock.lockFile, catalog + ".lock")
        XCTAssertEqual(lock.resource, .catalog)
        XCTAssertTrue(lock.isHeld)

        let error = lockError { _ = try JobLock.acquire(path: catalog, holder: "weekly") }
        XCTAssertEqual(error?.holderJob, "nightly")
        XCTAssertEqual(error?.holderPID, getpid())
        assertLocalTime(error?.holderSince)
        XCTAssertEqual(
            error?.description,
            "catalog \(catalog) is in use by job \"nightly\" (pid \(getpid())) since \(error?.holderSince ?? "")")

        lock.release()
        XCTAssertFalse(lock.isHeld)
        lock.release()  // twice is fine
        let again = try JobLock.acquire(path: catalog, holder: "weekly")
        let content = try String(contentsOfFile: catalog + ".lock", encoding: .utf8)
        XCTAssertTrue(content.hasPrefix("pid=\(getpid())\njob=weekly\nsince="), content)
        again.release()
        XCTAssertEqual(try String(contentsOfFile: catalog + ".lock", encoding: .utf8), "", "emptied on release")
    }

    /// flock locks belong to the open file description: a second open()+flock in this process conflicts.
    func testLockConflictsWithAnotherOpenFileDescription() throws {
        let catalog = path("cat.db")
        let lock = try JobLock.acquire(path: catalog, holder: "nightly")
        let fd = open(catalog + ".lock", O_RDWR)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), -1)
        XCTAssertEqual(errno, EWOULDBLOCK)
        lock.release()
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
        // Now this descriptor holds it, and JobLock reports a holder that wrote nothing.
        let error = lockError { _ = try JobLock.acquire(path: catalog, holder: "weekly") }
        XCTAssertEqual(
            error?.description, "catalog \(catalog) is in use by another job (see \(catalog).lock)")
        XCTAssertEqual(flock(fd, LOCK_UN), 0)
    }

    func testArchiveDirectoryLock() throws {
        let archive = path("archive")
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: false)
        let lock = try JobLock.acquire(path: archive, holder: "nightly \"quoted\"\nnext line")
        XCTAssertEqual(lock.resource, .archive)
        XCTAssertEqual(lock.lockFile, archive + "/.optionhost.lock")
        let error = lockError { _ = try JobLock.acquire(path: archive + "/", holder: "weekly") }
        XCTAssertEqual(error?.resource, .archive)
        XCTAssertEqual(error?.holderJob, "nightly \"quoted\" next line")
        XCTAssertEqual(
            error?.description,
            "archive \(archive)/ is in use by job \"nightly \"quoted\" next line\" (pid \(getpid())) since "
                + (error?.holderSince ?? ""))
        lock.release()
    }

    func testDeinitReleases() throws {
        let catalog = path("cat.db")
        do {
            let lock = try JobLock.acquire(path: catalog, holder: "nightly")
            XCTAssertTrue(lock.isHeld)
        }
        try JobLock.acquire(path: catalog, holder: "weekly").release()
    }

    func testUnopenableLockFile() throws {
        let catalog = path("no/such/dir/cat.db")
        let error = lockError { _ = try JobLock.acquire(path: catalog, holder: "nightly") }
        XCTAssertEqual(error?.description, "cannot lock catalog \(catalog): \(catalog).lock: No such file or directory")
    }

    /// Another process (util-linux `flock`) sees the lock, and gets it once released.
    func testOtherProcessesSeeTheLock() throws {
        let tool = "/usr/bin/flock"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("\(tool) is not installed") }
        func tryLock(_ file: String) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = ["--nonblock", "--exclusive", file, "true"]
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        let catalog = path("cat.db")
        let lock = try JobLock.acquire(path: catalog, holder: "nightly")
        XCTAssertEqual(try tryLock(catalog + ".lock"), 1)
        lock.release()
        XCTAssertEqual(try tryLock(catalog + ".lock"), 0)
    }
}
