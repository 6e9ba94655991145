import Pipeline
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Small stages for tests of the chain, the scheduler and restore. Not shipped in the product.

/// XORs every byte with a key: a reversible "encrypting" data stage with metadata.
public final class XORStage: Stage {
    public let name: String
    public let key: UInt8
    public let isEncrypting: Bool

    public init(name: String = "xor", key: UInt8 = 0x5A, encrypting: Bool = true) {
        self.name = name
        self.key = key
        self.isEncrypting = encrypting
    }

    /// XORs every byte with `key`; its metadata is `describe(bytes so far)`.
    final class Transform: ByteTransform, StageMetadataProducer {
        let key: UInt8
        let describe: (Int) -> [String: String]
        var count = 0
        init(key: UInt8, describe: @escaping (Int) -> [String: String] = { ["xor.bytes": String($0)] }) {
            self.key = key
            self.describe = describe
        }
        func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
            for byte in input { output.append(byte ^ key) }
            count += input.count
        }
        func finish(into output: inout [UInt8]) throws {}
        var metadata: [String: String] { describe(count) }
    }

    public func makeTransform(for item: FileItem, context: StageContext) throws -> (any ByteTransform)? {
        Transform(key: key)
    }

    public func makeInverseTransform(for item: RestoreItem, context: StageContext) throws -> (any ByteTransform)? {
        Transform(key: key)
    }
}

/// Skips entries whose path ends with a suffix (Bareos `bRC_Skip`).
public final class SkipStage: Stage {
    public let name: String
    let suffix: [UInt8]

    public init(name: String = "skip", suffix: String) {
        self.name = name
        self.suffix = Array(suffix.utf8)
    }

    public func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision {
        item.path.count >= suffix.count && Array(item.path.suffix(suffix.count)) == suffix
            ? .skip(reason: "ends with \(String(decoding: suffix, as: UTF8.self))") : .core
    }
}

/// Fails (throws) for paths containing a marker.
public final class FailingStage: Stage {
    public let name: String
    let marker: [UInt8]

    public init(name: String = "failing", marker: String) {
        self.name = name
        self.marker = Array(marker.utf8)
    }

    public func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision {
        if item.path.firstRange(of: marker) != nil {
            throw StageFailure(stage: name, path: item.path, message: "refused by test stage")
        }
        return .core
    }
}

/// Takes regular files over (`bRC_OK`): its byte source reads the file and upper-cases ASCII letters; at restore
/// it gets the verified bytes and writes them, lower-cased back, to `outputPath` itself.
public final class TakeOverStage: Stage {
    public let name: String

    public init(name: String = "takeover") { self.name = name }

    public func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision {
        guard item.kind == .file else { return .core }
        item.metadata["takeover.took"] = "yes"
        return .takeOver
    }

    final class Source: ByteSource {
        let fd: Int32
        init(path: [UInt8]) throws {
            fd = path.withUnsafeBufferPointer { buffer in
                let cPath = buffer.map { CChar(bitPattern: $0) } + [0]
                return open(cPath, O_RDONLY)
            }
            if fd < 0 { throw StageFailure(stage: "takeover", path: path, message: "cannot open") }
        }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            for index in 0..<max(count, 0) where buffer[index] >= 0x61 && buffer[index] <= 0x7A { buffer[index] -= 32 }
            return count
        }
        func close() throws { Glibc.close(fd) }
    }

    public func openSource(for item: FileItem, context: StageContext) throws -> any ByteSource {
        try Source(path: item.path)
    }

    final class Sink: ByteSink {
        let fd: Int32
        init(path: [UInt8]) throws {
            fd = path.withUnsafeBufferPointer { buffer in
                let cPath = buffer.map { CChar(bitPattern: $0) } + [0]
                return open(cPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            }
            if fd < 0 { throw StageFailure(stage: "takeover", path: path, message: "cannot create") }
        }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            let lowered = bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }
            _ = lowered.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        }
        func close(success: Bool) throws { Glibc.close(fd) }
    }

    public func openRestoreSink(
        for item: RestoreItem, outputPath: [UInt8], context: StageContext
    ) throws -> (any ByteSink)? {
        guard item.metadata["takeover.took"] == "yes" else { return nil }
        // The harness test writes next to the final name; parent directories exist (restore created them).
        return try Sink(path: outputPath)
    }
}

