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
