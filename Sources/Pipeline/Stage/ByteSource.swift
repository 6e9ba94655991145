/// Where a file's bytes come from when a stage took the file over (`bRC_OK`), e.g. a Python plugin's
/// `plugin_io` reads. Called from one thread at a time.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Called once after the last read (also after a failure).
    func close() throws
}

/// Where restored, verified bytes go when a stage took the file over at backup time (`create_file` +
/// `plugin_io` writes for Python plugins). Called from one thread at a time.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Called once after the last write; `success` is false when restore gave up on the file.
    func close(success: Bool) throws
}

/// Metadata a data transform produced while processing one file (merged into the file's catalog record).
public protocol StageMetadataProducer: AnyObject {
    var metadata: [String: String] { get }
}
