/// The release of the bisnn tools and service.
public enum BisnnVersion {
    public static let current = "0.1.0"
}
