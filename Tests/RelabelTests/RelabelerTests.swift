import Testing
@testable import Relabel

@Suite struct ReplaceTests {
    static let cases: [RelabelCase] = [
        RelabelCase("defaults copy the source label", ["a": "foo"], [config(source: ["a"], target: "b")],
                    ["a": "foo", "b": "foo"]),
        RelabelCase("static value with no source labels", ["a": "x"], [config(target: "env", replacement: "prod")],
                    ["a": "x", "env": "prod"]),
        RelabelCase("missing source label: empty value deletes the target", ["b": "old"],
                    [config(source: ["a"], target: "b")], [:]),
        RelabelCase("empty replacement deletes the target", ["a": "x", "b": "1"],
                    [config(source: ["a"], regex: "x", target: "b", replacement: "")], ["a": "x"]),
        RelabelCase("no match: no change", ["a": "foo", "b": "1"],
                    [config(source: ["a"], regex: "bar", target: "b", replacement: "2")], ["a": "foo", "b": "1"]),
        RelabelCase("anchored: `a` does not match `ba`", ["a": "ba"],
                    [config(source: ["a"], regex: "a", target: "t", replacement: "hit")], ["a": "ba"]),
        RelabelCase("anchored around alternation: `a|b` does not match `ab`", ["a": "ab"],
                    [config(source: ["a"], regex: "a|b", target: "t", replacement: "hit")], ["a": "ab"]),
        RelabelCase("(?s): `.` matches a newline", ["a": "x\ny"],
                    [config(source: ["a"], regex: "x.(.)", target: "t")], ["a": "x\ny", "t": "y"]),
        RelabelCase("`$` is end of text, not before a final newline", ["a": "x\n"],
                    [config(source: ["a"], regex: "x", target: "t", replacement: "hit")], ["a": "x\n"]),
        RelabelCase("sources joined by the separator", ["a": "1", "b": "2"],
                    [config(source: ["a", "b"], separator: "/", target: "t")], ["a": "1", "b": "2", "t": "1/2"]),
        RelabelCase("missing source in the middle joins as empty", ["a": "1", "c": "3"],
                    [config(source: ["a", "b", "c"], target: "t")], ["a": "1", "c": "3", "t": "1;;3"]),
        RelabelCase("groups in replacement", ["__address__": "10.0.0.1:9100"],
                    [config(source: ["__address__"], regex: "(.+):(\\d+)", target: "host", replacement: "$1 port $2")],
                    ["__address__": "10.0.0.1:9100", "host": "10.0.0.1 port 9100"]),
        RelabelCase("target label expansion ${1}_x", ["a": "foo"],
                    [config(source: ["a"], regex: "(.+)", target: "${1}_x", replacement: "v")], ["a": "foo", "foo_x": "v"]),
        RelabelCase("target label expansion with a named group", ["a": "k=v"],
                    [config(source: ["a"], regex: "(?P<key>\\w+)=(?P<val>\\w+)", target: "${key}", replacement: "$val")],
                    ["a": "k=v", "k": "v"]),
        RelabelCase("legacy: invalid target after expansion: no change", ["a": "1abc", "b": "keep"],
                    [config(source: ["a"], regex: "(.*)", target: "$1", replacement: "x", names: .legacy)], ["a": "1abc", "b": "keep"]),
        RelabelCase("legacy: target with a dash after expansion: no change", ["a": "bad-name"],
                    [config(source: ["a"], target: "$1", replacement: "x", names: .legacy)], ["a": "bad-name"]),
        RelabelCase("UTF-8: a target with a leading digit after expansion is set", ["a": "1abc", "b": "keep"],
                    [config(source: ["a"], regex: "(.*)", target: "$1", replacement: "x")], ["a": "1abc", "b": "keep", "1abc": "x"]),
        RelabelCase("UTF-8: a target with dots after expansion is set", ["a": "service.name"],
                    [config(source: ["a"], target: "$1", replacement: "x")], ["a": "service.name", "service.name": "x"]),
        RelabelCase("empty target after expansion: no change", ["b": "x"],
                    [config(source: ["a"], target: "${1}", replacement: "x")], ["b": "x"]),
        RelabelCase("$1x in target names group `1x`: empty target, no change", ["a": "foo"],
                    [config(source: ["a"], target: "$1x", replacement: "v")], ["a": "foo"]),
        RelabelCase("overwrites an existing label", ["a": "new", "b": "old"],
                    [config(source: ["a"], target: "b")], ["a": "new", "b": "new"]),
        RelabelCase("writes __name__", ["__name__": "up", "job": "node"],
                    [config(source: ["__name__", "job"], separator: "_", target: "__name__")],
                    ["__name__": "up_node", "job": "node"]),
    ]