/// A spy: records every event and every path it was offered, answers `.core`.
public final class RecordingStage: Stage {
    public let name: String
    public let needsWalkOrder: Bool
    /// The first entry offered waits 100 ms before it is recorded (to show what walk order guarantees).
    private let slowFirst: Bool
    private let state = Locked<([JobEvent], [[UInt8]])>(([], []))
    private let started = Atomic<Bool>(false)

    public init(name: String = "recording", needsWalkOrder: Bool = false, slowFirst: Bool = false) {
        self.name = name
        self.needsWalkOrder = needsWalkOrder
        self.slowFirst = slowFirst
    }

    public var events: [JobEvent] { state.withLock { $0.0 } }
    public var offered: [[UInt8]] { state.withLock { $0.1 } }

    public func handle(_ event: JobEvent, context: StageContext) throws {
        state.withLock { $0.0.append(event) }
    }

    public func decide(_ item: inout FileItem, context: StageContext) throws -> StageDecision {
        let path = item.path
        if slowFirst && !started.exchange(true, ordering: .relaxed) { usleep(100_000) }
        state.withLock { $0.1.append(path) }
        return .core
    }
}

/// A factory for tests: `xor`, `xor:plain` (not encrypting), `observe`, `observe:nobytes`, `broken:MARKER`, `keyed`, `skip:SUFFIX`, `failing:MARKER`, `takeover`,
/// `recording`, `recording:slow`, `recording:ordered`; the same string gives the same instance within one factory (as the real registry does per job).
public final class TestStageFactory: Sendable {
    private let made = Locked<[String: any Stage]>([:])

    public init() {}

    public func stage(_ string: String) throws -> any Stage {
        if let stage = made.withLock({ $0[string] }) { return stage }
        let name = PluginString.name(string)
        let argument = string.firstIndex(of: ":").map { String(string[string.index(after: $0)...]) } ?? ""
        let stage: any Stage
        switch name {
        case "xor": stage = XORStage(name: string, encrypting: argument != "plain")
        case "skip": stage = SkipStage(name: string, suffix: argument)
        case "failing": stage = FailingStage(name: string, marker: argument)
        case "takeover": stage = TakeOverStage(name: string)
        case "keyed": stage = KeyedXORStage(name: string)
        case "broken": stage = BrokenTransformStage(name: string, marker: argument)
        case "observe": stage = ObservingStage(name: string, needsBytes: argument != "nobytes")
        case "recording":
            // `recording:slow` waits at its first entry; `recording:ordered` does too, and needs walk order.
            stage = RecordingStage(
                name: string, needsWalkOrder: argument == "ordered", slowFirst: argument == "slow" || argument == "ordered")
        default: throw StageFailure(stage: string, path: [], message: "unknown test stage")
        }
        made.withLock { $0[string] = stage }
        return stage
    }

    public var factory: StageChainBuilder.Factory {
        { [self] string in try self.stage(string) }
    }

    public func made(_ string: String) -> (any Stage)? { made.withLock { $0[string] } }
}

/// An observing stage (the role of checksum and index): records, per path, the SHA-256 of the bytes it saw, the
/// digest the host handed to `finish`, its placement, and abandoned files. `observe:nobytes` asks for no bytes.
public final class ObservingStage: Stage {
    public struct Seen: Sendable, Equatable {
        public var bytesSHA256: [UInt8]?
        public var hostSHA256: [UInt8]?
        public var bytesObserved: UInt64
        public var placement: ObserverPlacement
        public var abandoned: String?
    }

    public let name: String
    public let needsBytes: Bool
    private let seen = Locked<[[UInt8]: Seen]>([:])

    public init(name: String = "observe", needsBytes: Bool = true) {
        self.name = name
        self.needsBytes = needsBytes
    }

    /// What the stage saw of each path so far.
    public var files: [[UInt8]: Seen] { seen.withLock { $0 } }

