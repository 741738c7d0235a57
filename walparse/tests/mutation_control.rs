//! Mutation suite on the real `global/pg_control` files of every fixture data directory
//! (PostgreSQL 13–18): every byte flipped, every length cut, seeded random multi-byte damage.
//! Never a panic; the CRC decides, as in PostgreSQL's `get_controlfile`: damage under the CRC is
//! a CRC error (or an unknown version / too short), damage past it changes nothing.
//! (`control_samples.rs` does single flips on the shared samples; this covers the fixtures.)

use std::path::PathBuf;

use walparse::{ControlError, ControlFile};

fn fixture_controls() -> Vec<(String, Vec<u8>)> {
    let root = pgdiverge_fixtures::unpacked_root();
    let mut out = Vec::new();
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    scenarios.sort();
    for s in scenarios {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&s)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        for d in dirs {
            let p = d.join("global/pg_control");
            if let Ok(b) = std::fs::read(&p) {
                out.push((p.display().to_string(), b));
            }
        }
    }
    assert!(
        out.len() >= 10,
        "fixture pg_control files under {}",
        root.display()
    );
    out
}

/// The fields as parsed, for comparing a damaged file with the original.
fn fields(c: &ControlFile) -> String {
    format!("{c:?}")
}

#[test]
fn every_flipped_byte_and_every_cut_of_every_fixture() {
    let mut majors = std::collections::BTreeSet::new();
    for (name, bytes) in fixture_controls() {
        let orig = ControlFile::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        majors.insert(orig.major_version());
        let layout = orig.layout();
        // Every byte of ControlFileData and a little past it, then every 97th byte of the rest
        // (zero padding to 8 kB, never read).
        let offsets = (0..layout.size + 8).chain((layout.size + 8..bytes.len()).step_by(97));
        for off in offsets {
            for mask in [0x01u8, 0xFF] {
                let mut m = bytes.clone();
                m[off] ^= mask;
                let ctx = format!("{name}: byte {off} ^ {mask:#04X}");
                match ControlFile::parse(&m) {
                    Ok(c) => {
                        // Only bytes PostgreSQL does not check may change without an error.
                        assert!(off >= layout.crc + 4, "{ctx}: accepted");
                        assert_eq!(fields(&c), fields(&orig), "{ctx}");
                    }
                    Err(ControlError::BadCrc { .. }) => assert!(off < layout.crc + 4, "{ctx}"),
                    // The version field itself.
                    Err(ControlError::UnknownVersion { .. } | ControlError::TooShort { .. }) => {
                        assert!((8..12).contains(&off), "{ctx}")
                    }
                    Err(e) => panic!("{ctx}: {e}"),
                }
                // Forensic parsing keeps every field readable whatever the CRC says.
                if let Ok((_, mismatch)) = ControlFile::parse_unchecked(&m) {
                    assert_eq!(mismatch.is_none(), off >= layout.crc + 4, "{ctx}");
                }
            }
        }
        for cut in 0..=layout.size + 1 {
            let r = ControlFile::parse(&bytes[..cut.min(bytes.len())]);
            if cut < layout.size {
                assert!(
                    matches!(r, Err(ControlError::TooShort { .. })),
                    "{name}: cut at {cut}: {r:?}"
                );
            } else {
                assert_eq!(fields(&r.unwrap()), fields(&orig), "{name}: cut at {cut}");
            }
        }
    }
    assert!(majors.len() >= 5, "fixtures of several majors: {majors:?}");
}

#[test]
fn random_multi_byte_damage_never_panics() {
    let mut s = 0x243F_6A88_85A3_08D3u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut outcomes = [0usize; 2];
    for (name, bytes) in fixture_controls() {
        for round in 0..300 {
            let mut m = bytes.clone();
            for _ in 0..1 + next() % 8 {
                let i = (next() % m.len() as u64) as usize;
                m[i] = next() as u8;
            }
            if round % 10 == 0 {
                let len = (next() % m.len() as u64) as usize;
                m.truncate(len);
            }
            let checked = ControlFile::parse(&m);
            let unchecked = ControlFile::parse_unchecked(&m);
            match (&checked, &unchecked) {
                (Ok(a), Ok((b, None))) => assert_eq!(fields(a), fields(b), "{name}"),
                (Err(_), Ok((_, Some(_))) | Err(_)) => {}
                other => panic!("{name} round {round}: {other:?}"),
            }
            outcomes[usize::from(checked.is_ok())] += 1;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
