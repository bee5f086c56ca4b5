import Foundation

/// The database the service's records live in, seen through the few calls the store needs: a
/// read, a write (one transaction), statements with `?` placeholders, rows read by column name.
/// One store (`ServiceStore`) speaks to either SQLite (`SQLiteRecordDatabase`, one machine, the
/// default) or PostgreSQL (`PostgresRecordDatabase`, several nodes), with the same SQL: the
/// statements keep to what both understand (`ON CONFLICT`, `TRUE`/`FALSE`, `CASE`), and the
/// few differences are asked of `dialect`.
public protocol RecordDatabase: Sendable {
    var dialect: RecordDialect { get }
    /// Runs `body` on a connection; what it reads is consistent with itself.
    @discardableResult
    func read<T>(_ body: (RecordConnection) throws -> T) throws -> T
    /// Runs `body` in one transaction: all of its statements take effect, or none.
    @discardableResult
    func write<T>(_ body: (RecordConnection) throws -> T) throws -> T
    /// Waits until a transaction that called `RecordConnection.signalJobs()` has committed (on
    /// any node), or `timeout` seconds. SQLite, one machine: a short sleep (its workers look again).
    func waitForJobs(timeout: Double)
}

public enum RecordDialect: String, Sendable {
    case sqlite, postgres

    /// What a `SELECT` that takes rows for its caller alone ends with: PostgreSQL locks them and
    /// passes over rows another transaction holds; SQLite has one writer, so the write
    /// transaction already makes the claim atomic.
    public var claimSuffix: String { self == .postgres ? " FOR UPDATE SKIP LOCKED" : "" }
}

/// A value bound to a statement or read from a row.
public enum RecordValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case boolean(Bool)
}

/// A Swift value that can be bound to a statement.
public protocol RecordBindable {
    var recordValue: RecordValue { get }
}

/// A Swift value that can be read from a row.
public protocol RecordReadable {
    init?(recordValue: RecordValue)
}

extension String: RecordBindable, RecordReadable {
    public var recordValue: RecordValue { .text(self) }
    public init?(recordValue: RecordValue) {
        switch recordValue {
        case .text(let s): self = s
        case .integer(let i): self = String(i)
        case .real(let d): self = String(d)
        case .boolean(let b): self = b ? "1" : "0"
        case .null: return nil
        }
    }
}

extension Int64: RecordBindable, RecordReadable {
    public var recordValue: RecordValue { .integer(self) }
    public init?(recordValue: RecordValue) {
        switch recordValue {
        case .integer(let i): self = i
        case .real(let d): guard let i = Int64(exactly: d.rounded(.towardZero)) else { return nil }; self = i
        case .text(let s): guard let i = Int64(s) else { return nil }; self = i
        case .boolean(let b): self = b ? 1 : 0
        case .null: return nil
        }
    }
}

extension Int: RecordBindable, RecordReadable {
    public var recordValue: RecordValue { .integer(Int64(self)) }
    public init?(recordValue: RecordValue) {
        guard let i = Int64(recordValue: recordValue) else { return nil }
        self = Int(i)
    }
}

extension Double: RecordBindable, RecordReadable {
    public var recordValue: RecordValue { .real(self) }
    public init?(recordValue: RecordValue) {
        switch recordValue {
        case .real(let d): self = d
        case .integer(let i): self = Double(i)
        case .text(let s): guard let d = Double(s) else { return nil }; self = d
        case .boolean(let b): self = b ? 1 : 0
        case .null: return nil
        }
    }
}

extension Bool: RecordBindable, RecordReadable {
    public var recordValue: RecordValue { .boolean(self) }
    public init?(recordValue: RecordValue) {
        switch recordValue {
        case .boolean(let b): self = b
        case .integer(let i): self = i != 0
        case .real(let d): self = d != 0
        case .text(let s): self = ["t", "true", "1"].contains(s.lowercased())
        case .null: return nil
        }
    }
}

/// A row: its values by column name (names compared without case: PostgreSQL folds unquoted
/// names to lower case, SQLite keeps them as written).
public struct RecordRow: Sendable {
    private var values: [String: RecordValue] = [:]
    /// The values in the columns' order.
    public private(set) var ordered: [RecordValue] = []

    public init(_ columns: [(String, RecordValue)]) {
        for (name, value) in columns where values[name.lowercased()] == nil { values[name.lowercased()] = value }
        ordered = columns.map(\.1)
    }

    public func value(_ column: String) -> RecordValue { values[column.lowercased()] ?? .null }

    public subscript<T: RecordReadable>(_ column: String) -> T? {
        T(recordValue: value(column))
    }

    /// A column the schema makes NOT NULL. A NULL or a value of another kind there means the
    /// database was changed behind the service's back: a programming error, as in GRDB.
    public subscript<T: RecordReadable>(_ column: String) -> T {
        guard let value = T(recordValue: value(column)) else {
            preconditionFailure("the records' column \(column) holds \(value(column)), not a \(T.self)")
        }
        return value
    }
}

/// One connection, inside a read or a write.
public class RecordConnection {
    public let dialect: RecordDialect
    /// Rows changed by the last statement run with `execute`.
    public internal(set) var changesCount = 0

    init(dialect: RecordDialect) {
        self.dialect = dialect
    }

    /// Runs a statement; returns (and keeps in `changesCount`) the rows it changed.
    @discardableResult
    public func execute(sql: String, arguments: [(any RecordBindable)?] = []) throws -> Int {
        fatalError("a connection of a database implements execute")
    }

    public func rows(sql: String, arguments: [(any RecordBindable)?] = []) throws -> [RecordRow] {
        fatalError("a connection of a database implements rows")
    }

    /// Wakes the nodes waiting for jobs (`RecordDatabase.waitForJobs`) once this transaction
    /// commits: PostgreSQL's NOTIFY; nothing on SQLite, whose workers look every 0.2 s.
    public func signalJobs() throws {
        if dialect == .postgres { try execute(sql: "NOTIFY vrprep_jobs") }
    }

    public func row(sql: String, arguments: [(any RecordBindable)?] = []) throws -> RecordRow? {
        try rows(sql: sql, arguments: arguments).first
    }

    /// The first column of each row.
    public func values<T: RecordReadable>(_ type: T.Type, sql: String, arguments: [(any RecordBindable)?] = []) throws -> [T] {
        try rows(sql: sql, arguments: arguments).compactMap { row in row.firstValue.flatMap(T.init(recordValue:)) }
    }

    /// The first column of the first row.
    public func value<T: RecordReadable>(_ type: T.Type, sql: String, arguments: [(any RecordBindable)?] = []) throws -> T? {
        try values(type, sql: sql, arguments: arguments).first
    }
}

extension RecordRow {
    /// The value of the first column.
    var firstValue: RecordValue? { ordered.first }
}

/// A database's refusal: the statement and why.
public struct RecordDatabaseError: Error, CustomStringConvertible {
    public var message: String
    public var sql: String?

    public init(_ message: String, sql: String? = nil) {
        self.message = message
        self.sql = sql
    }

    public var description: String {
        sql.map { "\(message) (in: \($0.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")))" } ?? message
    }
}
