#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| baomi_fuzz::run("encoding", data));