    @Test(arguments: cases)
    func replace(_ testCase: RelabelCase) {
        testCase.check()
    }
}

/// Go's `Regexp.ExpandString` rules, through `replace`'s replacement on the value "aab"
/// matched by `(a+)(?P<name>b*)`.
@Suite struct ExpansionTests {
    @Test(arguments: [
        ("$1", "aa"),
        ("${1}", "aa"),
        ("$1x", ""),          // group named `1x`: none
        ("${1}x", "aax"),
        ("$2", "b"),
        ("$0", "aab"),
        ("$3", ""),           // no such group
        ("$01", ""),          // leading zero: a name, not a number
        ("$name", "b"),
        ("${name}", "b"),
        ("$name_x", ""),      // group named `name_x`: none
        ("${name}_x", "b_x"),
        ("$$", "$"),
        ("$$1", "$1"),
        ("$$$1", "$aa"),
        ("x$", "x$"),         // trailing `$`: literal
        ("a$-b", "a$-b"),     // `$` without a name: literal
        ("${1", "${1"),       // missing brace: literal
        ("${}", "${}"),       // empty name: literal
        ("$ä", ""),           // a Unicode letter is a name character in Go
        ("<$1|$2>", "<aa|b>"),
        ("plain", "plain"),
        ("$100000000", ""),   // too large to be a number; not a name either
    ])
    func goExpandRules(template: String, expected: String) {
        let step = config(source: ["in"], regex: "(a+)(?P<name>b*)", target: "out", replacement: template)
        let result = Relabeler.process(labels(["in": "aab"]), with: [step])
        #expect(result?["out"] ?? "" == expected)
    }

    @Test func groupThatDidNotParticipateExpandsToEmpty() {
        let step = config(source: ["in"], regex: "(a)|(b)", target: "out", replacement: "[$1][$2]")
        #expect(Relabeler.process(labels(["in": "b"]), with: [step]) == labels(["in": "b", "out": "[][b]"]))
    }
}

@Suite struct FilterTests {
    static let cases: [RelabelCase] = [
        RelabelCase("keep on match", ["job": "node"], [config(.keep, source: ["job"], regex: "node|api")], ["job": "node"]),
        RelabelCase("keep drops on no match", ["job": "db"], [config(.keep, source: ["job"], regex: "node|api")], nil),
        RelabelCase("keep is anchored", ["job": "xnode"], [config(.keep, source: ["job"], regex: "node")], nil),
        RelabelCase("keep with missing label matches empty", ["a": "1"], [config(.keep, source: ["job"], regex: "")], ["a": "1"]),
        RelabelCase("drop on match", ["job": "node"], [config(.drop, source: ["job"], regex: "no.e")], nil),
        RelabelCase("drop keeps on no match", ["job": "api"], [config(.drop, source: ["job"], regex: "node")], ["job": "api"]),
        RelabelCase("drop with default regex drops everything", ["a": "1"], [config(.drop, source: ["a"])], nil),
        RelabelCase("drop with joined sources", ["a": "x", "b": "y"], [config(.drop, source: ["a", "b"], regex: "x;y")], nil),
        RelabelCase("keepequal keeps when equal", ["a": "x", "b": "x"], [config(.keepequal, source: ["a"], target: "b")],
                    ["a": "x", "b": "x"]),
        RelabelCase("keepequal drops when different", ["a": "x", "b": "y"], [config(.keepequal, source: ["a"], target: "b")], nil),
        RelabelCase("keepequal: both missing are equal", ["c": "1"], [config(.keepequal, source: ["a"], target: "b")], ["c": "1"]),
        RelabelCase("keepequal compares the joined value", ["a": "1", "b": "2", "c": "1;2"],
                    [config(.keepequal, source: ["a", "b"], target: "c")], ["a": "1", "b": "2", "c": "1;2"]),
        RelabelCase("keepequal compares bytes, not canonical equivalence", ["a": "\u{E9}", "b": "e\u{301}"],
                    [config(.keepequal, source: ["a"], target: "b")], nil),
        RelabelCase("dropequal drops when equal", ["a": "x", "b": "x"], [config(.dropequal, source: ["a"], target: "b")], nil),
        RelabelCase("dropequal keeps when different", ["a": "x", "b": "y"], [config(.dropequal, source: ["a"], target: "b")],
                    ["a": "x", "b": "y"]),
    ]

    @Test(arguments: cases)
    func filter(_ testCase: RelabelCase) {
        testCase.check()
    }
}

