import Foundation
@testable import Service
import Testing
import TestSupport

/// The records are one SQLite file that other processes open too (`vrprep token create` beside a
/// running service): a write waits for another process's lock instead of failing at once.
@Suite struct StoreLockTests {
    @Test func aWriteWaitsForAnotherProcessHoldingTheLock() throws {
        let data = try Fixtures.temporaryFolder("store-lock")
        defer { try? FileManager.default.removeItem(at: data) }
        _ = try ServiceStore(data: data)  // the file and its tables
        // Another process takes the write lock and holds it for 1.5 s.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(1.5)
            db.execute("COMMIT")
            """, data.appendingPathComponent("vrprep.sqlite").path]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { holder.waitUntilExit() }
        #expect(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        let started = Date()
        let store = try ServiceStore(data: data)
        let token = try store.createToken(role: .submitter, name: "while locked")
        #expect(!token.isEmpty && Date().timeIntervalSince(started) > 0.5, "the write did not wait for the lock")
    }
}
