/// Runs bytes through a list of transforms in order, handing each output to the next, and the last output to
/// `emit`. Reuses its buffers across chunks, so a file of any size needs only a few chunk-sized buffers.
struct TransformPipeline {
    private(set) var transforms: [(stage: String, transform: any ByteTransform)]
    private var buffers: [[UInt8]]

    init(_ transforms: [(stage: String, transform: any ByteTransform)]) {
        self.transforms = transforms
        self.buffers = Array(repeating: [], count: transforms.count)
    }

    var isEmpty: Bool { transforms.isEmpty }

    /// Pushes one chunk of source bytes through every transform.
    mutating func push(
        _ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try run(from: 0, chunk, finishing: false, emit: emit)
    }

    /// Flushes every transform in order (each flush feeds the transforms after it).
    mutating func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try [UInt8]().withUnsafeBytes { empty in
            try run(from: 0, empty, finishing: true, emit: emit)
        }
    }

    private mutating func run(
        from start: Int, _ input: UnsafeRawBufferPointer, finishing: Bool,
        emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard start < transforms.count else {
            if input.count > 0 { try emit(input) }
            return
        }
        var output: [UInt8] = []
        swap(&output, &buffers[start])
        output.removeAll(keepingCapacity: true)
        defer { swap(&output, &buffers[start]) }
        let (stage, transform) = transforms[start]
        do {
            if input.count > 0 { try transform.process(input, into: &output) }
            if finishing { try transform.finish(into: &output) }
        } catch {
            throw StageFailure(stage: stage, path: [], underlying: error)
        }
        try output.withUnsafeBytes { produced in
            try run(from: start + 1, produced, finishing: finishing, emit: emit)
        }
    }

    /// Metadata the transforms produced (after `finish`).
    var metadata: [String: String] {
        var result: [String: String] = [:]
        for (_, transform) in transforms {
            if let producer = transform as? any StageMetadataProducer {
                result.merge(producer.metadata) { _, new in new }
            }
        }
        return result
    }
}
