/// One change an ``Informer`` applied to its store, keyed as the store is (`namespace/name`, or
/// `name` for cluster-scoped objects).
///
/// Applying a change twice has no further effect (an upsert of the same object, a delete of a key
/// that is gone), so a consumer that joins a running informer may see a change both in the
/// snapshot it starts from and again as a change.
public enum InformerChange<Object: Sendable>: Sendable {
    /// The object was added or modified.
    case upsert(key: String, Object)
    /// The object was deleted.
    case delete(key: String)

    public var key: String {
        switch self {
        case .upsert(let key, _), .delete(let key): key
        }
    }
}
