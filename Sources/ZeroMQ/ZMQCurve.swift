import CZeroMQ

/// CURVE key helpers. Keys are raw 32-byte arrays everywhere in this module; Z85 (40 printable characters) is only
/// the text form for configuration files.
public enum ZMQCurve {
    /// The length of a CURVE public or secret key, in bytes.
    public static let keyLength = 32

    /// Whether this libzmq was built with CURVE support.
    public static var isAvailable: Bool { zmq_has("curve") != 0 }

    /// A fresh key pair, raw bytes.
    public static func keyPair() throws(ZMQError) -> (publicKey: [UInt8], secretKey: [UInt8]) {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try check(zmq_curve_keypair(&publicText, &secretText), "zmq_curve_keypair")
        guard let publicKey = z85Decode(string(publicText)),
            let secretKey = z85Decode(string(secretText))
        else { throw ZMQError(.invalidArgument, operation: "zmq_curve_keypair returned undecodable Z85") }
        return (publicKey, secretKey)
    }

    /// The public key that belongs to a 32-byte secret key (`zmq_curve_public`), raw bytes: a CURVE party needs
    /// only its secret key on disk.
    public static func publicKey(fromSecret secretKey: [UInt8]) throws(ZMQError) -> [UInt8] {
        guard secretKey.count == keyLength, let secretText = z85Encode(secretKey) else {
            throw ZMQError(.invalidArgument, operation: "zmq_curve_public: a secret key is 32 bytes, not \(secretKey.count)")
        }
        var publicText = [CChar](repeating: 0, count: 41)
        try check(zmq_curve_public(&publicText, secretText), "zmq_curve_public")
        guard let publicKey = z85Decode(string(publicText)) else {
            throw ZMQError(.invalidArgument, operation: "zmq_curve_public returned undecodable Z85")
        }
        return publicKey
    }

    /// Decodes Z85 text (a multiple of 5 characters) to bytes; nil if the text is not valid Z85.
    public static func z85Decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 5 == 0, characters.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: characters.count / 5 * 4)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }

    /// Encodes bytes (a multiple of 4) as Z85 text; nil for other lengths.
    public static func z85Encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { return nil }
        return string(text)
    }

    /// The text before the terminating NUL of a C string buffer.
    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
