/// Checks on member and catalog names before restore uses them as paths.
enum MemberName {
    /// Validates a member or catalog name for restore: relative, no "." or ".." components, no empty components
    /// (so no "//" and no trailing "/"), no NUL byte. Returns the components.
    static func safeComponents(_ name: [UInt8]) throws(VolumeError) -> [[UInt8]] {
        func refuse(_ why: String) -> VolumeError {
            VolumeError(path: "", message: "unsafe member name \(display(name)): \(why)")
        }
        if name.isEmpty { throw refuse("it is empty") }
        if name.first == PaxFormat.slash { throw refuse("it is absolute") }
        if name.contains(0) { throw refuse("it contains a NUL byte") }
        var components: [[UInt8]] = []
        for component in name.split(separator: PaxFormat.slash, omittingEmptySubsequences: false) {
            if component.isEmpty { throw refuse("it has an empty component") }
            if component.count == 1 && component.first == PaxFormat.dot { throw refuse("it has a \".\" component") }
            if component.count == 2 && component.allSatisfy({ $0 == PaxFormat.dot }) {
                throw refuse("it has a \"..\" component")
            }
            components.append(Array(component))
        }
        return components
    }

    /// A name for messages: printable ASCII as is, other bytes as `\xHH`, in double quotes.
    static func display(_ name: [UInt8]) -> String {
        var text = "\""
        for byte in name {
            if byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "\"") {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text + "\""
    }
}
