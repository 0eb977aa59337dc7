#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| docspace_batch_fuzz::csv(data));
