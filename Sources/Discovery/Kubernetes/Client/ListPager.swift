/// The paging of one LIST, as client-go's `tools/pager` does it, without I/O: which request to
/// send next, and what a page or a failure means. ``KubernetesClient`` drives it.
///
/// - The first request asks for `limit` items; each following one carries the `continue` token
///   of the page before it, until a page comes without one.
/// - The result holds the items of every page in order, with the **first** page's resource
///   version: the server reads every page at that version (the token pins it), so the pages
///   together are one consistent snapshot, and a watch from that version misses nothing.
/// - A continued page that fails with 410 (`Expired`: the version was compacted while the pages
///   were being read) starts the list again from the first page; the items gathered so far are
///   dropped. Should the new paged list expire too (the collection takes longer to read than the
///   server keeps versions), the last resort is one unpaged request, which cannot expire halfway
///   (client-go falls back to that at once). A 410 on a first page is the caller's: it is not a
///   paging failure.
///
/// Memory: only the decoded items are kept across pages; each page's body is decoded and
/// dropped before the next is asked for.
struct ListPager<Item: KubernetesResource>: Sendable {
    /// What to ask the server next.
    enum Request: Equatable, Sendable {
        /// `limit=<limit>` and, after the first page, `continue=<token>`.
        case page(limit: Int, continue: String?)
        /// The whole collection in one response (no `limit`).
        case unpaged
    }

    /// How many paged attempts may end in an expired token before the unpaged fallback.
    static var pagedAttempts: Int { 2 }

    /// The request to send next.
    private(set) var next: Request
    private let pageSize: Int?
    private var items: [Item] = []
    private var resourceVersion: String?
    private var expiredAttempts = 0

    /// - Parameter pageSize: Items asked per page; `nil` lists without paging.
    init(pageSize: Int?) {
        self.pageSize = pageSize.map { max(1, $0) }
        next = self.pageSize.map { .page(limit: $0, continue: nil) } ?? .unpaged
    }

    /// Takes the answer to ``next``.
    ///
    /// - Returns: The complete list once the last page arrived, or `nil` when ``next`` now asks
    ///   for the following page.
    mutating func received(_ page: KubernetesList<Item>) -> KubernetesList<Item>? {
        guard case .page(let limit, let token) = next else { return page }
        if token == nil {
            resourceVersion = page.metadata.resourceVersion
            guard let following = page.metadata.continue, !following.isEmpty else { return page }
            let remaining = page.metadata.remainingItemCount.map { max(0, $0) } ?? 0
            items.reserveCapacity(page.items.count + remaining)
        }
        items += page.items
        if let following = page.metadata.continue, !following.isEmpty {
            next = .page(limit: limit, continue: following)
            return nil
        }
        defer { items = [] }
        return KubernetesList(
            metadata: .init(resourceVersion: resourceVersion ?? page.metadata.resourceVersion), items: items)
    }

    /// Takes the failure of ``next``: rethrows it unless it is an expired continue token, after
    /// which ``next`` starts the list again.
    mutating func failed(_ error: KubernetesClientError) throws(KubernetesClientError) {
        guard case .gone = error, case .page(let limit, let token) = next, token != nil else { throw error }
        items = []
        resourceVersion = nil
        expiredAttempts += 1
        next = expiredAttempts < Self.pagedAttempts ? .page(limit: limit, continue: nil) : .unpaged
    }
}
