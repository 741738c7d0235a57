//! `pgdiverge timeline DIR...`: the timeline tree of one or more clusters — every history file
//! they hold (pg_wal and `--archive` directories) merged into one graph (walparse's
//! [`TimelineGraph`], which keeps independent promotions to the same number apart) — with each
//! cluster's position marked on its branch and the fork points labelled with their LSNs.
//!
//! Drawn as a text tree (Unicode, or ASCII with `--ascii` or a non-UTF-8 locale), or as Mermaid
//! (renders in GitHub/GitLab Markdown), Graphviz dot, or JSON.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use walparse::timeline::{GraphFinding, TimelineGraph, TimelineKey};
use walparse::{Lsn, TimeLineId};

use crate::cluster::{Cluster, OpenOptions};
use crate::term::{Context, Paint};

/// Where one cluster is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Short name (the directory's last component, made unique).
    pub name: String,
    /// The directory as given.
    pub path: PathBuf,
    /// Its timeline.
    pub timeline: TimeLineId,
    /// Where that timeline begins.
    pub timeline_begin: String,
    /// Its position: the end of the WAL it holds, else its latest checkpoint.
    pub lsn: String,
    /// `end-of-wal` or `checkpoint`.
    pub kind: &'static str,
    /// Forks off its own timeline that lie before its position: it wrote past them, so its
    /// history diverges from those branches. `(fork LSN, child timeline, bytes past)`.
    pub past_forks: Vec<PastFork>,
    #[serde(skip)]
    key: TimelineKey,
    #[serde(skip)]
    at: Lsn,
}

/// A branch a cluster wrote past.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PastFork {
    /// The fork LSN.
    pub lsn: String,
    /// The timeline that forked there.
    pub timeline: TimeLineId,
    /// Bytes of WAL the cluster wrote after the fork.
    pub bytes_past: u64,
}

/// One timeline of the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineNode {
    /// Timeline id.
    pub tli: TimeLineId,
    /// Where it begins (its parent's switchpoint; `0/0` for a root).
    pub begin: String,
    /// Its parent, `(tli, begin)`; `null` for a root.
    pub parent: Option<(TimeLineId, String)>,
    /// History files describing it.
    pub history_files: Vec<PathBuf>,
    #[serde(skip)]
    key: TimelineKey,
    #[serde(skip)]
    parent_key: Option<TimelineKey>,
}

/// The tree of one database system (clusters sharing a system identifier).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineTree {
    /// The system identifier of these clusters.
    pub system_identifier: String,
    /// Every timeline, ordered by id then begin.
    pub timelines: Vec<TimelineNode>,
    /// The clusters, in argument order.
    pub clusters: Vec<Position>,
    /// What the history files say that pg_rewind would not notice.
    pub findings: Vec<String>,
    /// Prefix of node ids (unique per system when several are drawn).
    #[serde(skip)]
    prefix: String,
}

/// `--format json`: one tree per database system, in argument order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Forest {
    /// The systems; more than one means some clusters never were one cluster.
    pub systems: Vec<TimelineTree>,
}

impl TimelineTree {
    fn node_id(&self, k: TimelineKey) -> String {
        format!("{}tl{}_{:X}", self.prefix, k.tli, k.begin.0)
    }
    fn cluster_id(&self, i: usize) -> String {
        format!("{}c{i}", self.prefix)
    }
}

