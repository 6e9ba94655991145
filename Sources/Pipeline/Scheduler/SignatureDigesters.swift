/// The digest states one thread keeps for `Signature =` algorithms other than SHA-256 (which reuses the source
/// digest): made on first use, reused file after file.
struct SignatureDigesters {
    private var states: [DigestAlgorithm: Digester] = [:]

    /// The state for `algorithm`, reset by the caller's first `update`; nil for no signature or SHA-256.
    /// - Throws: `DigestError` when libcrypto cannot make one (the configuration check already refused
    ///   algorithms this host lacks, so this is an allocation failure).
    mutating func digester(for algorithm: DigestAlgorithm?) throws(DigestError) -> Digester? {
        guard let algorithm, algorithm != .sha256 else { return nil }
        if let state = states[algorithm] { return state }
        let state = try Digester(algorithm)
        states[algorithm] = state
        return state
    }
}
