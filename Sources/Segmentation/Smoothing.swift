import Foundation
import VolumeCore

/// Gaussian smoothing with a standard deviation in millimetres (separable, per-axis kernels
/// that follow the spacing; edges replicated).
public enum Smoothing {
    public static func gaussian(_ volume: Volume<Float>, sigmaMM: Double, threads: Int? = nil) -> Volume<Float> {
        guard sigmaMM > 0 else { return volume }
        let d = volume.dimensions
        var values = volume.voxels
        var scratch = values
        for axis in 0..<3 {
            let sigma = sigmaMM / volume.spacing[axis]
            let radius = min(d[axis], Int(saturating: (3 * sigma).rounded(.up)))
            guard radius >= 1, d[axis] > 1 else { continue }
            var kernel: [Float] = (-radius...radius).map { (offset: Int) -> Float in
                let x = Double(offset)
                return Float(exp(-x * x / (2 * sigma * sigma)))
            }
            let total = kernel.reduce(0, +)
            kernel = kernel.map { $0 / total }
            let grid = GridLines(d, axis: axis)
            let (length, stride) = (grid.length, grid.stride)
            values.withUnsafeBufferPointer { input in
                scratch.withUnsafeMutableBufferPointer { output in
                    let (source, target) = (UncheckedSendable(input), UncheckedSendable(output))
                    parallelFor(0..<grid.count, grain: 64, threads: threads) { range in
                        for line in range {
                            let start = grid.start(line)
                            for n in 0..<length {
                                var sum: Float = 0
                                for (offset, weight) in kernel.enumerated() {
                                    let m = min(max(n + offset - radius, 0), length - 1)
                                    sum += weight * source.value[start + m * stride]
                                }
                                target.value[start + n * stride] = sum
                            }
                        }
                    }
                }
            }
            swap(&values, &scratch)
        }
        return Volume(geometry: volume.geometry, voxels: values)
    }
}