fn describe(f: &GraphFinding) -> String {
    match f {
        GraphFinding::IndependentPromotions { tli, begins } => format!(
            "timeline {tli} was created {} times, at {}: independent promotions",
            begins.len(),
            begins
                .iter()
                .map(Lsn::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        GraphFinding::SkipsTimelines { timeline, gaps } => format!(
            "the history of timeline {} skips timeline{} {}: sibling branches not seen here",
            timeline.tli,
            if gaps.len() == 1 && gaps[0].0 == gaps[0].1 {
                ""
            } else {
                "s"
            },
            gaps.iter()
                .map(|(a, b)| if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        GraphFinding::MissingHistory { timeline } => format!(
            "no history file describes timeline {} (begins {}): pg_rewind would fail to fetch {:08X}.history",
            timeline.tli, timeline.begin, timeline.tli
        ),
        GraphFinding::ConflictingParents { timeline, parents } => format!(
            "history files disagree about the parent of timeline {}: {}",
            timeline.tli,
            parents
                .iter()
                .map(|p| format!("timeline {} from {}", p.tli, p.begin))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}

fn short_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| path.display().to_string())
}

/// Builds one tree per system identifier, in the order the clusters are given.
pub fn build(clusters: &[Cluster]) -> Forest {
    let mut ids: Vec<u64> = Vec::new();
    for c in clusters {
        if !ids.contains(&c.control.system_identifier) {
            ids.push(c.control.system_identifier);
        }
    }
    let many = ids.len() > 1;
    let systems = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let group: Vec<&Cluster> = clusters
                .iter()
                .filter(|c| c.control.system_identifier == *id)
                .collect();
            let mut t = build_one(&group);
            t.system_identifier = id.to_string();
            if many {
                t.prefix = format!("s{i}_");
            }
            t
        })
        .collect();
    Forest { systems }
}

/// The tree of clusters of one system.
fn build_one(clusters: &[&Cluster]) -> TimelineTree {
    let mut g = TimelineGraph::new();
    let mut seen = BTreeSet::new();
    for c in clusters {
        for files in c.histories.values() {
            for h in files {
                // The same file reached through two clusters (or a shared archive) counts once.
                let canon = std::fs::canonicalize(&h.path).unwrap_or_else(|_| h.path.clone());
                if seen.insert(canon) {
                    g.add(h.history.clone(), Some(h.path.clone()));
                }
            }
        }
    }
    let mut keys: BTreeSet<TimelineKey> = g.timelines().collect();
    keys.insert(TimelineKey::FIRST);
    let mut names: Vec<String> = Vec::new();
    let mut positions: Vec<Position> = clusters
        .iter()
        .map(|c| {
            let begin = c.spans.last().map_or(Lsn::INVALID, |s| s.begin);
            let key = TimelineKey {
                tli: c.timeline,
                begin,
            };
            let (at, kind) = match &c.end_of_wal {
                Some(e) => (e.end, "end-of-wal"),
                None => (c.control.checkpoint, "checkpoint"),
            };
            let mut name = short_name(&c.path);
            if names.contains(&name) {
                name = c.path.display().to_string();
            }
            names.push(name.clone());
            Position {
                name,
                path: c.path.clone(),
                timeline: c.timeline,
                timeline_begin: begin.to_string(),
                lsn: at.to_string(),
                kind,
                past_forks: Vec::new(),
                key,
                at,
            }
        })
        .collect();
    for p in &positions {
        keys.insert(p.key);
    }
    for p in &mut positions {
        p.past_forks = g
            .ends(p.key)
            .into_iter()
            .filter(|(lsn, _)| *lsn < p.at)
            .map(|(lsn, child)| PastFork {
                lsn: lsn.to_string(),
                timeline: child.tli,
                bytes_past: p.at.bytes_since(lsn),
            })
            .collect();
    }
    let timelines = keys
        .iter()
        .map(|&k| {
            let parent_key = g.parent(k).ok().flatten();
            TimelineNode {
                tli: k.tli,
                begin: k.begin.to_string(),
                parent: parent_key.map(|p| (p.tli, p.begin.to_string())),
                parent_key,
                history_files: g
                    .files_of(k)
                    .iter()
                    .filter_map(|h| h.path.clone())
                    .collect(),
                key: k,
            }
        })
        .collect();
    TimelineTree {
        system_identifier: String::new(),
        timelines,
        clusters: positions,
        findings: g.findings().iter().map(describe).collect(),
        prefix: String::new(),
    }
}

impl TimelineTree {
    fn parent_key(&self, n: &TimelineNode) -> Option<TimelineKey> {
        n.parent_key
    }

    fn children(&self, k: TimelineKey) -> Vec<&TimelineNode> {
        let mut v: Vec<&TimelineNode> = self
            .timelines
            .iter()
            .filter(|n| self.parent_key(n) == Some(k))
            .collect();
        v.sort_by_key(|n| (n.key.begin, n.key.tli));
        v
    }

    fn roots(&self) -> Vec<&TimelineNode> {
        self.timelines
            .iter()
            .filter(|n| self.parent_key(n).is_none())
            .collect()
    }
}

/// Characters of the text tree.
struct Glyphs {
    tee: &'static str,
    last: &'static str,
    bar: &'static str,
    blank: &'static str,
    arrow: &'static str,
    dot: &'static str,
}

const UNICODE: Glyphs = Glyphs {
    tee: "├── ",
    last: "└── ",
    bar: "│   ",
    blank: "    ",
    arrow: "──▶",
    dot: "●",
};

const ASCII: Glyphs = Glyphs {
    tee: "|-- ",
    last: "`-- ",
    bar: "|   ",
    blank: "    ",
    arrow: "-->",
    dot: "*",
};

/// Whether the locale asks for ASCII: `LC_ALL`, `LC_CTYPE` or `LANG` (the first set) names a
/// character set other than UTF-8. Unset means UTF-8.
pub fn locale_is_ascii() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let v = v.to_string_lossy().to_ascii_lowercase();
            return !(v.contains("utf-8") || v.contains("utf8"));
        }
    }
    false
}

