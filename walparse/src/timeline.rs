//! The timeline graph: every history file a cluster holds (pg_wal, archives), merged into one
//! tree of timelines, plus PostgreSQL's two questions about a single history — which timeline
//! holds an LSN (`tliOfPointInHistory`) and where two histories fork (pg_rewind's
//! `findCommonAncestorTimeline`).
//!
//! A timeline is identified by its number **and** its begin LSN ([`TimelineKey`]): two servers
//! promoted independently can both create "timeline 2" at different points, and a graph keyed by
//! number alone would merge them. The graph reports what pg_rewind does not check: such
//! duplicate numbers, histories that skip timeline numbers, ancestors without a history file of
//! their own, and files that disagree about a timeline's parent.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::history::{HistoryError, TimelineHistory};
use crate::lsn::{Lsn, TimeLineId, TliSpan, WalSegSize};
use crate::name::WalFileName;

/// The timeline that holds `lsn` on `history` (oldest first), as `tliOfPointInHistory` in
/// `timeline.c`: the newest span with `begin <= lsn < end`, where an invalid begin or a missing
/// end is unbounded. `None` when the history is not contiguous and no span holds it (PostgreSQL
/// raises "timeline history was not contiguous").
pub fn tli_of_point(lsn: Lsn, history: &[TliSpan]) -> Option<TimeLineId> {
    history
        .iter()
        .rev()
        .find(|s| (!s.begin.is_valid() || s.begin <= lsn) && s.end.map_or(true, |e| lsn < e))
        .map(|s| s.tli)
}

/// Where two histories part: the last timeline they share and the LSN at which they diverge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fork {
    /// The last common timeline.
    pub tli: TimeLineId,
    /// Where that timeline begins (equal on both histories).
    pub begin: Lsn,
    /// The index of that timeline's span in both histories.
    pub index: usize,
    /// The divergence point: the lower of the two histories' ends of the common timeline. `None`
    /// when neither history has left it (both are still on that timeline; pg_rewind then has
    /// nothing to do).
    pub lsn: Option<Lsn>,
}

/// The common ancestor of two histories, exactly as pg_rewind's `findCommonAncestorTimeline`
/// (`pg_rewind.c`): walk both, oldest first, while the entries have the same `tli` and the same
/// `begin`; the last such entry is the common timeline, and the fork LSN is the lower of its two
/// ends (a missing end counts as infinity). `None` when even the first entries differ (pg_rewind:
/// "could not find common ancestor of the source and target cluster's timelines").
pub fn common_ancestor(a: &[TliSpan], b: &[TliSpan]) -> Option<Fork> {
    let shared = a
        .iter()
        .zip(b)
        .take_while(|(x, y)| x.tli == y.tli && x.begin == y.begin)
        .count();
    let index = shared.checked_sub(1)?;
    let lsn = match (a[index].end, b[index].end) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    };
    Some(Fork {
        tli: a[index].tli,
        begin: a[index].begin,
        index,
        lsn,
    })
}

/// A timeline in the graph: its number and where it begins (0 for a first timeline).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimelineKey {
    /// The timeline id.
    pub tli: TimeLineId,
    /// Its first LSN: its parent's switchpoint, or `Lsn::INVALID` (0) for a root.
    pub begin: Lsn,
}

impl TimelineKey {
    /// Timeline 1, which begins at 0 and never has a history file.
    pub const FIRST: TimelineKey = TimelineKey {
        tli: 1,
        begin: Lsn::INVALID,
    };
}

/// Where a history file in the graph came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistorySource {
    /// The file, if the history was read from one.
    pub path: Option<PathBuf>,
    /// The parsed history.
    pub history: TimelineHistory,
}

/// Something in the set of history files that pg_rewind would not notice or would get wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphFinding {
    /// One timeline number with several begin LSNs: independent promotions that both chose the
    /// same number. Positions on these timelines are not comparable by number alone.
    IndependentPromotions {
        /// The timeline id.
        tli: TimeLineId,
        /// The distinct begins, ascending.
        begins: Vec<Lsn>,
    },
    /// A history whose timeline ids (its ancestors and itself) are not 1, 2, 3, … without gaps:
    /// the skipped numbers were used by sibling branches the cluster may not know.
    SkipsTimelines {
        /// The history's own timeline.
        timeline: TimelineKey,
        /// The missing ids, as inclusive ranges.
        gaps: Vec<(TimeLineId, TimeLineId)>,
    },
    /// An ancestor (other than timeline 1) that no history file in the graph describes: it is
    /// known only through its descendants' files. pg_rewind, which fetches that file, fails.
    MissingHistory {
        /// The ancestor.
        timeline: TimelineKey,
    },
    /// Files disagree about a timeline's parent.
    ConflictingParents {
        /// The timeline.
        timeline: TimelineKey,
        /// The parents claimed, ascending.
        parents: Vec<TimelineKey>,
    },
}

