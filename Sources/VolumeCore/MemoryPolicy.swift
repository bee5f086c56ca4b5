#if canImport(Glibc)
import Glibc
#endif

/// How the process reuses memory for volume-sized buffers.
public enum MemoryPolicy {
    /// Serve large allocations from the heap and keep freed memory mapped.
    ///
    /// Volumes, masks and label maps are hundreds of MB and are allocated and freed step after
    /// step. By default glibc maps each such block with mmap and unmaps it on free, so every step
    /// pays again for faulting in and clearing fresh pages: on a 512×512×432 CT that cost more
    /// than the region growing itself (60 ms of page faults for one 113 MB mask). Heap blocks are
    /// reused without new faults. Freed memory then stays with the process, which suits a tool
    /// and a service that handle one study after another. Call once, early in `main`.
    public static func reuseLargeAllocations() {
        #if canImport(Glibc)
        // <malloc.h> is not part of Swift's Glibc module: look mallopt up (C calling convention).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let mmapMax: Int32 = -4, trimThreshold: Int32 = -1  // M_MMAP_MAX, M_TRIM_THRESHOLD
        _ = mallopt(mmapMax, 0)
        _ = mallopt(trimThreshold, Int32.max)
        #endif
    }

    /// Gives memory freed by a finished job back to the system (glibc's malloc_trim): a
    /// long-running service calls it between jobs, so that its resident memory follows its work.
    public static func releaseFreeMemory() {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
