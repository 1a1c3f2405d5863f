import EventStream
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var decoder = NMNISTDecoder()
    fuzzDecoder(&decoder, fuzzBytes(data, size))
    return 0
}

@_cdecl("FuzzNMNIST_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzMain(argc, argv, fuzz)
}
