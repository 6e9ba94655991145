import Foundation

/// A directory under the system temporary directory, removed by `remove()` (tests call it in tearDown).
public final class TemporaryDirectory {
    public let url: URL
    public var path: String { url.path }

    public init(prefix: String = "op") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