/// Why the graph cannot answer a question about a timeline.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// No history file describes the timeline and none of the files lists it as an ancestor:
    /// its parent chain cannot be resolved.
    #[error(
        "timeline {tli}: no history file, and no other history lists it; its ancestry is unknown"
    )]
    MissingHistory {
        /// The timeline id.
        tli: TimeLineId,
    },
    /// Several timelines carry this number (independent promotions); ask by [`TimelineKey`].
    #[error("timeline {tli} is ambiguous: it begins at {} different LSNs", .begins.len())]
    Ambiguous {
        /// The timeline id.
        tli: TimeLineId,
        /// The begins, ascending.
        begins: Vec<Lsn>,
    },
    /// The timeline is not in the graph.
    #[error("timeline {} beginning at {} is not in the graph", .timeline.tli, .timeline.begin)]
    Unknown {
        /// The timeline.
        timeline: TimelineKey,
    },
    /// Files disagree about a timeline's parent, so its ancestry has no single answer.
    #[error("history files disagree about the parent of timeline {} beginning at {}", .timeline.tli, .timeline.begin)]
    Conflict {
        /// The timeline.
        timeline: TimelineKey,
    },
    /// Following parents did not reach a root within the number of timelines in the graph.
    #[error("the parents of timeline {} beginning at {} form a loop", .timeline.tli, .timeline.begin)]
    Loop {
        /// The timeline.
        timeline: TimelineKey,
    },
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// Parents claimed by the histories that list this timeline (more than one: a conflict).
    parents: Vec<TimelineKey>,
    /// Children, with the switchpoint at which each left this timeline (= the child's begin).
    children: Vec<TimelineKey>,
    /// Indices into `histories` of the files whose own timeline this is.
    files: Vec<usize>,
}

/// All history files of one or more clusters, merged into a tree of [`TimelineKey`]s.
#[derive(Clone, Debug, Default)]
pub struct TimelineGraph {
    histories: Vec<HistorySource>,
    nodes: BTreeMap<TimelineKey, Node>,
}

impl TimelineGraph {
    /// An empty graph. Timeline 1 (which never has a file) is implied: [`TimelineGraph::ancestry`]
    /// of 1 answers even when no history mentions it.
    pub fn new() -> TimelineGraph {
        TimelineGraph::default()
    }

    /// A graph of `histories`.
    pub fn from_histories(histories: impl IntoIterator<Item = TimelineHistory>) -> TimelineGraph {
        let mut g = TimelineGraph::new();
        for h in histories {
            g.add(h, None);
        }
        g
    }

    /// Adds one history (read from `path`, if given). Adding the same content twice (a file in
    /// pg_wal and its archived copy) changes nothing but the list of sources.
    pub fn add(&mut self, history: TimelineHistory, path: Option<PathBuf>) {
        let index = self.histories.len();
        let spans = history.spans();
        let mut parent: Option<TimelineKey> = None;
        for (i, s) in spans.iter().enumerate() {
            let key = TimelineKey {
                tli: s.tli,
                begin: s.begin,
            };
            let node = self.nodes.entry(key).or_default();
            if let Some(p) = parent {
                if !node.parents.contains(&p) {
                    node.parents.push(p);
                    node.parents.sort();
                }
            }
            if i + 1 == spans.len() {
                node.files.push(index);
            }
            if let Some(p) = parent {
                let pn = self.nodes.entry(p).or_default();
                if !pn.children.contains(&key) {
                    pn.children.push(key);
                    pn.children.sort_by_key(|k| (k.begin, k.tli));
                }
            }
            parent = Some(key);
        }
        self.histories.push(HistorySource { path, history });
    }

    /// Reads the history file at `path` for timeline `tli` and adds it.
    pub fn add_file(
        &mut self,
        path: &std::path::Path,
        tli: TimeLineId,
    ) -> Result<(), HistoryError> {
        let h = TimelineHistory::read(path, tli)?;
        self.add(h, Some(path.to_path_buf()));
        Ok(())
    }

