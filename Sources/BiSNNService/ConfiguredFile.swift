#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens the files that settings and options name (the model, CURVE keys, allow-lists) with checks that keep
/// the service from reading what it should not, or from hanging on it.
///
/// - Every file must be a regular file: a directory, FIFO, socket or device is refused, and a FIFO without
///   blocking on it (the file is opened `O_NONBLOCK` and examined with `fstat` on the opened descriptor, so
///   what is checked is what is read, even if the path is swapped meanwhile).
/// - Key files (``Policy/secret``, ``Policy/trusted``) are opened `O_NOFOLLOW`: a symbolic link is refused, so
///   a key path cannot be redirected to a file elsewhere whose owner and mode were never looked at.
/// - A secret must be the service's alone: owned by the effective user, no permission bits for group or
///   others (mode 0600 or 0400). A trusted file (the allow-list) must be owned by root or the effective user
///   and writable by no one else. Files directly in systemd's credentials directory (`$CREDENTIALS_DIRECTORY`,
///   filled by `LoadCredential=`) are exempt from the owner and mode rules: systemd copies them there readable
///   by the service's user alone (through an ACL, which shows as group permission bits).
/// - Sizes are capped before anything is read.
///
/// A path that cannot be opened under the shipped systemd unit because of where it is (`/home`, `/root` and
/// `/run/user` are hidden by `ProtectHome=yes`; `/tmp` and `/var/tmp` are the service's own, by `PrivateTmp=yes`)
/// gets an error that says so.
public enum ConfiguredFile {
    /// Who besides the service may have access to a file.
    public enum Policy: Sendable, Hashable {
        /// Anyone: a regular file the service can read (the model).
        case regular
        /// No one: a secret key. Not a symbolic link; owned by the effective user; mode 0600 or 0400.
        case secret
        /// Anyone may read, only root or the service may write: an allow-list, a server's public key. Not a
        /// symbolic link; owned by root or the effective user; not writable by group or others.
        case trusted
    }

    /// The environment variable systemd sets to the service's credentials directory.
    public static let credentialsDirectoryVariable = "CREDENTIALS_DIRECTORY"

    /// Reads the whole file at `path` (at most `maxBytes`), after the checks of `policy`. `environment` gives
    /// `$CREDENTIALS_DIRECTORY`.
    public static func read(
        _ path: String, policy: Policy, maxBytes: Int, environment: [String: String]
    ) throws(ConfiguredFileError) -> [UInt8] {
        let fd = try openChecked(path, policy: policy, maxBytes: maxBytes, environment: environment)
        defer { _ = close(fd.descriptor) }
        var bytes = [UInt8](repeating: 0, count: fd.size)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { posixRead(fd.descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfiguredFileError(.unreadable, path: path, "read failed: \(errnoText())")
            }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes[..<filled])
    }

    /// Checks that `path` is a regular file of at most `maxBytes` that can be opened for reading, without reading
    /// it (the model file, which its loader then reads).
    public static func checkRegularFile(
        _ path: String, maxBytes: Int, environment: [String: String]
    ) throws(ConfiguredFileError) {
        let fd = try openChecked(path, policy: .regular, maxBytes: maxBytes, environment: environment)
        _ = close(fd.descriptor)
    }

    /// Whether `path` is directly inside `$CREDENTIALS_DIRECTORY`.
    static func isCredential(_ path: String, environment: [String: String]) -> Bool {
        guard var directory = environment[credentialsDirectoryVariable], directory.hasPrefix("/") else { return false }
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        guard path.hasPrefix(directory + "/") else { return false }
        let name = path.dropFirst(directory.count + 1)
        return !name.isEmpty && !name.contains("/") && name != "." && name != ".."
    }

    /// Opens and examines the file; the descriptor and its size.
    private static func openChecked(
        _ path: String, policy: Policy, maxBytes: Int, environment: [String: String]
    ) throws(ConfiguredFileError) -> (descriptor: Int32, size: Int) {
        var flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
        if policy != .regular { flags |= O_NOFOLLOW }
        let fd = posixOpen(path, flags)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP && policy != .regular {
                throw ConfiguredFileError(
                    .symbolicLink, path: path, "is a symbolic link; name the file itself (key files are not followed "
                        + "through links, so the file whose owner and mode are checked is the one read)")
            }
            throw ConfiguredFileError(.unreadable, path: path, "cannot open: \(errnoText(code))\(placeHint(path))")
        }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let text = errnoText()
            _ = close(fd)
            throw ConfiguredFileError(.unreadable, path: path, "cannot stat: \(text)")
        }
        do throws(ConfiguredFileError) {
            try check(status, path: path, policy: policy, maxBytes: maxBytes, environment: environment)
        } catch {
            _ = close(fd)
            throw error
        }
        return (fd, Int(status.st_size))
    }

    private static func check(
        _ status: stat, path: String, policy: Policy, maxBytes: Int, environment: [String: String]
    ) throws(ConfiguredFileError) {
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG else {
            let what = switch type {
            case S_IFDIR: "a directory"
            case S_IFIFO: "a FIFO"
            case S_IFSOCK: "a socket"
            case S_IFCHR, S_IFBLK: "a device"
            default: "not a regular file"
            }
            throw ConfiguredFileError(.notRegularFile, path: path, "is \(what), not a regular file")
        }
        guard status.st_size <= maxBytes else {
            throw ConfiguredFileError(
                .tooLarge, path: path, "\(status.st_size) bytes; such a file is at most \(maxBytes) bytes")
        }
        guard policy != .regular, !isCredential(path, environment: environment) else { return }
        let user = geteuid()
        let mode = status.st_mode & 0o7777
        let modeText = "mode 0" + String(mode, radix: 8)
        switch policy {
        case .regular:
            return
        case .secret:
            guard status.st_uid == user else {
                throw ConfiguredFileError(
                    .permissions, path: path,
                    "owned by uid \(status.st_uid), not by the service's user (uid \(user)); a secret key must "
                        + "belong to the service alone (chown it, or hand it over with systemd's LoadCredential=)")
            }
            guard mode & 0o077 == 0 else {
                throw ConfiguredFileError(
                    .permissions, path: path,
                    "readable by group or others (\(modeText)); a secret key must be readable by its owner alone "
                        + "(chmod 600)")
            }
        case .trusted:
            guard status.st_uid == user || status.st_uid == 0 else {
                throw ConfiguredFileError(
                    .permissions, path: path,
                    "owned by uid \(status.st_uid), neither root nor the service's user (uid \(user)): its owner could "
                        + "change who is let in")
            }
            guard mode & 0o022 == 0 else {
                throw ConfiguredFileError(
                    .permissions, path: path,
                    "writable by group or others (\(modeText)); only its owner may change it (chmod 644)")
            }
        }
    }

    /// A note for a path the shipped systemd unit hides or privatises, else nothing.
    static func placeHint(_ path: String) -> String {
        let hidden = ["/home/", "/root/", "/run/user/"]
        let private_ = ["/tmp/", "/var/tmp/"]
        if hidden.contains(where: path.hasPrefix) {
            return " (the shipped systemd unit hides /home, /root and /run/user: ProtectHome=yes; keep service files "
                + "under /etc/bisnnd or /usr/local/share/bisnnd)"
        }
        if private_.contains(where: path.hasPrefix) {
            return " (the shipped systemd unit gives the service a private /tmp and /var/tmp: PrivateTmp=yes)"
        }
        return ""
    }

    private static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}

/// `read(2)`, under a name the enum's own `read` does not shadow.
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }

/// `open(2)` without a mode (nothing is created), under a name the enum's methods do not shadow.
private func posixOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
