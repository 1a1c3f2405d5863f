#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ServiceConfiguration {
    /// A host of a `host:port` pair: an IPv4 address, a bracketed IPv6 address, a host or interface name, or
    /// (where allowed) `*` for every interface. Checks the syntax only; names are resolved by whoever binds or
    /// connects.
    struct Host: Sendable, Hashable {
        /// The host as written, IPv6 addresses without their brackets.
        var name: String
        /// Whether the name was a bracketed IPv6 address.
        var isIPv6: Bool

        /// Splits `text` into a host and a port 1...65535. `*` is accepted as the host when `allowWildcard`.
        static func parse(hostPort text: String, allowWildcard: Bool) throws(ConfigurationError) -> (Host, Int) {
            func fail(_ why: String) -> ConfigurationError {
                ConfigurationError(.invalidValue, key: nil, why)
            }
            guard let colon = text.lastIndex(of: ":") else {
                throw fail("\"\(text)\" has no port (host:port)")
            }
            let hostText = String(text[..<colon])
            let portText = String(text[text.index(after: colon)...])
            guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let port = Int(portText),
                  (1...65535).contains(port) else {
                throw fail("\"\(text)\": the port must be a number in 1...65535 (got \"\(portText)\")")
            }
            let host: Host
            if hostText.hasPrefix("[") {
                guard hostText.hasSuffix("]"), hostText.count > 2 else {
                    throw fail("\"\(text)\": an IPv6 address goes in brackets, as [::1]:\(port)")
                }
                let address = String(hostText.dropFirst().dropLast())
                guard isIPv6Address(address) else { throw fail("\"\(text)\": \"\(address)\" is not an IPv6 address") }
                host = Host(name: address, isIPv6: true)
            } else if hostText.contains(":") {
                throw fail("\"\(text)\": an IPv6 address goes in brackets, as [\(hostText)]:\(port)")
            } else if hostText == "*" {
                guard allowWildcard else { throw fail("\"\(text)\": * (every interface) is only for binding") }
                host = Host(name: "*", isIPv6: false)
            } else {
                guard isHostName(hostText) else {
                    throw fail("\"\(text)\": \"\(hostText)\" is not an IPv4 address or a host name")
                }
                if hostText.allSatisfy({ $0.isASCIIDigit || $0 == "." }), !isIPv4Address(hostText) {
                    throw fail("\"\(text)\": \"\(hostText)\" is not an IPv4 address")
                }
                host = Host(name: hostText, isIPv6: false)
            }
            return (host, port)
        }

        /// Whether the host is this machine only: `localhost`, 127.0.0.0/8, ::1 or the loopback interface `lo`.
        var isLoopback: Bool {
            if isIPv6 { return name == "::1" || name == "0:0:0:0:0:0:0:1" }
            if name == "localhost" || name == "lo" || name.hasSuffix(".localhost") { return true }
            return Self.isIPv4Address(name) && name.hasPrefix("127.")
        }

        /// The host as it goes before `:port`: IPv6 addresses in brackets.
        var text: String { isIPv6 ? "[\(name)]" : name }

        static func isIPv4Address(_ text: String) -> Bool {
            var address = in_addr()
            return inet_pton(AF_INET, text, &address) == 1
        }

        static func isIPv6Address(_ text: String) -> Bool {
            var address = in6_addr()
            return inet_pton(AF_INET6, text, &address) == 1
        }

        /// Letters, digits, `-`, `_` and `.`-separated labels of 1...63 characters, 253 in all.
        static func isHostName(_ text: String) -> Bool {
            guard !text.isEmpty, text.utf8.count <= 253 else { return false }
            return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            }
        }
    }
}

extension Character {
    /// Whether this is one of the ASCII digits 0-9.
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