    /// Adds every `TTTTTTTT.history` file in `dir` (pg_wal or an archive), in name order, and
    /// returns how many. Names are recognised by [`WalFileName::parse`]; other files are ignored.
    pub fn add_dir(&mut self, dir: &std::path::Path) -> Result<usize, HistoryError> {
        let io = |source| HistoryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            // The segment size does not matter for history file names.
            if let Some(WalFileName::History { tli }) = name
                .to_str()
                .and_then(|n| WalFileName::parse(n, WalSegSize::DEFAULT))
            {
                found.push((entry.path(), tli));
            }
        }
        found.sort();
        for (path, tli) in &found {
            self.add_file(path, *tli)?;
        }
        Ok(found.len())
    }

    /// Every history added, in the order added.
    pub fn histories(&self) -> &[HistorySource] {
        &self.histories
    }

    /// Every timeline in the graph, ordered by (tli, begin).
    pub fn timelines(&self) -> impl Iterator<Item = TimelineKey> + '_ {
        self.nodes.keys().copied()
    }

    /// The timelines numbered `tli`, ordered by begin (several only after independent
    /// promotions).
    pub fn timelines_numbered(&self, tli: TimeLineId) -> Vec<TimelineKey> {
        let lo = TimelineKey { tli, begin: Lsn(0) };
        let hi = TimelineKey {
            tli,
            begin: Lsn(u64::MAX),
        };
        self.nodes.range(lo..=hi).map(|(k, _)| *k).collect()
    }

    /// The one timeline numbered `tli`: an error if there is none (for `tli` > 1) or several.
    /// Timeline 1 with no mention in any file is the root `(1, 0)`.
    pub fn resolve(&self, tli: TimeLineId) -> Result<TimelineKey, GraphError> {
        let keys = self.timelines_numbered(tli);
        match keys.as_slice() {
            [k] => Ok(*k),
            [] if tli == 1 => Ok(TimelineKey::FIRST),
            [] => Err(GraphError::MissingHistory { tli }),
            many => Err(GraphError::Ambiguous {
                tli,
                begins: many.iter().map(|k| k.begin).collect(),
            }),
        }
    }

    /// The ancestry of timeline number `tli` as a history (oldest first, the last span open),
    /// ready for [`common_ancestor`] and [`tli_of_point`]. See [`TimelineGraph::ancestry_of`].
    pub fn ancestry(&self, tli: TimeLineId) -> Result<Vec<TliSpan>, GraphError> {
        self.ancestry_of(self.resolve(tli)?)
    }

    /// The ancestry of `timeline`: its chain of parents back to a root, as a history whose spans
    /// end where the next one begins and whose last span (`timeline` itself) is open. Bounded:
    /// a chain longer than the number of timelines in the graph is reported as a loop.
    pub fn ancestry_of(&self, timeline: TimelineKey) -> Result<Vec<TliSpan>, GraphError> {
        let mut chain = vec![timeline];
        let mut cur = timeline;
        loop {
            let Some(node) = self.nodes.get(&cur) else {
                if cur == TimelineKey::FIRST {
                    break; // timeline 1, implied even when no file mentions it
                }
                return Err(GraphError::Unknown { timeline: cur });
            };
            match node.parents.as_slice() {
                [] => break,
                [p] => {
                    if chain.len() > self.nodes.len() {
                        return Err(GraphError::Loop { timeline });
                    }
                    chain.push(*p);
                    cur = *p;
                }
                _ => return Err(GraphError::Conflict { timeline: cur }),
            }
        }
        chain.reverse();
        Ok(chain
            .iter()
            .enumerate()
            .map(|(i, k)| TliSpan {
                tli: k.tli,
                begin: k.begin,
                end: chain.get(i + 1).map(|n| n.begin),
            })
            .collect())
    }

    /// The parent of `timeline` (`None` for a root; an error if files disagree).
    pub fn parent(&self, timeline: TimelineKey) -> Result<Option<TimelineKey>, GraphError> {
        let node = self
            .nodes
            .get(&timeline)
            .ok_or(GraphError::Unknown { timeline })?;
        match node.parents.as_slice() {
            [] => Ok(None),
            [p] => Ok(Some(*p)),
            _ => Err(GraphError::Conflict { timeline }),
        }
    }

    /// Where `timeline` ends: the timelines that branched off it, each with its switchpoint (its
    /// `begin`), ascending. Empty for a timeline nothing branched from. Several entries mean the
    /// timeline was left more than once (for example a standby promoted while the primary went
    /// on, then another).
    pub fn ends(&self, timeline: TimelineKey) -> Vec<(Lsn, TimelineKey)> {
        self.nodes
            .get(&timeline)
            .map(|n| n.children.iter().map(|c| (c.begin, *c)).collect())
            .unwrap_or_default()
    }

    /// The history files whose own timeline is
    /// `timeline`.
    pub fn files_of(&self, timeline: TimelineKey) -> Vec<&HistorySource> {
        self.nodes
            .get(&timeline)
            .map(|n| n.files.iter().map(|&i| &self.histories[i]).collect())
            .unwrap_or_default()
    }

    /// Everything unusual about the set of files: independent promotions, skipped timeline
    /// numbers, ancestors without a file, conflicting parents. Ordered by kind, then timeline.
    pub fn findings(&self) -> Vec<GraphFinding> {
        let mut out = Vec::new();
        // Independent promotions: one number, several begins.
        let mut by_tli: BTreeMap<TimeLineId, Vec<Lsn>> = BTreeMap::new();
        for k in self.nodes.keys() {
            by_tli.entry(k.tli).or_default().push(k.begin);
        }
        for (tli, begins) in by_tli {
            if begins.len() > 1 {
                out.push(GraphFinding::IndependentPromotions { tli, begins });
            }
        }
        // Skipped numbers, once per distinct history (tli, begin).
        let mut seen = std::collections::BTreeSet::new();
        for src in &self.histories {
            let h = &src.history;
            let timeline = TimelineKey {
                tli: h.tli,
                begin: h.begin(),
            };
            if !seen.insert(timeline) {
                continue;
            }
            let mut gaps = Vec::new();
            let mut expected: TimeLineId = 1;
            for tli in h.entries.iter().map(|e| e.parent_tli).chain([h.tli]) {
                if tli > expected {
                    gaps.push((expected, tli - 1));
                }
                expected = tli.saturating_add(1);
            }
            if !gaps.is_empty() {
                out.push(GraphFinding::SkipsTimelines { timeline, gaps });
            }
        }
        for (k, n) in &self.nodes {
            if n.files.is_empty() && k.tli > 1 {
                out.push(GraphFinding::MissingHistory { timeline: *k });
            }
        }
        for (k, n) in &self.nodes {
            if n.parents.len() > 1 {
                out.push(GraphFinding::ConflictingParents {
                    timeline: *k,
                    parents: n.parents.clone(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(tli: TimeLineId, begin: u64, end: Option<u64>) -> TliSpan {
        TliSpan {
            tli,
            begin: Lsn(begin),
            end: end.map(Lsn),
        }
    }

    #[test]
    fn fork_is_min_of_ends_of_last_shared_entry() {
        let a = [span(1, 0, Some(0x100)), span(2, 0x100, None)];
        let b = [span(1, 0, Some(0x80)), span(3, 0x80, None)];
        let f = common_ancestor(&a, &b).unwrap();
        assert_eq!((f.tli, f.index, f.lsn), (1, 0, Some(Lsn(0x80))));
        // Same number, different begin: not the same timeline.
        let c = [span(1, 0, Some(0x90)), span(2, 0x90, None)];
        let f = common_ancestor(&a, &c).unwrap();
        assert_eq!((f.tli, f.lsn), (1, Some(Lsn(0x90))));
        // Both still on timeline 1.
        let d = [span(1, 0, None)];
        assert_eq!(common_ancestor(&d, &d).unwrap().lsn, None);
        assert_eq!(common_ancestor(&a, &[span(2, 0, None)]), None);
    }

    #[test]
    fn tli_of_point_takes_newest_containing_span() {
        let h = [
            span(1, 0, Some(0x100)),
            span(2, 0x100, Some(0x200)),
            span(3, 0x200, None),
        ];
        assert_eq!(tli_of_point(Lsn(0), &h), Some(1));
        assert_eq!(tli_of_point(Lsn(0xFF), &h), Some(1));
        assert_eq!(tli_of_point(Lsn(0x100), &h), Some(2));
        assert_eq!(tli_of_point(Lsn(0x200), &h), Some(3));
        assert_eq!(tli_of_point(Lsn(u64::MAX), &h), Some(3));
        assert_eq!(tli_of_point(Lsn(0x300), &h[..2]), None);
    }
}
