//! Text rendering of a compare [`Report`] for people: the verdict line first, then the fork,
//! each side's position, the reasons, the findings and the commands.

use std::fmt::Write;

use crate::report::{ClusterReport, Report, SegmentStatus, Severity, Side, WalPlan};

/// Renders `r` as plain text (no colour; the CLI may add it later).
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let label = |s: Side| -> &str {
        r.clusters
            .iter()
            .find(|c| c.label == s)
            .map_or("?", |c| c.path.as_str())
    };
    // 1. The verdict line.
    let head = match (r.verdict, r.target_side) {
        (crate::report::Verdict::InSync, _) => "IN-SYNC: nothing to do".to_string(),
        (v, Some(t)) => format!(
            "{}: {} {} (keep {})",
            v.as_str().to_uppercase(),
            match v {
                crate::report::Verdict::Follow => "let it follow:",
                crate::report::Verdict::Rewind => "rewind",
                crate::report::Verdict::Rebuild => "rebuild",
                crate::report::Verdict::InSync => "",
            },
            label(t),
            label(r.source_side)
        ),
        (v, None) => v.as_str().to_uppercase(),
    };
    let _ = writeln!(o, "{head}");
    if r.direction_chosen && r.target_side.is_some() {
        let _ = writeln!(
            o,
            "  (the side to keep cannot be told from the clusters; chosen by --keep or by more WAL — see \"directions\")"
        );
    }
    let _ = writeln!(o);

    // 2. The fork.
    match &r.fork {
        Some(f) => {
            let _ = writeln!(
                o,
                "Fork: {} on timeline {} ({}, {})",
                f.lsn,
                f.timeline,
                match f.found_by {
                    crate::report::ForkSource::TimelineHistory => "timeline history",
                    crate::report::ForkSource::WalRecords => "first differing WAL record",
                },
                match f.wal_check {
                    crate::report::WalCheck::Confirmed => "confirmed by the WAL of both sides",
                    crate::report::WalCheck::NotCovered => "not covered by the WAL both hold",
                    crate::report::WalCheck::Earlier => "records differ before the switchpoint",
                }
            );
        }
        None => {
            let _ = writeln!(o, "Fork: none");
        }
    }
    if let Some(cp) = &r.last_common_checkpoint {
        let _ = writeln!(
            o,
            "Last common checkpoint: {} on timeline {} (redo {})",
            cp.lsn, cp.timeline, cp.redo
        );
    }
    let _ = writeln!(o);

    // 3. Each side.
    for c in &r.clusters {
        cluster_text(&mut o, c);
    }

    // 4. Reasons and findings.
    let _ = writeln!(o, "Why:");
    for reason in &r.reasons {
        let _ = writeln!(o, "  - {} [{}]", reason.message, reason.code);
    }
    if let Some(p) = &r.pg_rewind {
        let _ = writeln!(
            o,
            "  - pg_rewind --dry-run would say: {}{}{}",
            p.outcome,
            p.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            if p.agrees {
                String::new()
            } else {
                format!(" — wrong here [{}]", p.disagreement.unwrap_or("disagrees"))
            }
        );
    }
    for (name, plan) in [("Rewind", &r.rewind_wal), ("Follow", &r.follow_wal)] {
        if let Some(p) = plan {
            plan_text(&mut o, name, p);
        }
    }
    let _ = writeln!(o);
    let notable: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    if !notable.is_empty() {
        let _ = writeln!(o, "Findings:");
        for f in notable {
            let _ = writeln!(
                o,
                "  {} {}{} [{}]",
                match f.severity {
                    Severity::Error => "error:",
                    Severity::Warning => "warning:",
                    Severity::Info => "info:",
                },
                f.cluster
                    .map(|s| format!("{}: ", s.as_str()))
                    .unwrap_or_default(),
                f.message,
                f.code
            );
        }
        let _ = writeln!(o);
    }
    for d in &r.directions {
        let _ = writeln!(
            o,
            "If you keep {} ({}): {}",
            d.keep.as_str(),
            label(d.keep),
            d.verdict.as_str()
        );
    }
    if !r.directions.is_empty() {
        let _ = writeln!(o);
    }

    // 5. Commands.
    if !r.commands.is_empty() {
        let _ = writeln!(o, "What to do:");
        for (i, c) in r.commands.iter().enumerate() {
            let _ = writeln!(o, "  {}. {}", i + 1, c.description);
            if !c.command.is_empty() {
                let _ = writeln!(o, "       {}", c.command);
            }
        }
    }
    o
}

fn cluster_text(o: &mut String, c: &ClusterReport) {
    let _ = writeln!(o, "{} {} ({})", c.label.as_str(), c.path, c.role);
    let _ = writeln!(
        o,
        "    PostgreSQL {}, system {}, state \"{}\"{}{}",
        c.pg_version.as_deref().unwrap_or("?"),
        c.system_identifier,
        c.control.state,
        if c.postmaster_pid {
            ", postmaster.pid present"
        } else {
            ""
        },
        c.signal
            .map(|s| format!(", {s}.signal"))
            .unwrap_or_default()
    );
    let hist: Vec<String> = c
        .history
        .iter()
        .map(|h| match h.end {
            Some(e) => format!("{}[{}..{})", h.timeline, h.begin, e),
            None => format!("{}[{}..)", h.timeline, h.begin),
        })
        .collect();
    let _ = writeln!(
        o,
        "    timeline {} (from {}; pg_control checkpoint on {}), history {}",
        c.timeline,
        c.timeline_from,
        c.control.checkpoint_timeline,
        hist.join(" ")
    );
    match &c.end_of_wal {
        Some(e) => {
            let _ = writeln!(
                o,
                "    end of WAL {} on timeline {} ({})",
                e.lsn, e.timeline, e.reason
            );
        }
        None => {
            let _ = writeln!(o, "    end of WAL unknown (no readable WAL)");
        }
    }
    let _ = writeln!(
        o,
        "    checkpoint {} (redo {}), minRecoveryPoint {} on {}; checksums {}, wal_log_hints {}",
        c.control.checkpoint,
        c.control.redo,
        c.control.min_recovery_point,
        c.control.min_recovery_point_timeline,
        on_off(c.control.data_checksums),
        on_off(c.control.wal_log_hints)
    );
    if let Some(a) = &c.after_fork {
        let _ = writeln!(
            o,
            "    after the fork: {} bytes of WAL; {} records, {} commits in the WAL held from {}",
            a.bytes, a.records, a.commits, a.counted_from
        );
    }
    let _ = writeln!(o);
}

fn plan_text(o: &mut String, name: &str, p: &WalPlan) {
    let _ = writeln!(
        o,
        "  - {name} needs the WAL of {} from {} to {}: {} segments in pg_wal, {} only in an archive, {} missing",
        p.from.as_str(),
        p.start,
        p.end,
        p.in_pg_wal,
        p.archive_only,
        p.missing
    );
    for s in p
        .segments
        .iter()
        .filter(|s| s.status != SegmentStatus::PgWal)
        .take(8)
    {
        let _ = writeln!(
            o,
            "      {} {}",
            s.file,
            match s.status {
                SegmentStatus::Archive => "archive only",
                SegmentStatus::Missing => "MISSING",
                SegmentStatus::PgWal => "pg_wal",
            }
        );
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}
