import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CURVE key files: text, one key a line as its 40 Z85 characters (ZeroMQ's text form of a 32-byte key);
/// blank lines and `#` comments (lines starting with `#`, or after the key and a space) are ignored. (Z85 has `#`
/// among its characters, but never first in a key: it is the last digit, and 2^32 < 84 x 85^4.)
///
/// - A secret key file (`security.curve.secret_key_file`, `bisnn ... --curve-key`) holds exactly one key and
///   is read as a ``ConfiguredFile/Policy/secret``: the service's (or user's) alone, mode 0600 or 0400.
/// - A public key file (`--curve-server-key`) holds exactly one key; an allow-list
///   (`security.curve.allowed_clients_file`) any number (repeats count once). Both are
///   ``ConfiguredFile/Policy/trusted``: anyone may read them, only their owner (root or the user) may write.
///
/// `bisnn keygen --out PREFIX` writes `PREFIX.key` and `PREFIX.pub` (``writeKeyPair(secretKey:publicKey:prefix:)``).
public enum CurveKeyFile {
    /// The largest secret or public key file: a key, a newline and some comment.
    public static let maxKeyFileBytes = 4096
    /// The largest allow-list: about 20,000 keys.
    public static let maxListBytes = 1 << 20

    /// The secret key in the file at `path` (raw 32 bytes).
    public static func secretKey(at path: String, environment: [String: String]) throws(ConfiguredFileError) -> [UInt8] {
        let bytes = try ConfiguredFile.read(path, policy: .secret, maxBytes: maxKeyFileBytes, environment: environment)
        return try single(keys(in: bytes, path: path), path: path, what: "secret key")
    }

    /// The public key in the file at `path` (raw 32 bytes).
    public static func publicKey(at path: String, environment: [String: String]) throws(ConfiguredFileError) -> [UInt8] {
        let bytes = try ConfiguredFile.read(path, policy: .trusted, maxBytes: maxKeyFileBytes, environment: environment)
        return try single(keys(in: bytes, path: path), path: path, what: "public key")
    }

    /// The public keys listed in the file at `path`, in file order without repeats; an empty list is allowed.
    public static func keyList(at path: String, environment: [String: String]) throws(ConfiguredFileError) -> [[UInt8]] {
        let bytes = try ConfiguredFile.read(path, policy: .trusted, maxBytes: maxListBytes, environment: environment)
        var seen: Set<[UInt8]> = []
        return try keys(in: bytes, path: path).filter { seen.insert($0).inserted }
    }

    /// The keys of a key file's text, one a line; an error names the first line that is not a key.
    static func keys(in bytes: [UInt8], path: String) throws(ConfiguredFileError) -> [[UInt8]] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfiguredFileError(.malformed, path: path, "is not text (UTF-8)")
        }
        var keys: [[UInt8]] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            // A word that decodes as a key is one; only other words may open a comment.
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let word = words.first else { continue }
            let key = word.utf8.count == 40 ? ZMQCurve.z85Decode(String(word)) : nil
            if let key, key.count == ZMQCurve.keyLength, words.count == 1 || words[1].hasPrefix("#") {
                keys.append(key)
            } else if key != nil || !word.hasPrefix("#") {
                throw ConfiguredFileError(
                    .malformed, path: path,
                    "line \(index + 1): not a CURVE key (40 Z85 characters, as `bisnn keygen` writes them, then "
                        + "at most a `#` comment)")
            }
        }
        return keys
    }

    private static func single(_ keys: [[UInt8]], path: String, what: String) throws(ConfiguredFileError) -> [UInt8] {
        guard keys.count == 1 else {
            throw ConfiguredFileError(
                .malformed, path: path, "holds \(keys.count) keys; a \(what) file holds exactly one")
        }
        return keys[0]
    }

    /// Writes a key pair as `PREFIX.key` (the secret, mode 0600) and `PREFIX.pub` (the public key, mode 0644),
    /// each a Z85 line. Neither may exist: files are created exclusively (`O_EXCL`, never through a symbolic
    /// link), so an existing key is never overwritten. Returns the two paths.
    public static func writeKeyPair(
        secretKey: [UInt8], publicKey: [UInt8], prefix: String
    ) throws(ConfiguredFileError) -> (secretPath: String, publicPath: String) {
        guard let secretText = ZMQCurve.z85Encode(secretKey), let publicText = ZMQCurve.z85Encode(publicKey),
            secretKey.count == ZMQCurve.keyLength, publicKey.count == ZMQCurve.keyLength
        else { throw ConfiguredFileError(.malformed, path: prefix, "keys are 32 bytes") }
        let secretPath = prefix + ".key", publicPath = prefix + ".pub"
        var status = stat()
        if lstat(publicPath, &status) == 0 {
            throw ConfiguredFileError(.exists, path: publicPath, "exists already; keys are never overwritten")
        }
        try create(secretPath, contents: secretText + "\n", mode: 0o600)
        do throws(ConfiguredFileError) {
            try create(publicPath, contents: publicText + "\n", mode: 0o644)
        } catch {
            unlink(secretPath)
            throw error
        }
        return (secretPath, publicPath)
    }

    /// Creates `path` exclusively with `contents` and exactly `mode`.
    private static func create(_ path: String, contents: String, mode: mode_t) throws(ConfiguredFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw ConfiguredFileError(.exists, path: path, "exists already; keys are never overwritten")
            }
            throw ConfiguredFileError(.unreadable, path: path, "cannot create: \(String(cString: strerror(code)))")
        }
        defer { _ = close(fd) }
        let bytes = Array(contents.utf8)
        let failed = fchmod(fd, mode) != 0 || bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } != bytes.count
        if failed {
            let why = String(cString: strerror(errno))
            unlink(path)
            throw ConfiguredFileError(.unreadable, path: path, "cannot write: \(why)")
        }
    }
}
