//! Property: any two histories written (as PostgreSQL writes them) from one random tree of
//! promotions give the fork the tree says, both through pg_rewind's comparison of the parsed
//! files and through the timeline graph built from all of them.

use proptest::prelude::*;
use walparse::{
    common_ancestor, tli_of_point, GraphFinding, Lsn, TimeLineId, TimelineGraph, TimelineHistory,
    TimelineKey,
};

#[derive(Clone, Debug)]
struct Node {
    tli: TimeLineId,
    begin: Lsn,
    parent: Option<usize>,
    /// The file PostgreSQL would have written for this timeline (none for the root).
    text: String,
}

/// Builds the tree: node 0 is timeline 1; promotion `i` branches off node `parent % (i + 1)`
/// after `delta` units of WAL. With `shared_numbering` every new timeline takes the next free
/// number (one archive shared by all servers); without, a child takes its parent's number + 1, so
/// independent promotions reuse numbers. Begins are unique (the low bits carry the promotion
/// index), so every timeline is a distinct (tli, begin).
fn tree(promotions: &[(usize, u64)], shared_numbering: bool) -> Vec<Node> {
    let mut nodes = vec![Node {
        tli: 1,
        begin: Lsn::INVALID,
        parent: None,
        text: String::new(),
    }];
    for (i, &(parent, delta)) in promotions.iter().enumerate() {
        let p = parent % nodes.len();
        let pn = nodes[p].clone();
        let begin = Lsn((((pn.begin.0 >> 5) + delta) << 5) | (i as u64 + 1));
        let tli = if shared_numbering {
            nodes.len() as TimeLineId + 1
        } else {
            pn.tli + 1
        };
        // writeTimeLineHistory: the parent's file, a newline if there was one, then our line.
        let sep = if pn.parent.is_some() { "\n" } else { "" };
        let text = format!(
            "{}{sep}{}\t{}\tno recovery target specified\n",
            pn.text, pn.tli, begin
        );
        nodes.push(Node {
            tli,
            begin,
            parent: Some(p),
            text,
        });
    }
    nodes
}

fn path(nodes: &[Node], mut i: usize) -> Vec<usize> {
    let mut p = vec![i];
    while let Some(parent) = nodes[i].parent {
        p.push(parent);
        i = parent;
    }
    p.reverse();
    p
}

fn spans_of(nodes: &[Node], i: usize) -> Vec<walparse::TliSpan> {
    TimelineHistory::parse(nodes[i].tli, nodes[i].text.as_bytes())
        .unwrap()
        .spans()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fork_of_any_two_histories_is_the_tree_fork(
        promotions in prop::collection::vec((0usize..64, 1u64..1_000_000), 0..15),
        shared_numbering in any::<bool>(),
        a_pick in 0usize..64,
        b_pick in 0usize..64,
    ) {
        let nodes = tree(&promotions, shared_numbering);
        let (a, b) = (a_pick % nodes.len(), b_pick % nodes.len());
        let (pa, pb) = (path(&nodes, a), path(&nodes, b));
        let k = pa.iter().zip(&pb).take_while(|(x, y)| x == y).count() - 1;
        let c = &nodes[pa[k]];
        let end = |p: &[usize]| p.get(k + 1).map(|&n| nodes[n].begin);
        let want_lsn = match (end(&pa), end(&pb)) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, None) | (None, x) => x,
        };

        let (sa, sb) = (spans_of(&nodes, a), spans_of(&nodes, b));
        let f = common_ancestor(&sa, &sb).expect("one tree: a common root");
        prop_assert_eq!((f.tli, f.begin, f.index, f.lsn), (c.tli, c.begin, k, want_lsn));
        // Just before the fork both histories are on the common timeline.
        if let Some(l) = want_lsn {
            if l.0 > c.begin.0 {
                let before = Lsn(l.0 - 1);
                prop_assert_eq!(tli_of_point(before, &sa), Some(c.tli));
                prop_assert_eq!(tli_of_point(before, &sb), Some(c.tli));
            }
        }

        // The graph of every file answers the same.
        let g = TimelineGraph::from_histories(
            nodes.iter().skip(1).map(|n| TimelineHistory::parse(n.tli, n.text.as_bytes()).unwrap()),
        );
        let key = |i: usize| TimelineKey { tli: nodes[i].tli, begin: nodes[i].begin };
        prop_assert_eq!(&g.ancestry_of(key(a)).unwrap(), &sa);
        prop_assert_eq!(&g.ancestry_of(key(b)).unwrap(), &sb);
        for finding in g.findings() {
            match finding {
                GraphFinding::ConflictingParents { .. } | GraphFinding::MissingHistory { .. } => {
                    prop_assert!(false, "{:?}", finding)
                }
                GraphFinding::IndependentPromotions { .. } => prop_assert!(!shared_numbering),
                GraphFinding::SkipsTimelines { .. } => prop_assert!(shared_numbering),
            }
        }
        // Each timeline ends where its children begin.
        for (i, n) in nodes.iter().enumerate() {
            let mut children: Vec<_> = nodes
                .iter()
                .filter(|c| c.parent == Some(i))
                .map(|c| (c.begin, TimelineKey { tli: c.tli, begin: c.begin }))
                .collect();
            children.sort();
            prop_assert_eq!(g.ends(TimelineKey { tli: n.tli, begin: n.begin }), children);
        }
    }
}
