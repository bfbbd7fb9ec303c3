import Model
import WAL

extension Target {
    /// The labels a scraped series is stored under: its exposed labels combined with the
    /// target's, with Prometheus's `honor_labels` rules. With `honor_labels: false`, an exposed
    /// label that clashes with a target label is kept as `exported_<name>` (prefixed again while
    /// that name is taken too) and the target's value wins; with `true` the exposed value wins.
    func seriesLabels(exposed: Labels) -> Labels {
        // Without a clash both rules give the union: one sorted merge of the bytes.
        if honorLabels || !Self.shareAName(exposed, labels) {
            return exposed.addingMissing(from: labels)
        }
        var pairs = exposed.pairs
        for targetLabel in labels.pairs {
            if let clash = pairs.firstIndex(where: { $0.name == targetLabel.name }) {
                let exposedValue = pairs[clash].value
                pairs.remove(at: clash)
                var exportedName = "exported_" + targetLabel.name
                while pairs.contains(where: { $0.name == exportedName }) || labels[exportedName] != nil {
                    exportedName = "exported_" + exportedName
                }
                pairs.append(Label(exportedName, exposedValue))
            }
            pairs.append(targetLabel)
        }
        return Labels(pairs)
    }

    /// Whether a label name is in both sets (one walk over the two sorted buffers).
    static func shareAName(_ a: Labels, _ b: Labels) -> Bool {
        a.bytes.withUnsafeBytes { ab in
            b.bytes.withUnsafeBytes { bb in
                var ra = LabelsReader(ab), rb = LabelsReader(bb)
                var x = ra.next(), y = rb.next()
                while let l = x, let r = y {
                    if l.name.elementsEqual(r.name) { return true }
                    if Labels.precedes(l.name, r.name) { x = ra.next() } else { y = rb.next() }
                }
                return false
            }
        }
    }
}
