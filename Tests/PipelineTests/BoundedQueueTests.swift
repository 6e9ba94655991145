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
        let accepted = Mutex<Bool?>(nil)
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

        let taken = Mutex<(done: Bool, value: Int?)>((false, nil))
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

    /// The writer gives up on a streamed file while its producer waits to send: the send fails at once and the
    /// producer learns why.
    func testAbandoningAStreamedFileReleasesItsProducer() throws {
        let file = StreamedFile(chunkSize: 16, capacity: 1)
        XCTAssertNotNil(file.emptyBuffer())
        XCTAssertTrue(file.send(.data([UInt8](repeating: 1, count: 16), count: 16)))
        let sent = Mutex<Bool?>(nil)
        let producer = try WorkerThread(name: "test-producer") {
            let result = file.send(.data([UInt8](repeating: 2, count: 16), count: 16))
            sent.withLock { $0 = result }
        }
        usleep(50_000)
        XCTAssertNil(sent.withLock { $0 })
        file.abandon(reason: "cannot write volume: disk full")
        producer.join()
        XCTAssertEqual(sent.withLock { $0 }, false)
        XCTAssertEqual(file.abandonReason, "cannot write volume: disk full")
    }
}
