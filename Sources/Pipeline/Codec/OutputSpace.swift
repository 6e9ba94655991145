/// Lets a C function write straight into the end of an output array.
enum OutputSpace {
    /// Makes room for `room` more bytes at the end of `output` (its capacity grows geometrically), lets `body`
    /// write a prefix of that uninitialised room and return its length, and appends exactly those bytes.
    /// Nothing is zero-filled or copied. Returns the number of bytes appended.
    @inline(__always)
    static func append(
        to output: inout [UInt8], room: Int, _ body: (UnsafeMutablePointer<UInt8>, Int) -> Int
    ) -> Int {
        var written = 0
        output.append(addingCapacity: room) { span in
            span.withUnsafeMutableBufferPointer { buffer, initializedCount in
                written = body(buffer.baseAddress!, room)
                precondition(written >= 0 && written <= room, "C library wrote past the room it was given")
                initializedCount = written
            }
        }
        return written
    }
}
