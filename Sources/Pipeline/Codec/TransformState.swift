/// Where a ``ByteTransform`` is in its life: open, finished, or failed (a C stream cannot resume after an error).
enum TransformState {
    case open
    case finished
    case failed

    /// Throws unless the transform is open; `codec` names it in the message.
    func checkOpen(_ codec: String) throws(CodecError) {
        switch self {
        case .open: return
        case .finished: throw CodecError(message: "\(codec): used after finish")
        case .failed: throw CodecError(message: "\(codec): used after an earlier error")
        }
    }
}
