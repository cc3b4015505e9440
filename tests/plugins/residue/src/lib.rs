// Test plugin: scans all of linear memory for a marker an earlier invocation
// may have left, logs what it found, then leaves the marker itself: in
// static memory, below the instance's first mebibyte, and in a 4 MiB heap
// block that grows memory past it; a second scan proves the first one would
// have seen it. Each invocation must start as clean as the first, whichever
// pooled slot it reuses.

use hookhost_sdk::prelude::*;

/// Static memory the marker is written to.
static mut AREA: [u64; 8 * 1024] = [0; 8 * 1024];

#[handler]
fn handle(_event: Event) -> Result<(), HandlerError> {
    // Built from an immediate in code, so the marker itself is nowhere in
    // linear memory until written.
    let mark: u64 = std::hint::black_box(0x6b6f_6f68_7473_6f68) ^ 0x0123_4567_89ab_cdef;
    match find(mark) {
        Some((at, size)) => hookhost_sdk::warn!("residue at {at} of {size} bytes"),
        None => hookhost_sdk::info!("clean"),
    }
    // SAFETY: a single-threaded guest; nothing else touches AREA.
    let area = unsafe { &mut *std::ptr::addr_of_mut!(AREA) };
    area.fill(mark);
    let heap = vec![mark; 512 * 1024];
    std::hint::black_box(&heap);
    match find(mark) {
        Some((at, size)) => hookhost_sdk::info!("planted, first at {at} of {size} bytes"),
        None => hookhost_sdk::error!("planted but not found: the scan is broken"),
    }
    Ok(())
}

/// The first aligned word of linear memory equal to `mark`, and the size.
fn find(mark: u64) -> Option<(usize, usize)> {
    let size = core::arch::wasm32::memory_size(0) * 65536;
    (8..size)
        .step_by(8)
        // SAFETY: every aligned address below memory.size is readable guest memory.
        .find(|&at| unsafe { std::ptr::read_volatile(at as *const u64) } == mark)
        .map(|at| (at, size))
}
