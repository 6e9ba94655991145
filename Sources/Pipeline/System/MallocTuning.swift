internal import CLinux

/// glibc malloc settings, applied once at start-up before any thread exists: what `MALLOC_ARENA_MAX`,
/// `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` would set from the environment (these calls come after
/// glibc read the environment, so they hold whatever it says).
///
/// Measured on a Full backup of 50,000 small files (2 cores, `Benchmarks/memory.sh`): glibc gives every thread
/// that allocates concurrently its own arena (up to 8 per core) and each keeps what its thread freed; the walker,
/// the workers, the writer, the catalog thread and the Python thread all allocate. Two arenas and fixed mmap and
/// trim thresholds took 1–5 MiB off the peak for about 5–10% more CPU; one arena took 5–6 MiB for 15–25% more CPU
/// (every thread on one malloc lock).
package enum MallocTuning {
    /// Arenas shared by all threads.
    package static let arenas: Int32 = 2
    /// Blocks at least this big (batch buffers, read buffers of large files) are mapped on their own and returned to
    /// the system when freed. A fixed value also stops glibc from raising the threshold after the first such free,
    /// which would keep later big buffers in an arena.
    package static let mmapThreshold: Int32 = 256 << 10
    /// Free memory at the top of the heap beyond this is returned to the system.
    package static let trimThreshold: Int32 = 256 << 10

    /// Applies the settings (mallopt returns 0 for a setting it refuses; then glibc's default stays, which is
    /// only more memory, so that is not an error).
    package static func apply() {
        _ = mallopt(M_ARENA_MAX, arenas)
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
        _ = mallopt(M_TRIM_THRESHOLD, trimThreshold)
    }

    /// A plugin process (`Plugin Isolation = process`) runs one plugin and little else, so its heap stays small
    /// and a plugin's 256 KiB buffers (`hashlib.file_digest` allocates one per file) were mapped and unmapped per
    /// file: 20,000 mmap/munmap pairs and 1.3 M page faults for 20,000 files with the checksum-log example, where
    /// the host's busier heap serves them from free chunks. Buffers up to 4 MiB come from the heap here, and up
    /// to 8 MiB of free heap is kept.
    package static func applyForPluginProcess() {
        _ = mallopt(M_MMAP_THRESHOLD, 4 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 8 << 20)
    }
}
