import Model
import Testing
@testable import WAL

@Suite struct RefSetTests {
    @Test func behavesLikeASetUnderRandomInsertsAndRemovals() {
        var rng = SystemRandomNumberGenerator()
        var set = RefSet()
        var model = Set<SeriesRef>()
        for step in 0..<20_000 {
            let ref = SeriesRef.random(in: 1...500, using: &rng)
            if Bool.random(using: &rng) {
                #expect(set.insert(ref) == model.insert(ref).inserted)
            } else {
                #expect(set.remove(ref) == (model.remove(ref) != nil))
            }
            if step % 1000 == 0 {
                #expect(set.count == model.count)
                #expect(Set(set) == model)
            }
        }
        for ref in SeriesRef(1)...600 { #expect(set.contains(ref) == model.contains(ref)) }
        set.removeAll()
        #expect(set.isEmpty && !set.contains(1) && Array(set).isEmpty)
    }

    @Test func refsTheLogNeverAssignsAreNotStored() {
        var set = RefSet([0, .max, 7])
        #expect(set.count == 1 && set.contains(7) && !set.contains(0) && !set.contains(.max))
        let removedZero = set.remove(0)
        #expect(!removedZero)
        let removedSeven = set.remove(7)
        #expect(removedSeven && set.isEmpty)
    }
}