@Suite struct HashModTests {
    /// Expected values computed as Prometheus does, with Python:
    /// `int.from_bytes(hashlib.md5(value).digest()[8:], "big") % modulus`.
    @Test(arguments: [
        (["instance": "10.0.0.1:9100"], ["instance"], UInt64(8), "5"),
        (["a": "foo"], ["a"], 1000, "696"),
        (["a": "bar"], ["a"], 1_000_000, "679922"),
        (["a": "a", "b": "b"], ["a", "b"], 7, "2"),
        (["x": "1"], ["a"], 1000, "958"),                        // missing source: md5("")
        (["a": "foo"], ["a", "b"], 1000, "92"),                  // "foo;"
        (["a": "été"], ["a"], 97, "37"),
        (["a": String(repeating: "x", count: 100)], ["a"], 1 << 63, "7299307477690304434"),
        (["a": "foo"], ["a"], 1, "0"),
    ])
    func hashmod(input: [String: String], source: [String], modulus: UInt64, expected: String) {
        let step = config(.hashmod, source: source, modulus: modulus, target: "__tmp_hash")
        let result = Relabeler.process(labels(input), with: [step])
        #expect(result?["__tmp_hash"] == expected)
        #expect(result?.count == input.count + 1)
    }
}

@Suite struct LabelMapTests {
    static let cases: [RelabelCase] = [
        RelabelCase("kubernetes pod labels",
                    ["__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "fe", "job": "k8s"],
                    [config(.labelmap, regex: "__meta_kubernetes_pod_label_(.+)")],
                    ["__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "fe", "job": "k8s",
                     "app": "web", "tier": "fe"]),
        RelabelCase("replacement template",
                    ["__meta_kubernetes_pod_label_app": "web"],
                    [config(.labelmap, regex: "__meta_kubernetes_pod_label_(.+)", replacement: "k8s_${1}")],
                    ["__meta_kubernetes_pod_label_app": "web", "k8s_app": "web"]),
        RelabelCase("overwrites an existing label",
                    ["__meta_x_app": "new", "app": "old"], [config(.labelmap, regex: "__meta_x_(.+)")],
                    ["__meta_x_app": "new", "app": "new"]),
        RelabelCase("anchored: a name merely containing the pattern is not mapped",
                    ["x__meta_a": "1"], [config(.labelmap, regex: "__meta_(.+)")], ["x__meta_a": "1"]),
        RelabelCase("collision: the later label in Prometheus order wins",
                    ["a_x": "1", "b_x": "2"], [config(.labelmap, regex: "[ab]_(.+)")],
                    ["a_x": "1", "b_x": "2", "x": "2"]),
        RelabelCase("labels added by earlier steps are visited after the original ones",
                    ["b_x": "2"],
                    [config(source: ["b_x"], target: "a_x", replacement: "1"), config(.labelmap, regex: "[ab]_(.+)")],
                    ["a_x": "1", "b_x": "2", "x": "1"]),
        RelabelCase("an empty mapped name is skipped",
                    ["pre_": "1", "pre_a": "2"], [config(.labelmap, regex: "pre_(.*)")],
                    ["pre_": "1", "pre_a": "2", "a": "2"]),
    ]

    @Test(arguments: cases)
    func labelmap(_ testCase: RelabelCase) {
        testCase.check()
    }
}

@Suite struct LabelDropKeepTests {
    static let cases: [RelabelCase] = [
        RelabelCase("labeldrop by pattern", ["__meta_a": "1", "__meta_b": "2", "job": "j"],
                    [config(.labeldrop, regex: "__meta_.*")], ["job": "j"]),
        RelabelCase("labeldrop is anchored", ["job": "j", "jobs": "k"], [config(.labeldrop, regex: "job")], ["jobs": "k"]),
        RelabelCase("labeldrop with no match", ["job": "j"], [config(.labeldrop, regex: "x")], ["job": "j"]),
        RelabelCase("labelkeep keeps only matching names", ["__name__": "up", "job": "j", "pod": "p", "instance": "i"],
                    [config(.labelkeep, regex: "__name__|job|instance")], ["__name__": "up", "job": "j", "instance": "i"]),
        RelabelCase("labelkeep matching nothing leaves an empty set", ["a": "1"], [config(.labelkeep, regex: "b")], [:]),
    ]

