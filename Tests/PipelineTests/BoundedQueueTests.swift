import PipelineTestSupport
import Synchronization
import XCTest

@testable import Pipeline

final class BoundedQueueTests: XCTestCase {
    func testItemsComeOutInTheOrderTheyWentIn() {
        let queue = BoundedQueue<Int>(capacity: 3)
        for round in 0..<4 {
            for value in 0..<3 { XCTAssertTrue(queue.put(round * 10 + value)) }
            XCTAssertEqual((0..<3).map { _ in queue.take() }, [round * 10, round * 10 + 1, round * 10 + 2])
        }
    }

    func testCloseLetsTakersDrainThenGivesNilAndRefusesPuts() {
        let queue = BoundedQueue<String>(capacity: 2)
        queue.put("a")
        queue.close()
        XCTAssertTrue(queue.isClosed)
        XCTAssertFalse(queue.put("b"))
        XCTAssertEqual(queue.take(), "a")
        XCTAssertNil(queue.take())
        XCTAssertNil(queue.take())
    }

    func testAPutWaitsForRoomAndCloseReleasesBlockedThreads() throws {
        let queue = BoundedQueue<Int>(capacity: 1)
        queue.put(1)
        let accepted = Locked<Bool?>(nil)
        let putter = try WorkerThread(name: "test-put") {
            let result = queue.put(2)  // outside the mutex the test reads
            accepted.withLock { $0 = result }
        }
        usleep(50_000)
        XCTAssertNil(accepted.withLock { $0 }, "the put waits while the queue is full")
        XCTAssertEqual(queue.take(), 1)
        putter.join()
        XCTAssertEqual(accepted.withLock { $0 }, true)
        XCTAssertEqual(queue.take(), 2)

        let taken = Locked<(done: Bool, value: Int?)>((false, nil))
        let taker = try WorkerThread(name: "test-take") {
            let value = queue.take()
            taken.withLock { $0 = (true, value) }
        }
        usleep(50_000)
        XCTAssertFalse(taken.withLock { $0.done }, "the take waits while the queue is empty")
        queue.close()
        taker.join()
        XCTAssertTrue(taken.withLock { $0.done })
        XCTAssertNil(taken.withLock { $0.value })
    }

    func testManyProducersAndConsumersLoseNothing() throws {
        let queue = BoundedQueue<Int>(capacity: 4)
        let total = Atomic<Int>(0)
        let count = Atomic<Int>(0)
        let consumers = try (0..<3).map { index in
            try WorkerThread(name: "test-c\(index)") {
                while let value = queue.take() {
                    total.add(value, ordering: .relaxed)
                    count.add(1, ordering: .relaxed)
                }
            }
        }
        let producers = try (0..<4).map { index in
            try WorkerThread(name: "test-p\(index)") { for value in 1...1000 { queue.put(value) } }
        }
        for producer in producers { producer.join() }
        queue.close()
        for consumer in consumers { consumer.join() }
        XCTAssertEqual(count.load(ordering: .relaxed), 4000)
        XCTAssertEqual(total.load(ordering: .relaxed), 4 * 500_500)
    }

    /// The writer gives up on a streamed file while its producer waits for a buffer: the wait ends at once and
    /// the producer learns why.
    func testAbandoningAStreamedFileReleasesItsProducer() throws {
        let file = StreamedFile(chunkSize: 16, buffers: 2, spillDirectory: "/nonexistent-spill-directory")
        XCTAssertFalse(file.canSpill())
        XCTAssertNotNil(file.freeBuffer())
        XCTAssertNotNil(file.freeBuffer())
        XCTAssertNil(file.freeBuffer(), "at most `buffers` chunk buffers")
        let waited = Locked<(done: Bool, got: Bool)>((false, false))
        let producer = try WorkerThread(name: "test-producer") {
            let buffer = file.waitForBuffer()
            waited.withLock { $0 = (true, buffer != nil) }
        }
        usleep(50_000)
        XCTAssertFalse(waited.withLock { $0.done }, "the producer waits for a buffer")
        file.abandon(reason: "cannot write volume: disk full")
        producer.join()
        XCTAssertEqual(waited.withLock { $0.got }, false)
        XCTAssertEqual(file.abandonReason, "cannot write volume: disk full")
        XCTAssertFalse(file.send(.failed(message: "late", stage: nil)))
    }

    /// With every buffer taken the producer goes on into the spill file; the writer gets the bytes in order, a
    /// run of spilled chunks as one range.
    func testAProducerAheadOfItsTurnSpillsAndTheWriterReadsTheBytesInOrder() throws {
        let directory = try TemporaryDirectory(prefix: "spill")
        defer { directory.remove() }
        let file = StreamedFile(chunkSize: 4, buffers: 2, spillDirectory: directory.path)
        var first = try XCTUnwrap(file.freeBuffer())
        first.replaceSubrange(0..<4, with: [1, 2, 3, 4])
        XCTAssertTrue(file.send(.data(first, count: 4)))
        XCTAssertNotNil(file.freeBuffer())
        XCTAssertNil(file.freeBuffer())
        XCTAssertTrue(file.canSpill())
        try [UInt8]([5, 6, 7]).withUnsafeBytes { try file.spill($0) }
        try [UInt8]([8, 9]).withUnsafeBytes { try file.spill($0) }
        XCTAssertTrue(file.send(.failed(message: "end", stage: nil)))
        guard case .data(let buffer, let count)? = file.next() else { return XCTFail("data first") }
        XCTAssertEqual(Array(buffer[0..<count]), [1, 2, 3, 4])
        guard case .spilled(let offset, let length)? = file.next() else { return XCTFail("then one spilled range") }
        XCTAssertEqual([offset, length], [0, 5])
        var bytes = [UInt8](repeating: 0, count: 5)
        XCTAssertEqual(try bytes.withUnsafeMutableBytes { try file.readSpilled(at: offset, into: $0) }, 5)
        XCTAssertEqual(bytes, [5, 6, 7, 8, 9])
        guard case .failed(let message, _)? = file.next() else { return XCTFail("then the end") }
        XCTAssertEqual(message, "end")
    }
}
