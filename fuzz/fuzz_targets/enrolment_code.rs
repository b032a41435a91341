//! Any text pasted, opened from a link or a file as an enrolment code, and any PIN.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimamori_core::enrol::Sealed;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (code, pin) = text.split_once('\n').unwrap_or((&text, "ABCDE-12345"));
    for candidate in [code.to_owned(), format!("MMR1.{code}")] {
        if let Ok(sealed) = Sealed::parse(&candidate) {
            // Opening costs an Argon2 run of bounded cost; a wrong PIN or damage is refused.
            let _ = sealed.open(pin, 0);
        }
    }
});