    final class Observer: ByteObserver {
        let stage: ObservingStage
        let path: [UInt8]
        let placement: ObserverPlacement
        let digester = try! Digester(.sha256)
        let needsBytes: Bool
        init(stage: ObservingStage, path: [UInt8], placement: ObserverPlacement) {
            self.stage = stage
            self.path = path
            self.placement = placement
            self.needsBytes = stage.needsBytes
        }
        func observe(_ bytes: UnsafeRawBufferPointer) { digester.update(bytes) }
        func finish(_ file: ObservedFile) throws -> ObserverResult {
            let seen = Seen(
                bytesSHA256: needsBytes ? try digester.finalize() : nil, hostSHA256: file.sourceSHA256,
                bytesObserved: file.bytesObserved, placement: placement, abandoned: nil)
            stage.seen.withLock { $0[path] = seen }
            return ObserverResult(metadata: ["\(stage.name).bytes": String(file.bytesObserved)])
        }
        func abandon(reason: String) {
            let seen = Seen(bytesSHA256: nil, hostSHA256: nil, bytesObserved: 0, placement: placement, abandoned: reason)
            stage.seen.withLock { $0[path] = seen }
        }
    }

    public func makeObserver(
        for item: FileItem, placement: ObserverPlacement, context: StageContext
    ) throws -> (any ByteObserver)? {
        Observer(stage: self, path: item.path, placement: placement)
    }
}

/// A transform that fails for paths containing a marker (a stage error in the data path, after the observers).
public final class BrokenTransformStage: Stage {
    public let name: String
    let marker: [UInt8]

    public init(name: String = "broken", marker: String) {
        self.name = name
        self.marker = Array(marker.utf8)
    }

    final class Transform: ByteTransform {
        func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
            throw CodecError(message: "test transform fails")
        }
        func finish(into output: inout [UInt8]) throws {}
    }

    public func makeTransform(for item: FileItem, context: StageContext) throws -> (any ByteTransform)? {
        item.path.firstRange(of: marker) != nil ? Transform() : nil
    }
}

/// An "encrypting" stage with a job key, the shape of `gpg`: at a backup's start it draws a key byte and keeps it
/// with the job (`recordJobData`); files are XORed with it, members end in `.kx`, the metadata `keyed.mode` is known
/// before the data and `keyed.bytes` after it; restore reads the key back from the job's data.
public final class KeyedXORStage: Stage {
    public let name: String
    public var isEncrypting: Bool { true }
    public var memberSuffix: String? { ".kx" }
    /// Like gpg: one inverse transform per file from a job key behind a lock.
    public var restoresConcurrently: Bool { true }
    private let key = Locked<UInt8?>(nil)

    public init(name: String = "keyed") { self.name = name }

    public func handle(_ event: JobEvent, context: StageContext) throws {
        guard event == .jobStarted, context.mode == .backup else { return }
        let drawn = UInt8.random(in: 1...255)
        key.withLock { $0 = drawn }
        context.recordJobData(key: "keyed.key", value: [drawn])
    }

    /// The XOR of `XORStage`: `keyed.mode` is known before the data, `keyed.bytes` only after it.
    private static func transform(key: UInt8) -> XORStage.Transform {
        XORStage.Transform(key: key) { count in
            count == 0 ? ["keyed.mode": "xor"] : ["keyed.mode": "xor", "keyed.bytes": String(count)]
        }
    }

    public func makeTransform(for item: FileItem, context: StageContext) throws -> (any ByteTransform)? {
        guard let key = key.withLock({ $0 }) else { throw StageFailure(stage: name, path: item.path, message: "no key") }
        return KeyedXORStage.transform(key: key)
    }

    public func makeInverseTransform(for item: RestoreItem, context: StageContext) throws -> (any ByteTransform)? {
        guard item.metadata["keyed.mode"] == "xor" else {
            throw StageFailure(stage: name, path: item.path, message: "no keyed.mode in the metadata")
        }
        guard let key = context.jobData(job: item.jobID, key: "keyed.key")?.first else {
            throw StageFailure(stage: name, path: item.path, message: "no key kept with JobId \(item.jobID)")
        }
        return KeyedXORStage.transform(key: key)
    }
}
