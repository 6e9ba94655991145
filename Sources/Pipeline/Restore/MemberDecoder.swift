/// The open volumes of one thread: one ``PaxReader`` per volume, opened on first use. Volume paths are looked up
/// before any thread starts, so no thread touches the catalog.
struct VolumeReaders {
    let paths: [Int64: String]
    private var readers: [Int64: PaxReader] = [:]

    init(paths: [Int64: String]) {
        self.paths = paths
    }

    mutating func reader(volume volumeID: Int64?, job: JobID) throws -> PaxReader {
        guard let volumeID else { throw RestoreError("the catalog names no volume for this entry") }
        if let reader = readers[volumeID] { return reader }
        guard let path = paths[volumeID] else {
            throw RestoreError("volume \(volumeID) of JobId \(job.rawValue) is not in the catalog")
        }
        let reader = try PaxReader(path: path)
        readers[volumeID] = reader
        return reader
    }

    mutating func reader(for record: FileRecord) throws -> PaxReader {
        try reader(volume: record.volumeID, job: record.jobID)
    }

    /// The member a catalog row points at, refused when the catalog has no valid offset for it.
    mutating func member(of record: FileRecord) throws -> (PaxReader, VolumeMember, MemberLocation) {
        let reader = try reader(for: record)
        let (member, location) = try reader.member(at: try MemberDecoder.offset(record), ourRecords: false)
        return (reader, member, location)
    }
}

/// Turns a stored member back into the original bytes: the inverse data stages in reverse order, or a sparse
/// member's segments with its holes as zeros, hashing what comes out. One per thread (it owns a digester).
struct MemberDecoder {
    let builder: StageChainBuilder
    let chunkSize: Int
    let cancellation: CancellationFlag
    private let digester: Digester

    /// - Throws: `DigestError` when libcrypto cannot give this thread a SHA-256 state.
    init(builder: StageChainBuilder, chunkSize: Int, cancellation: CancellationFlag) throws(DigestError) {
        digester = try Digester(.sha256)
        self.builder = builder
        self.chunkSize = chunkSize
        self.cancellation = cancellation
    }

    /// Stored bytes handed to the inverse stages at a time: small pieces bound their output (gzip expands up
    /// to ~1000x).
    static let decodePiece = 16 << 10
    static let zeros = [UInt8](repeating: 0, count: 65536)

    /// The member's header offset, refused when the catalog has none or a negative one.
    static func offset(_ record: FileRecord) throws -> UInt64 {
        guard let offset = record.headerOffset, offset >= 0 else {
            throw RestoreError("the catalog has no valid volume offset for this entry")
        }
        return UInt64(offset)
    }

    /// Runs the stored bytes of a file through the inverse stages, calling `body` with the original bytes in
    /// order with their offset in the file, and returns their SHA-256. With `holes`, a sparse member's holes are
    /// not delivered (only hashed): the caller leaves them unwritten.
    func decode(
        _ record: FileRecord, reader: PaxReader, member: VolumeMember, location: MemberLocation,
        context: StageContext, holes: Bool = false, _ body: (UnsafeRawBufferPointer, UInt64) throws -> Void
    ) throws -> [UInt8] {
        let compression = record.compression.flatMap(CompressionStage.parse)
        let inverse =
            record.chain.isEmpty && compression == nil
            ? []
            : try builder.chain(for: record.chain, compression: compression).inverseTransforms(
                for: RestoreItem(record), context: context)
        var pipeline = DataPath(transforms: inverse)
        digester.reset()
        var logical: UInt64 = 0
        func deliver(_ bytes: UnsafeRawBufferPointer) throws {
            digester.update(bytes)
            try body(bytes, logical)
            logical += UInt64(bytes.count)
        }
        // A sparse member holds only its data segments: the holes come back as zeros, in order.
        let segments = pipeline.isEmpty ? member.sparse.map { layout in layout.segments.filter { $0.length > 0 } } : nil
        var segmentIndex = 0
        var segmentUsed: UInt64 = 0
        func zeros(upTo offset: UInt64) throws {
            while logical < offset {
                let take = Int(min(offset - logical, UInt64(MemberDecoder.zeros.count)))
                try MemberDecoder.zeros.withUnsafeBytes { all in
                    let piece = UnsafeRawBufferPointer(rebasing: all[0..<take])
                    if holes {
                        digester.update(piece)
                        logical += UInt64(take)
                    } else {
                        try deliver(piece)
                    }
                }
            }
        }
        try reader.readData(of: member, at: location, chunkSize: chunkSize) { stored in
            if cancellation.isCancelled { throw RestoreError("cancelled") }
            if let segments {
                var consumed = 0
                while consumed < stored.count {
                    let segment = segments[segmentIndex]
                    try zeros(upTo: segment.offset + segmentUsed)
                    let take = Int(min(UInt64(stored.count - consumed), segment.length - segmentUsed))
                    try deliver(UnsafeRawBufferPointer(rebasing: stored[consumed..<(consumed + take)]))
                    consumed += take
                    segmentUsed += UInt64(take)
                    if segmentUsed == segment.length {
                        segmentIndex += 1
                        segmentUsed = 0
                    }
                }
            } else if pipeline.isEmpty {
                try deliver(stored)
            } else {
                var start = 0
                while start < stored.count {
                    let end = min(stored.count, start + MemberDecoder.decodePiece)
                    try pipeline.push(UnsafeRawBufferPointer(rebasing: stored[start..<end]), emit: deliver)
                    start = end
                }
            }
        }
        try pipeline.finish(emit: deliver)
        if let sparse = member.sparse, segments != nil { try zeros(upTo: sparse.realSize) }
        return try digester.finalize()
    }
}