    @Test(arguments: cases)
    func labeldropAndLabelkeep(_ testCase: RelabelCase) {
        testCase.check()
    }
}

@Suite struct CaseTests {
    static let cases: [RelabelCase] = [
        RelabelCase("lowercase", ["a": "FooBAR-1"], [config(.lowercase, source: ["a"], target: "b")], ["a": "FooBAR-1", "b": "foobar-1"]),
        RelabelCase("uppercase", ["a": "FooBar-1"], [config(.uppercase, source: ["a"], target: "b")], ["a": "FooBar-1", "b": "FOOBAR-1"]),
        RelabelCase("lowercase in place", ["a": "ABC"], [config(.lowercase, source: ["a"], target: "a")], ["a": "abc"]),
        RelabelCase("lowercase joined sources", ["a": "A", "b": "B"], [config(.lowercase, source: ["a", "b"], target: "c")],
                    ["a": "A", "b": "B", "c": "a;b"]),
        RelabelCase("missing source deletes the target", ["b": "x"], [config(.uppercase, source: ["a"], target: "b")], [:]),
        RelabelCase("uppercase keeps ß (Go's simple case mapping)", ["a": "straße"],
                    [config(.uppercase, source: ["a"], target: "a")], ["a": "STRAßE"]),
        RelabelCase("lowercase of İ is i (Go's simple case mapping)", ["a": "İSTANBUL"],
                    [config(.lowercase, source: ["a"], target: "a")], ["a": "istanbul"]),
        RelabelCase("Unicode letters", ["a": "ÉtÉ Ωμέγα"], [config(.lowercase, source: ["a"], target: "a")], ["a": "été ωμέγα"]),
        RelabelCase("uppercase of ᾳ is ᾼ (simple mapping)", ["a": "ᾳ"], [config(.uppercase, source: ["a"], target: "a")], ["a": "ᾼ"]),
    ]

    @Test(arguments: cases)
    func lowercaseAndUppercase(_ testCase: RelabelCase) {
        testCase.check()
    }
}

@Suite struct ChainTests {
    static let cases: [RelabelCase] = [
        RelabelCase("no configs: unchanged", ["a": "1"], [], ["a": "1"]),
        RelabelCase("a later step sees an earlier step's label", ["__address__": "h:1"],
                    [config(source: ["__address__"], regex: "(.+):.*", target: "host"),
                     config(.keep, source: ["host"], regex: "h")],
                    ["__address__": "h:1", "host": "h"]),
        RelabelCase("hashmod sharding: keep shard 5 of 8", ["instance": "10.0.0.1:9100"],
                    [config(.hashmod, source: ["instance"], modulus: 8, target: "__tmp_hash"),
                     config(.keep, source: ["__tmp_hash"], regex: "5"),
                     config(.labeldrop, regex: "__tmp_.*")],
                    ["instance": "10.0.0.1:9100"]),
        RelabelCase("hashmod sharding: drop other shards", ["instance": "10.0.0.1:9100"],
                    [config(.hashmod, source: ["instance"], modulus: 8, target: "__tmp_hash"),
                     config(.keep, source: ["__tmp_hash"], regex: "3")], nil),
        RelabelCase("a drop stops the chain", ["a": "1"],
                    [config(.drop, source: ["a"], regex: "1"), config(target: "b", replacement: "x")], nil),
        RelabelCase("a deleted label reads as missing", ["a": "1", "b": "2"],
                    [config(.labeldrop, regex: "a"), config(source: ["a", "b"], target: "c")],
                    ["b": "2", "c": ";2"]),
        RelabelCase("set, then delete, then set again", ["a": "1"],
                    [config(target: "b", replacement: "x"), config(.labeldrop, regex: "b"),
                     config(source: ["a"], target: "b")],
                    ["a": "1", "b": "1"]),
        RelabelCase("kubernetes discovery", ["__meta_kubernetes_namespace": "prod", "__meta_kubernetes_pod_name": "web-1",
                                             "__meta_kubernetes_pod_label_app": "web", "__address__": "10.1.2.3:8080"],
                    [config(.keep, source: ["__meta_kubernetes_namespace"], regex: "prod|staging"),
                     config(.labelmap, regex: "__meta_kubernetes_pod_label_(.+)"),
                     config(source: ["__meta_kubernetes_namespace"], target: "namespace"),
                     config(source: ["__meta_kubernetes_pod_name"], target: "pod"),
                     config(.labeldrop, regex: "__meta_.*")],
                    ["__address__": "10.1.2.3:8080", "app": "web", "namespace": "prod", "pod": "web-1"]),
    ]

    @Test(arguments: cases)
    func chain(_ testCase: RelabelCase) {
        testCase.check()
    }

    @Test func unchangedLabelsComeBackAsIs() {
        let input = labels(["__name__": "up", "job": "node"])
        let steps = [config(.keep, source: ["job"], regex: "node"), config(source: ["missing"], regex: "x", target: "t")]
        #expect(Relabeler.process(input, with: steps) == input)
    }
}
