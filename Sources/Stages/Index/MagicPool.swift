internal import CMagic
import Pipeline
import Synchronization  // Atomic

/// libmagic cookies (`magic_t`) for what the built-in sniffer cannot tell. A cookie is not safe to use from two
/// threads at once, so each call borrows one from the pool (or opens a new one, loading the default database,
/// about 10 ms) and gives it back; there are never more cookies than threads that asked at the same time.
final class MagicPool: Sendable {
    /// An owned `magic_t`, closed in `deinit`.
    private final class Cookie {
        let handle: OpaquePointer

        /// Opens a cookie that answers MIME types and loads the default database. The corresponding C functions
        /// are `magic_open` and `magic_load`.
        init?() {
            guard let handle = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS) else { return nil }
            guard magic_load(handle, nil) == 0 else {
                magic_close(handle)
                return nil
            }
            self.handle = handle
        }

        deinit { magic_close(handle) }
    }

    /// Idle cookies. `Cookie` is not Sendable; the mutex hands each one to a single thread at a time.
    private let idle = Locked<[UnsafeSendable<Cookie>]>([])
    /// Set once a cookie could not be opened (no database): later calls answer nil at once.
    private let unavailable = Atomic<Bool>(false)

    /// The MIME type libmagic gives `bytes`, or nil when libmagic is unavailable or answers nothing.
    /// The corresponding C function is `magic_buffer`.
    func mimeType(of bytes: UnsafeRawBufferPointer) -> String? {
        guard !unavailable.load(ordering: .relaxed), !bytes.isEmpty else { return nil }
        let borrowed = idle.withLock { $0.popLast() }
        guard let cookie = borrowed?.value ?? Cookie() else {
            unavailable.store(true, ordering: .relaxed)
            return nil
        }
        defer { idle.withLock { $0.append(UnsafeSendable(cookie)) } }
        guard let answer = magic_buffer(cookie.handle, bytes.baseAddress, bytes.count) else { return nil }
        let mime = String(cString: answer)
        return mime.isEmpty ? nil : mime
    }
}

/// Moves a value confined to one thread at a time across a lock. Safe here because a wrapped cookie is only ever
/// reached through `MagicPool.idle`: `popLast()` under the mutex hands it to exactly one caller, which keeps no
/// reference after putting it back under the mutex, so no two threads ever hold the same cookie.
private struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
