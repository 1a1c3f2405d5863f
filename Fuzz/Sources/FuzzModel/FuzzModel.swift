import BiSNN
import FuzzSupport

/// The whole input is a model file's bytes, parsed in memory (`NetworkModel(safetensors:)`, which
/// `NetworkModel.load(from:)` uses after reading the file).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? NetworkModel(safetensors: bytes, file: "fuzz")
    return 0
}

@_cdecl("FuzzModel_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzz)
}