enum Item<'t> {
    Fork(&'t TimelineNode),
    Here(&'t Position),
}

fn render_node(
    t: &TimelineTree,
    n: &TimelineNode,
    prefix: &str,
    g: &Glyphs,
    p: Paint,
    o: &mut String,
) {
    let mut items: Vec<(Lsn, u8, Item<'_>)> = t
        .children(n.key)
        .into_iter()
        .map(|c| (c.key.begin, 0, Item::Fork(c)))
        .collect();
    for c in t.clusters.iter().filter(|c| c.key == n.key) {
        items.push((c.at, 1, Item::Here(c)));
    }
    items.sort_by_key(|(l, o, _)| (*l, *o));
    let count = items.len();
    for (i, (_, _, item)) in items.into_iter().enumerate() {
        let is_last = i + 1 == count;
        let (head, more) = if is_last {
            (g.last, g.blank)
        } else {
            (g.tee, g.bar)
        };
        match item {
            Item::Fork(c) => {
                let _ = writeln!(
                    o,
                    "{prefix}{head}{} {} {}",
                    p.cyan(&c.begin),
                    g.arrow,
                    p.bold(&format!("timeline {}", c.tli))
                );
                render_node(t, c, &format!("{prefix}{more}"), g, p, o);
            }
            Item::Here(c) => {
                let what = if c.kind == "end-of-wal" {
                    "end of WAL"
                } else {
                    "checkpoint"
                };
                let mut line = format!(
                    "{prefix}{head}{} {} at {} ({what})",
                    g.dot,
                    p.bold(&c.name),
                    p.cyan(&c.lsn)
                );
                for f in &c.past_forks {
                    let _ = write!(
                        line,
                        "; {}",
                        p.yellow(&format!(
                            "{} bytes past the fork to timeline {} at {}",
                            f.bytes_past, f.timeline, f.lsn
                        ))
                    );
                }
                let _ = writeln!(o, "{line}");
            }
        }
    }
}

/// The text trees, one per system (headed by its identifier when there are several).
pub fn render_text(f: &Forest, ascii: bool, p: Paint) -> String {
    let mut o = String::new();
    let many = f.systems.len() > 1;
    for t in &f.systems {
        if many {
            let _ = writeln!(
                o,
                "{}",
                p.bold(&format!("system identifier {}", t.system_identifier))
            );
        }
        render_tree(t, ascii, p, &mut o);
    }
    if many {
        let _ = writeln!(
            o,
            "{} the clusters have {} different system identifiers: they never were one cluster",
            p.yellow("note:"),
            f.systems.len()
        );
    }
    o
}

fn render_tree(t: &TimelineTree, ascii: bool, p: Paint, o: &mut String) {
    let g = if ascii { &ASCII } else { &UNICODE };
    for r in t.roots() {
        let begin = if r.key.begin.is_valid() {
            format!(" (begins {}, parent unknown)", r.begin)
        } else {
            String::new()
        };
        let _ = writeln!(o, "{}{begin}", p.bold(&format!("timeline {}", r.tli)));
        render_node(t, r, "", g, p, o);
    }
    for f in &t.findings {
        let _ = writeln!(o, "{} {f}", p.yellow("note:"));
    }
}

fn esc_mermaid(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Mermaid flowchart (renders in GitHub/GitLab Markdown inside a ```` ```mermaid ```` block).
pub fn render_mermaid(f: &Forest) -> String {
    let mut o = String::from("flowchart LR\n");
    let many = f.systems.len() > 1;
    for (i, t) in f.systems.iter().enumerate() {
        if many {
            let _ = writeln!(o, "    subgraph s{i}[\"system {}\"]", t.system_identifier);
        }
        mermaid_tree(t, &mut o);
        if many {
            o.push_str("    end\n");
        }
    }
    o
}

fn mermaid_tree(t: &TimelineTree, o: &mut String) {
    for n in &t.timelines {
        let label = if n.key.begin.is_valid() {
            format!("timeline {}<br/>begins {}", n.tli, n.begin)
        } else {
            format!("timeline {}", n.tli)
        };
        let _ = writeln!(o, "    {}[\"{}\"]", t.node_id(n.key), esc_mermaid(&label));
    }
    for n in &t.timelines {
        if let Some(pk) = t.parent_key(n) {
            let _ = writeln!(
                o,
                "    {} -->|\"fork at {}\"| {}",
                t.node_id(pk),
                n.begin,
                t.node_id(n.key)
            );
        }
    }
    for (i, c) in t.clusters.iter().enumerate() {
        let what = if c.kind == "end-of-wal" {
            "end of WAL"
        } else {
            "checkpoint"
        };
        let _ = writeln!(
            o,
            "    {}([\"{}<br/>{what} {}\"])",
            t.cluster_id(i),
            esc_mermaid(&c.name),
            c.lsn
        );
        let _ = writeln!(o, "    {} -.- {}", t.node_id(c.key), t.cluster_id(i));
    }
}

fn esc_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz dot (`dot -Tsvg`).
pub fn render_dot(f: &Forest) -> String {
    let mut o = String::from(
        "digraph timelines {\n    rankdir=LR;\n    node [shape=box, fontname=\"sans-serif\"];\n    edge [fontname=\"sans-serif\"];\n",
    );
    let many = f.systems.len() > 1;
    for (i, t) in f.systems.iter().enumerate() {
        if many {
            let _ = writeln!(
                o,
                "    subgraph cluster_s{i} {{\n    label=\"system {}\";",
                t.system_identifier
            );
        }
        dot_tree(t, &mut o);
        if many {
            o.push_str("    }\n");
        }
    }
    o.push_str("}\n");
    o
}

fn dot_tree(t: &TimelineTree, o: &mut String) {
    for n in &t.timelines {
        let label = if n.key.begin.is_valid() {
            format!("timeline {}\\nbegins {}", n.tli, n.begin)
        } else {
            format!("timeline {}", n.tli)
        };
        let _ = writeln!(o, "    \"{}\" [label=\"{label}\"];", t.node_id(n.key));
    }
    for n in &t.timelines {
        if let Some(pk) = t.parent_key(n) {
            let _ = writeln!(
                o,
                "    \"{}\" -> \"{}\" [label=\"fork at {}\"];",
                t.node_id(pk),
                t.node_id(n.key),
                n.begin
            );
        }
    }
    for (i, c) in t.clusters.iter().enumerate() {
        let what = if c.kind == "end-of-wal" {
            "end of WAL"
        } else {
            "checkpoint"
        };
        let _ = writeln!(
            o,
            "    \"{}\" [shape=ellipse, label=\"{}\\n{what} {}\"];",
            t.cluster_id(i),
            esc_dot(&c.name),
            c.lsn
        );
        let _ = writeln!(
            o,
            "    \"{}\" -> \"{}\" [style=dashed, arrowhead=none];",
            t.node_id(c.key),
            t.cluster_id(i)
        );
    }
}

/// `pgdiverge timeline`'s arguments.
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  pgdiverge timeline /srv/old-primary /srv/new-primary
  pgdiverge timeline --ascii A B C
  pgdiverge timeline --format mermaid A B >> postmortem.md
  pgdiverge timeline --format dot A B | dot -Tsvg > timelines.svg")]
pub struct TimelineArgs {
    /// One or more data directories.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// A WAL archive directory (repeatable): its history files join the graph.
    #[arg(long = "archive", value_name = "DIR")]
    pub archives: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TimelineFormat::Text)]
    pub format: TimelineFormat,
    /// Draw the text tree with ASCII characters only (default: when the locale is not UTF-8).
    #[arg(long)]
    pub ascii: bool,
}

/// `timeline --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TimelineFormat {
    /// A tree for the terminal.
    Text,
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz digraph.
    Dot,
    /// One JSON object.
    Json,
}

/// Runs `pgdiverge timeline`; returns the exit status.
pub fn main(a: &TimelineArgs, ctx: &Context) -> u8 {
    let opts = OpenOptions {
        archives: a.archives.clone(),
        // Maps: half the CPU time of read(); truncation under a map is guarded.
        read_mode: walparse::ReadMode::Mmap,
        ..Default::default()
    };
    let mut clusters = Vec::new();
    for d in &a.dirs {
        match crate::inspect::open_with_progress(d, &opts, ctx) {
            Ok(c) => clusters.push(c),
            Err(e) => return crate::term::fail(&e, crate::term::open_error_hint(&e)),
        }
    }
    let t = build(&clusters);
    let out = match a.format {
        TimelineFormat::Text => {
            render_text(&t, a.ascii || locale_is_ascii(), ctx.color.for_stdout())
        }
        TimelineFormat::Mermaid => render_mermaid(&t),
        TimelineFormat::Dot => render_dot(&t),
        TimelineFormat::Json => match serde_json::to_string_pretty(&t) {
            Ok(s) => s + "\n",
            Err(e) => return crate::term::fail(&e, None),
        },
    };
    match crate::term::print_stdout(&out) {
        Ok(()) => 0,
        Err(e) => crate::term::fail(&e, None),
    }
}
