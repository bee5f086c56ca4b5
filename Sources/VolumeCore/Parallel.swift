import Dispatch
import Foundation

/// How many threads kernels use by default: `VRPREP_THREADS` if set, else all cores.
public enum Parallelism {
    public static var defaultThreadCount: Int {
        if let text = ProcessInfo.processInfo.environment["VRPREP_THREADS"], let n = Int(text), n > 0 {
            return n
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }
}

/// Splits `range` into chunks of at least `grain` elements and calls `body` on each chunk,
/// on up to `threads` threads (default: `Parallelism.defaultThreadCount`; 1 = serial, in order,
/// on the calling thread). Chunk boundaries depend only on the range, grain and thread count.
public func parallelFor(_ range: Range<Int>, grain: Int = 1, threads: Int? = nil,
                        _ body: (Range<Int>) -> Void) {
    let workers = max(1, threads ?? Parallelism.defaultThreadCount)
    let chunks = chunkRanges(range, grain: grain, threads: workers)
    if chunks.count <= 1 || workers == 1 {
        chunks.forEach(body)
        return
    }
    // Worker w takes chunks w, w + workers, …: at most `workers` threads, no shared counter.
    let active = min(workers, chunks.count)
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: active) { worker in
            for index in stride(from: worker, to: chunks.count, by: active) { box.value(chunks[index]) }
        }
    }
}

/// Like `parallelFor`, returning each chunk's result in chunk order (for reductions).
public func parallelMap<T>(_ range: Range<Int>, grain: Int = 1, threads: Int? = nil,
                           _ body: (Range<Int>) -> T) -> [T] {
    let chunks = chunkRanges(range, grain: grain, threads: threads ?? Parallelism.defaultThreadCount)
    var results = [T?](repeating: nil, count: chunks.count)
    results.withUnsafeMutableBufferPointer { out in
        let target = UncheckedSendable(out)
        parallelFor(0..<chunks.count, threads: threads) { indices in
            for index in indices { target.value[index] = body(chunks[index]) }
        }
    }
    return results.map { $0! }
}

/// Chunks for `threads` workers: about four chunks per thread for load balance, none
/// smaller than `grain`.
func chunkRanges(_ range: Range<Int>, grain: Int, threads: Int) -> [Range<Int>] {
    guard !range.isEmpty else { return [] }
    let workers = max(1, threads)
    if workers == 1 { return [range] }
    let wanted = workers * 4
    let size = max(max(1, grain), (range.count + wanted - 1) / wanted)
    return stride(from: range.lowerBound, to: range.upperBound, by: size).map {
        $0..<min($0 + size, range.upperBound)
    }
}

/// Wraps a value whose concurrent use the caller makes safe (disjoint writes, read-only data).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
