//! Prints WAL records in pg_waldump's layout.
//!
//! `cargo run -p walparse --example waldump -- START SEGSIZE_MB TIMELINES DIR...`
//! where TIMELINES is the history oldest first, e.g. `1,2@0/E000A0,3@0/F000A0`
//! (each timeline after the first with the LSN where it begins).
//! Example: `waldump 0/800068 1 1,2@0/E000A0 /tmp/wal`.

use std::process::ExitCode;

use walparse::display::WaldumpLine;
use walparse::{DirSource, Lsn, TliSpan, WalReader, WalSegSize};

fn parse_timelines(s: &str) -> Option<Vec<TliSpan>> {
    let mut spans: Vec<TliSpan> = Vec::new();
    for part in s.split(',') {
        let (tli, begin) = match part.split_once('@') {
            Some((t, b)) => (t.parse().ok()?, b.parse().ok()?),
            None => (part.parse().ok()?, Lsn::INVALID),
        };
        if let Some(last) = spans.last_mut() {
            last.end = Some(begin);
        }
        spans.push(TliSpan {
            tli,
            begin,
            end: None,
        });
    }
    Some(spans)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: waldump START SEGSIZE_MB TIMELINES DIR...";
    if args.len() < 4 {
        eprintln!("{usage}");
        return ExitCode::from(2);
    }
    let (Ok(start), Some(seg), Some(tl)) = (
        args[0].parse::<Lsn>(),
        args[1]
            .parse::<u32>()
            .ok()
            .and_then(|mb| WalSegSize::new(mb << 20)),
        parse_timelines(&args[2]),
    ) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let mut reader = WalReader::new(DirSource::new(&args[3..]), start, &tl, seg);
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => println!("{}", WaldumpLine(&rec)),
            Ok(None) => break,
            Err(e) => {
                eprintln!("waldump: error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(end) = reader.end() {
        eprintln!("waldump: end of WAL at {}: {end}", end.lsn);
    }
    ExitCode::SUCCESS
}
