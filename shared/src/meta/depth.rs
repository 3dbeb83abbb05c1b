//! A nesting-depth bound checked before any parser sees a body.
//!
//! JSON parsers that recurse (sonic-rs does, also while skipping unknown values) overflow the
//! stack on a body nested deep enough, and a stack overflow aborts the whole process: for the
//! webhook that means no answer, Meta retrying the same body for days, and the body never
//! queued. One linear pass over the bytes, tracking strings and escapes, refuses such a body
//! first, so no input can reach a recursion deeper than [`MAX_DEPTH`].

/// The deepest nesting a webhook body may have. Meta's deepest payload today is 11 levels
/// (a failed status: `entry[].changes[].value.statuses[].errors[].error_data`, counting each
/// array and object). 32 leaves room for shapes Meta may add and keeps even a debug build safe:
/// measured with `shared/examples/deep_probe.rs`, sonic-rs skipping an unknown value takes
/// about 37 KB of stack per level in a debug build (a 2 MiB thread overflows at ~57 levels),
/// far less in release.
pub const MAX_DEPTH: usize = 32;

/// Whether `bytes` nests no deeper than `max` (objects and arrays; brackets inside strings do
/// not count). Not a validator: malformed JSON within the bound passes, and the parser says why.
pub fn within(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Skip the string: to the next quote not escaped.
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
                        None => return true,
                        Some(at) if bytes[i + at] == b'\\' => i += at + 2,
                        Some(at) => {
                            i += at;
                            break;
                        }
                    }
                    if i >= bytes.len() {
                        return true;
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_objects_and_arrays_but_not_brackets_in_strings() {
        assert!(within(br#"{"a":[{"b":[1]}]}"#, 4));
        assert!(!within(br#"{"a":[{"b":[1]}]}"#, 3));
        assert!(within(br#"{"a":"[[[[{{{{\"[[[["}"#, 1));
        assert!(within(br#"{"a":"\\"}"#, 1));
        assert!(!within(br#"{"a":"\\","b":[[]]}"#, 2));
    }

    #[test]
    fn unterminated_strings_and_escapes_at_the_end_do_not_read_past_the_body() {
        assert!(within(br#"{"a":"abc"#, 1));
        assert!(within(br#"{"a":"abc\"#, 1));
        assert!(within(b"\"\\", 0));
    }

    #[test]
    fn every_fixture_is_well_within_the_bound() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/meta");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).unwrap();
                assert!(within(&bytes, 11), "{}", path.display());
            }
        }
    }
}
