/// A bounds-checked reader of one FlatBuffers table, enough for the few small schemas of AEDAT 4.0.
///
/// Every access is checked against the buffer: offsets that point outside it, vtables that run past its
/// end, strings or vectors longer than the bytes left throw ``FlatBufferTable/Failure`` instead of
/// trapping or reading out of bounds. The reader holds a raw view of bytes it does not own: use it only
/// inside the `withUnsafeBytes` scope that produced the buffer.
struct FlatBufferTable {
    /// Why a FlatBuffer could not be read.
    struct Failure: Error, Sendable, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The whole buffer (without any size prefix); offsets are relative to its start.
    let buffer: UnsafeRawBufferPointer
    /// Byte position of the table (its vtable soffset) in ``buffer``.
    let position: Int
    private let vtable: Int
    private let vtableSize: Int
    private let tableSize: Int

    /// The root table of `buffer` (a buffer that is not size-prefixed).
    init(root buffer: UnsafeRawBufferPointer) throws {
        guard buffer.count >= 8 else { throw Failure("buffer of \(buffer.count) bytes is too short for a root table") }
        let root = Int(Self.u32(buffer, 0))
        try self.init(buffer, at: root)
    }

    /// The table at byte `position` of `buffer`.
    init(_ buffer: UnsafeRawBufferPointer, at position: Int) throws {
        guard position >= 0, buffer.count >= 4, position <= buffer.count - 4 else {
            throw Failure("table offset \(position) is outside the \(buffer.count)-byte buffer")
        }
        let vt = position - Int(Self.i32(buffer, position))
        guard vt >= 0, vt <= buffer.count - 4 else {
            throw Failure("vtable offset \(vt) of the table at \(position) is outside the buffer")
        }
        let vsize = Int(Self.u16(buffer, vt))
        let tsize = Int(Self.u16(buffer, vt + 2))
        guard vsize >= 4, vsize & 1 == 0, vsize <= buffer.count - vt else {
            throw Failure("vtable at \(vt) declares a bad size \(vsize)")
        }
        guard tsize >= 4, tsize <= buffer.count - position else {
            throw Failure("table at \(position) declares \(tsize) bytes, past the end of the buffer")
        }
        self.buffer = buffer
        self.position = position
        vtable = vt
        vtableSize = vsize
        tableSize = tsize
    }

    /// The 4-byte file identifier of a buffer (bytes 4..<8), or nil if the buffer is too short.
    static func identifier(of buffer: UnsafeRawBufferPointer) -> [UInt8]? {
        buffer.count >= 8 ? Array(buffer[4..<8]) : nil
    }

    /// Offset of field `index` inside the table, nil when the field is absent.
    func fieldOffset(_ index: Int) -> Int? {
        let entry = 4 + 2 * index
        guard index >= 0, entry + 2 <= vtableSize else { return nil }
        let o = Int(Self.u16(buffer, vtable + entry))
        return o == 0 ? nil : o
    }

    /// A scalar field (little-endian), or `defaultValue` when absent.
    func scalar<T: FixedWidthInteger>(_ index: Int, default defaultValue: T) throws -> T {
        guard let o = fieldOffset(index) else { return defaultValue }
        guard o <= tableSize - MemoryLayout<T>.size else {
            throw Failure("field \(index) at +\(o) runs past the table at \(position) (\(tableSize) bytes)")
        }
        return T(littleEndian: buffer.loadUnaligned(fromByteOffset: position + o, as: T.self))
    }

    /// Follows the offset stored in field `index` to what it points to (a string, vector or table);
    /// nil when the field is absent. The target is checked to leave at least 4 bytes in the buffer.
    func indirect(_ index: Int) throws -> Int? {
        guard let o = fieldOffset(index) else { return nil }
        guard o <= tableSize - 4 else {
            throw Failure("offset field \(index) at +\(o) runs past the table at \(position)")
        }
        let at = position + o
        let target = at + Int(Self.u32(buffer, at))
        guard target <= buffer.count - 4 else {
            throw Failure("field \(index) points to \(target), outside the \(buffer.count)-byte buffer")
        }
        return target
    }

    /// A string field's bytes (without the terminating NUL), nil when absent.
    func string(_ index: Int) throws -> UnsafeRawBufferPointer? {
        guard let at = try indirect(index) else { return nil }
        let length = Int(Self.u32(buffer, at))
        guard length <= buffer.count - at - 4 else {
            throw Failure("string of field \(index) declares \(length) bytes, past the end of the buffer")
        }
        return UnsafeRawBufferPointer(rebasing: buffer[(at + 4)..<(at + 4 + length)])
    }

    /// A vector of fixed-size structs: its elements' bytes and count, nil when the field is absent.
    func structVector(_ index: Int, elementSize: Int) throws -> (bytes: UnsafeRawBufferPointer, count: Int)? {
        precondition(elementSize > 0)
        guard let at = try indirect(index) else { return nil }
        let count = Int(Self.u32(buffer, at))
        guard count <= (buffer.count - at - 4) / elementSize else {
            throw Failure("vector of field \(index) declares \(count) elements of \(elementSize) bytes, "
                          + "past the end of the \(buffer.count)-byte buffer")
        }
        let start = at + 4
        return (UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count * elementSize)]), count)
    }

    @inline(__always)
    static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }

    @inline(__always)
    static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    @inline(__always)
    static func i32(_ b: UnsafeRawBufferPointer, _ at: Int) -> Int32 {
        Int32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int32.self))
    }
}
