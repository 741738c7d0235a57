//! Keeps a memory-mapped segment from killing the process when another process truncates the
//! file under the map.
//!
//! Reading a page of a `MAP_SHARED`/`MAP_PRIVATE` file map that lies past the file's end raises
//! SIGBUS. PostgreSQL never truncates a segment (it recycles one with `rename()` and removes one
//! with `unlink()`, neither of which affects a map), but pg_rewind, `cp`, restore scripts and
//! backup tools do (`O_TRUNC`). So every map is registered here, and a SIGBUS handler, installed
//! once, answers a fault inside a registered map by mapping a page of zeros over the lost page
//! and returning: the faulting read is retried and sees zeros, which the WAL reader takes for
//! the end of WAL — the same prefix a `read()` of the truncated file gives. The map is marked
//! [`truncated`], so callers can tell. A SIGBUS anywhere else is handed back to whatever handled
//! it before (Rust's own stack-overflow handler, or the default action).
//!
//! The handler only loads atomics and calls `mmap`, which on Linux is a plain system call.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Maps registered at once. A map that finds no free slot is not made (the caller reads the
/// file instead), so the limit costs speed, never safety.
const SLOTS: usize = 256;

struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    truncated: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    truncated: AtomicBool::new(false),
};
static SLOTS_TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The action that was in place before ours (stored as raw bytes: `sigaction` is not `Sync`).
static mut PREVIOUS: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();

/// A registered map; unregisters on drop (which must happen before the map is unmapped).
#[derive(Debug)]
pub(crate) struct Guard {
    slot: usize,
}

impl Guard {
    /// Registers the map `[start, start + len)`. `None` when the handler cannot be installed or
    /// every slot is taken: then the file must be read, not mapped.
    pub(crate) fn register(start: *const u8, len: usize) -> Option<Guard> {
        install();
        if !INSTALLED.load(Ordering::Acquire) || len == 0 {
            return None;
        }
        for (i, s) in SLOTS_TABLE.iter().enumerate() {
            if s.len
                .compare_exchange(0, len, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                s.truncated.store(false, Ordering::Release);
                s.start.store(start as usize, Ordering::Release);
                return Some(Guard { slot: i });
            }
        }
        None
    }

    /// True once a read of the map found the file shorter than the map (pages past the new
    /// end read as zeros).
    pub(crate) fn truncated(&self) -> bool {
        SLOTS_TABLE[self.slot].truncated.load(Ordering::Acquire)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let s = &SLOTS_TABLE[self.slot];
        s.start.store(0, Ordering::Release);
        s.len.store(0, Ordering::Release);
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: plain sigaction calls with zero-initialised structures; PREVIOUS is written
        // once here, before INSTALLED is set, and only read by the handler after that.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut previous) == 0 {
                (*std::ptr::addr_of_mut!(PREVIOUS)).write(previous);
                INSTALLED.store(true, Ordering::Release);
            }
        }
    });
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    for s in SLOTS_TABLE.iter() {
        let start = s.start.load(Ordering::Acquire);
        let len = s.len.load(Ordering::Acquire);
        if start != 0 && addr >= start && addr - start < len {
            // SAFETY: sysconf and mmap are system calls. MAP_FIXED replaces exactly the faulting
            // page of our own read-only map (page-aligned, inside the registered range) with
            // zeros; the map's owner unmaps the whole range later, this page included.
            let ok = unsafe {
                let page = libc::sysconf(libc::_SC_PAGESIZE).max(4096) as usize;
                let at = addr & !(page - 1);
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                ) != libc::MAP_FAILED
            };
            if ok {
                s.truncated.store(true, Ordering::Release);
                return;
            }
            break;
        }
    }
    // Not ours (or the page could not be replaced): put the previous action back and return, so
    // the fault happens again and is handled as if we had never been here.
    // SAFETY: PREVIOUS was initialised before INSTALLED was set, which precedes any map.
    unsafe {
        libc::sigaction(
            sig,
            (*std::ptr::addr_of!(PREVIOUS)).as_ptr(),
            std::ptr::null_mut(),
        );
    }
}
