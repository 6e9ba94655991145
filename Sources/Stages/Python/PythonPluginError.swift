import BareosFD

/// What went wrong in a Python plugin: every failure of a call into CPython is turned into one of these, here
/// and nowhere else (the C side reports an `opfd_status` and a text).
enum PythonPluginError: Error, Sendable, CustomStringConvertible {
    /// Python could not be started (libpython missing, no standard library at the executable's prefix).
    case unavailable(String)
    /// The module could not be imported (traceback).
    case importFailed(module: String, traceback: String)
    /// An entry point raised (traceback).
    case exception(function: String, traceback: String)
    /// An entry point returned None or a non-int.
    case badReturn(function: String, detail: String)
    /// An entry point set a packet field that cannot be used (flags, read buffer, status).
    case badPacket(function: String, detail: String)
    /// An entry point the host needs is missing or not callable.
    case missing(function: String)
    /// An entry point answered a return code that means failure here.
    case returned(function: String, code: Int)
    /// The sub-interpreter or a call could not be set up.
    case host(String)
    /// A call did not return within the Job's Plugin Call Timeout; the job is aborted.
    case timeout(call: String, seconds: Double)
    /// An earlier call never returned, so Python cannot run anything else in this process.
    case wedged(String)
    /// The plugin called `os._exit`: the host refused to end the process for it, and the job fails.
    case exited(call: String, traceback: String)

    var description: String {
        switch self {
        case .unavailable(let text): return "Python is not available: \(text)"
        case .importFailed(let module, let traceback):
            return "cannot import module \"\(module)\":\n\(traceback.trimmingTrailingNewlines)"
        case .exception(let function, let traceback):
            return "\(function) raised an exception:\n\(traceback.trimmingTrailingNewlines)"
        case .badReturn(let function, let detail), .badPacket(let function, let detail):
            // The module's text names the entry point already ("plugin_io: IO_READ returned ...").
            let entryPoint = function.prefix { $0 != "(" }
            return detail.hasPrefix(entryPoint) ? detail : "\(function): \(detail)"
        case .missing(let function): return "the plugin has no callable \(function)"
        case .returned(let function, let code):
            return "\(function) returned \(PythonPluginError.returnCodeName(code))"
        case .host(let text): return text
        case .timeout(let call, let seconds):
            return "\(call) did not return within \(PythonPluginError.seconds(seconds)) (Plugin Call Timeout); "
                + "the job is aborted"
        case .wedged(let call):
            return "Python is blocked by an earlier call that never returned (\(call))"
        case .exited(let call, let traceback):
            let last = traceback.trimmingTrailingNewlines.split(separator: "\n").last.map(String.init) ?? ""
            return "\(call) called os._exit, which would have ended the process; the job fails instead (\(last))"
        }
    }

    /// Turns a non-`OPFD_DONE` status of a call of `function` into an error.
    static func from(_ status: opfd_status, function: String, error: inout opfd_error) -> PythonPluginError {
        let text = error.text.map { String(cString: $0) } ?? ""
        opfd_error_clear(&error)
        switch status {
        case OPFD_MISSING: return .missing(function: function)
        case OPFD_EXCEPTION: return .exception(function: function, traceback: text)
        case OPFD_BAD_RETURN: return .badReturn(function: function, detail: text)
        case OPFD_BAD_PACKET: return .badPacket(function: function, detail: text)
        default: return .host(text.isEmpty ? "\(function): the call could not be made" : text)
        }
    }

    /// `bRC_Error (2)` for the codes of python-fd §4.1, the bare number otherwise.
    static func returnCodeName(_ code: Int) -> String {
        let names = [
            0: "bRC_OK", 1: "bRC_Stop", 2: "bRC_Error", 3: "bRC_More", 4: "bRC_Term", 5: "bRC_Seen", 6: "bRC_Core",
            7: "bRC_Skip", 8: "bRC_Cancel",
        ]
        return names[code].map { "\($0) (\(code))" } ?? "\(code), which is no bRC_* value"
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

extension String {
    fileprivate var trimmingTrailingNewlines: String {
        var result = self
        while result.last == "\n" { result.removeLast() }
        return result
    }
}
