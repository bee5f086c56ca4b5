import Testing
import VolumeCore

@Suite struct GeometryTests {
    @Test func matrixInverseUndoesProduct() throws {
        let m = Matrix3(rows: SIMD3(2, 0.5, 0), SIMD3(0, 1, 0.25), SIMD3(0.1, 0, 3))
        let inverse = try #require(m.inverse)
        #expect((m * inverse).maxDifference(to: .identity) < 1e-12)
        #expect(Matrix3(rows: SIMD3(1, 2, 3), SIMD3(2, 4, 6), SIMD3(0, 0, 1)).inverse == nil)
    }

    @Test func rowMajorMatchesColumns() {
        let m = Matrix3(columns: SIMD3(1, 0, 0), SIMD3(0, 0, -1), SIMD3(0, 1, 0))
        #expect(m.rowMajor == [1, 0, 0, 0, 0, 1, 0, -1, 0])
        #expect(Matrix3(rowMajor: m.rowMajor) == m)
        #expect(m.determinant == 1)
    }

    @Test func indexAndPatientRoundTrip() throws {
        // A coronal grid: rows run toward the feet, slices toward posterior.
        let geometry = VolumeGeometry(dimensions: SIMD3(10, 20, 30), spacing: SIMD3(0.5, 0.75, 2),
                                      origin: SIMD3(-10, 5, 100),
                                      direction: Matrix3(columns: SIMD3(1, 0, 0), SIMD3(0, 0, -1), SIMD3(0, 1, 0)))
        let p = geometry.patientPosition(ofIndex: SIMD3(2, 4, 3))
        #expect(p == SIMD3<Double>(-10 + 1, 5 + 6, 100 - 3))
        let back = try #require(geometry.continuousIndex(ofPatient: p))
        #expect(abs(back.x - 2) < 1e-12 && abs(back.y - 4) < 1e-12 && abs(back.z - 3) < 1e-12)
        #expect(geometry.nearestIndex(ofPatient: p + SIMD3(0.1, 0.1, -0.1)) == SIMD3(2, 4, 3))
        #expect(geometry.voxelVolume == 0.75)
        #expect(geometry.contains(SIMD3(9, 19, 29)) && !geometry.contains(SIMD3(10, 0, 0)))
        let m = geometry.indexToPatientMatrix
        #expect(m[1] == [0, 0, 2, 5])  // y (posterior) grows with k at 2 mm
        #expect(m[2] == [0, -0.75, 0, 100])
    }

    @Test func volumeIndexingIsXFastest() {
        var volume = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(3, 2, 2)), filledWith: 0)
        volume[2, 1, 1] = 7
        #expect(volume.voxels[11] == 7)
        volume[0, 1, 0] = -5
        #expect(volume.voxels[3] == -5)
        #expect(volume.valueRange() == -5...7)
    }
}

@Suite struct ParallelTests {
    @Test(arguments: [1, 2, 3, 8])
    func parallelForVisitsEveryIndexOnce(threads: Int) {
        var hits = [Int](repeating: 0, count: 10_001)
        hits.withUnsafeMutableBufferPointer { buffer in
            let target = UncheckedSendable(buffer)
            parallelFor(0..<10_001, grain: 7, threads: threads) { range in
                for index in range { target.value[index] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    @Test func parallelMapKeepsChunkOrder() {
        let sums = parallelMap(0..<1000, grain: 10, threads: 2) { range in range.reduce(0, +) }
        #expect(sums.reduce(0, +) == 499_500)
        let serial = parallelMap(0..<1000, grain: 10, threads: 1) { range in range.lowerBound }
        #expect(serial == [0])
    }

    @Test func valueRangeIsTheSameWithAnyThreadCount() {
        let values = (0..<3_000_000).map { Float(($0 * 7919) % 100_003) - 50_000 }
        let volume = Volume(geometry: VolumeGeometry(dimensions: SIMD3(3_000_000, 1, 1)), voxels: values)
        #expect(volume.valueRange(threads: 1) == volume.valueRange(threads: 2))
        #expect(volume.valueRange(threads: 2) == -50_000...50_002)
    }
}

@Suite struct VoxelCountTests {
    /// The SIMD count agrees with a plain one: lengths around its 32-voxel blocks and its
    /// 255-block widening, a volume of millions on several threads, a value that is absent.
    @Test(arguments: [0, 1, 31, 32, 33, 8160, 8161, 8192 + 17, 3_000_001])
    func countingAValueMatchesAPlainCount(length: Int) {
        var state: UInt64 = UInt64(length) &+ 7
        let voxels = (0..<length).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 61)  // 0…7
        }
        let volume = Volume(geometry: VolumeGeometry(dimensions: SIMD3(length, 1, 1), spacing: SIMD3(1, 1, 1)), voxels: voxels)
        for value: UInt8 in [0, 3, 7, 200] {
            for threads in [1, 3] {
                #expect(volume.count(of: value, threads: threads) == voxels.filter { $0 == value }.count, "\(value), \(threads) threads")
            }
        }
    }
}

/// Percentiles of a volume's values from a sample: Int16 volumes count a histogram, which must
/// give the very order statistics that sorting the same sample gives.
@Suite struct SampledPercentileTests {
    @Test func int16PercentilesAreTheSortedSamplesOrderStatistics() throws {
        // 3.1 M voxels (a stride of 3 over them), values spread over the whole Int16 range and bunched near zero.
        let g = VolumeGeometry(dimensions: SIMD3(160, 160, 121))
        var state: UInt64 = 11
        let voxels = (0..<g.voxelCount).map { _ -> Int16 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let r = Int(state >> 33)
            return r % 4 == 0 ? Int16(truncatingIfNeeded: r) : Int16(r % 200 - 100)
        }
        let volume = AnyVolume.int16(Volume(geometry: g, voxels: voxels))
        let fractions = [0, 0.01, 0.25, 0.5, 0.995, 1]
        let stride = max(1, g.voxelCount / 1_000_000) | 1
        let sorted = Swift.stride(from: 0, to: g.voxelCount, by: stride).map { Double(voxels[$0]) }.sorted()
        let expected = fractions.map { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * $0))] }
        #expect(try #require(volume.sampledPercentiles(fractions)) == expected)
        #expect(AnyVolume.int16(Volume(geometry: VolumeGeometry(dimensions: SIMD3(1, 1, 1)), voxels: [-7])).sampledPercentiles([0, 0.5, 1]) == [-7, -7, -7])
    }
}
