import Foundation

/// Ports for test servers.
public enum Ports {
    /// A TCP port nobody listens on now, below Linux's ephemeral range (32768–60999), so that no
    /// outgoing connection of another test can be holding it the moment a server binds it.
    public static func free() -> Int {
        for _ in 0..<100 {
            let port = Int.random(in: 20000..<32768)
            if canBind(port) { return port }
        }
        return Int.random(in: 20000..<32768)
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = INADDR_ANY
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
