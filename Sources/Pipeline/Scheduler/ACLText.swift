internal import CACL

#if canImport(Glibc)
import Glibc
#endif

/// POSIX ACLs in the comma-separated text form GNU tar keeps in `SCHILY.acl.access` / `SCHILY.acl.default`.
/// The one place that calls libacl.
enum ACLText {
    /// The ACL of `path` as text, nil when it has none beyond the mode bits (or cannot be read).
    static func read(_ path: [UInt8], defaultACL: Bool) -> String? {
        FileReader.withCPath(path) { cPath -> String? in
            guard let acl = acl_get_file(cPath, defaultACL ? acl_type_t(ACL_TYPE_DEFAULT) : acl_type_t(ACL_TYPE_ACCESS))
            else { return nil }
            defer { acl_free(UnsafeMutableRawPointer(acl)) }
            if defaultACL {
                if acl_entries(acl) <= 0 { return nil }
            } else if acl_equiv_mode(acl, nil) == 0 {
                return nil  // only user/group/other entries: the mode bits say it all
            }
            guard let text = acl_to_any_text(acl, nil, CChar(UInt8(ascii: ",")), 0) else { return nil }
            defer { acl_free(UnsafeMutableRawPointer(text)) }
            return String(cString: text)
        }
    }

    /// Sets an ACL from its text form; returns the system's error text on failure.
    static func apply(_ text: String, to path: [UInt8], defaultACL: Bool) -> String? {
        guard let acl = acl_from_text(text) else { return "invalid ACL text \"\(text)\"" }
        defer { acl_free(UnsafeMutableRawPointer(acl)) }
        let result = FileReader.withCPath(path) { cPath in
            acl_set_file(cPath, defaultACL ? acl_type_t(ACL_TYPE_DEFAULT) : acl_type_t(ACL_TYPE_ACCESS), acl)
        }
        return result == 0 ? nil : String(cString: strerror(errno))
    }

    /// Sets the access ACL of an open file from its text form; returns the system's error text on failure.
    static func apply(_ text: String, toFD fd: Int32) -> String? {
        guard let acl = acl_from_text(text) else { return "invalid ACL text \"\(text)\"" }
        defer { acl_free(UnsafeMutableRawPointer(acl)) }
        return acl_set_fd(fd, acl) == 0 ? nil : String(cString: strerror(errno))
    }
}
