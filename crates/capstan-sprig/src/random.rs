//! Sprig's random functions: `randAlphaNum`, `randAlpha`, `randNumeric`, `randAscii`,
//! `randBytes`, `uuidv4`, from the operating system's generator (random in Helm too).

use base64::Engine as _;
use minijinja::{Error, State, Value};
use rand::{Rng, RngCore};

use crate::lists::int_arg;
use crate::{Registry, go_error, want_args};

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";

/// Registers the random functions.
pub fn register(r: &mut Registry) {
    r.add("randAlphaNum", |_: &State<'_, '_>, args: &[Value]| {
        random_string("randAlphaNum", args, &format!("{UPPER}{LOWER}{DIGITS}"))
    });
    r.add("randAlpha", |_: &State<'_, '_>, args: &[Value]| {
        random_string("randAlpha", args, &format!("{UPPER}{LOWER}"))
    });
    r.add("randNumeric", |_: &State<'_, '_>, args: &[Value]| {
        random_string("randNumeric", args, DIGITS)
    });
    r.add("randAscii", |_: &State<'_, '_>, args: &[Value]| {
        // goutils draws from the printable characters ' ' through '~'.
        let printable: String = (b' '..=b'~').map(char::from).collect();
        random_string("randAscii", args, &printable)
    });
    r.add("randBytes", rand_bytes);
    r.add("uuidv4", |_: &State<'_, '_>, args: &[Value]| {
        want_args("uuidv4", args, 0)?;
        Ok(Value::from(uuid_v4()))
    });
}

/// `count` characters drawn uniformly from `alphabet`; none for a count below 1.
fn random_string(name: &str, args: &[Value], alphabet: &str) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let count = int_arg(args, 0)?;
    let chars: Vec<char> = alphabet.chars().collect();
    let mut rng = rand::rng();
    let out: String = (0..count.max(0))
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect();
    Ok(Value::from(out))
}

/// `randBytes n`: `n` random bytes, base64-encoded.
fn rand_bytes(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("randBytes", args, 1)?;
    let count = int_arg(args, 0)?;
    let count = usize::try_from(count)
        .map_err(|_| go_error("runtime error: makeslice: len out of range"))?;
    let mut buf = vec![0u8; count];
    rand::rng().fill_bytes(&mut buf);
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(buf),
    ))
}

/// A random (version 4, RFC 4122 variant) UUID in its lowercase hyphenated form.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{float64, int};
    use minijinja::Environment;

    fn call(name: &str, args: &[Value]) -> Result<String, String> {
        let mut r = Registry::default();
        register(&mut r);
        let env = Environment::new();
        let state = env.empty_state();
        (r.get(name).expect(name))(&state, args)
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .map_err(|e| e.detail().unwrap_or_default().to_string())
    }

    #[test]
    fn strings_have_the_length_and_alphabet() {
        type Check = fn(char) -> bool;
        let checks: [(&str, Check); 4] = [
            ("randAlphaNum", |c| c.is_ascii_alphanumeric()),
            ("randAlpha", |c| c.is_ascii_alphabetic()),
            ("randNumeric", |c| c.is_ascii_digit()),
            ("randAscii", |c| (' '..='~').contains(&c)),
        ];
        for (name, ok) in checks {
            let s = call(name, &[int(200)]).unwrap();
            assert_eq!(s.len(), 200, "{name}");
            assert!(s.chars().all(ok), "{name}: {s}");
            assert_eq!(call(name, &[int(0)]).unwrap(), "");
            assert_eq!(call(name, &[int(-1)]).unwrap(), "");
        }
        assert_ne!(
            call("randAlphaNum", &[int(32)]),
            call("randAlphaNum", &[int(32)])
        );
        assert_eq!(
            call("randAlphaNum", &[float64(5.0)]).unwrap_err(),
            "wrong type for value; expected int; got float64"
        );
    }

    #[test]
    fn bytes_are_base64() {
        assert_eq!(call("randBytes", &[int(3)]).unwrap().len(), 4);
        assert_eq!(call("randBytes", &[int(0)]).unwrap(), "");
        assert_eq!(
            call("randBytes", &[int(-1)]).unwrap_err(),
            "runtime error: makeslice: len out of range"
        );
    }

    #[test]
    fn uuids_are_version_4() {
        let u = call("uuidv4", &[]).unwrap();
        assert_eq!(u.len(), 36);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }
}
