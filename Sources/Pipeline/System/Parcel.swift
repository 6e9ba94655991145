import Synchronization

/// A value that is not Sendable, packed for a trip between threads: made from a `sending` value (the sender
/// keeps no reference the compiler would let it use), used in place under its lock, or taken out once as a
/// `sending` value by the receiver. The compiler checks every step; nothing here is `@unchecked`.
///
/// A backup's catalog travels this way from the caller to the catalog thread and back.
package final class Parcel<Value>: Sendable {
    private let slot: Mutex<Value?>

    package init(_ value: sending Value) {
        slot = Mutex(value)
    }

    /// Takes the value out; nil once taken.
    package func take() -> sending Value? {
        slot.withLock { $0.take() }
    }

    /// Runs `body` with the value in place (nil once taken), under the parcel's lock.
    package func withValue<T: Sendable, E: Error>(_ body: (Value?) throws(E) -> T) throws(E) -> T {
        try slot.withLock { (value) throws(E) -> T in try body(value) }
    }
}
