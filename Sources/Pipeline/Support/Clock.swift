#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock and monotonic time without Foundation.
public enum Clock {
    /// The current wall-clock time.
    public static func realtime() -> FileStat.Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return FileStat.Timestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec))
    }

    /// Seconds on the monotonic clock (for durations).
    public static func monotonic() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// Nanoseconds on the monotonic clock: what job statistics time hooks and threads with (one vDSO call, about
    /// 20-25 ns here, no allocation; engineering notes).
    @inline(__always)
    static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// User + system CPU seconds of this process.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// Peak resident set size of this process in bytes: `VmHWM` of /proc/self/status, the high-water mark of this
    /// program's own memory. Not `getrusage`'s `ru_maxrss`: Linux carries the high-water mark of the memory a
    /// process had before `exec` into it, so an optionhost started by a large parent through `vfork`/`posix_spawn`
    /// (a test runner of 200 MiB) reported the parent's peak as its own. `ru_maxrss` only where /proc is missing.
    public static func peakRSSBytes() -> UInt64 {
        if let status = SelectIO.readWholeFile("/proc/self/status") {
            for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
                let digits = line.dropFirst(6).filter(\.isNumber)
                if let kibibytes = UInt64(digits) { return kibibytes * 1024 }
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return UInt64(usage.ru_maxrss) * 1024
    }
}
