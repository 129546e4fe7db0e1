//! Sprig's hashes and secrets: `sha1sum`, `sha256sum`, `sha512sum`, `adler32sum`, `bcrypt`,
//! `htpasswd`, `derivePassword`, `encryptAES`, `decryptAES`. (Keys and certificates are in
//! [`crate::certs`].)

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use base64::Engine as _;
use minijinja::{Error, State, Value};
use rand::RngCore;
use ring::{digest, hmac};

use crate::dicts::{string_arg, wrong_type};
use crate::value::{self, Num};
use crate::{Registry, go_error, want_args};

/// Registers the hash and secret functions.
pub fn register(r: &mut Registry) {
    r.add("sha1sum", |_: &State<'_, '_>, args: &[Value]| {
        hash("sha1sum", args, &digest::SHA1_FOR_LEGACY_USE_ONLY)
    });
    r.add("sha256sum", |_: &State<'_, '_>, args: &[Value]| {
        hash("sha256sum", args, &digest::SHA256)
    });
    r.add("sha512sum", |_: &State<'_, '_>, args: &[Value]| {
        hash("sha512sum", args, &digest::SHA512)
    });
    r.add("adler32sum", |_: &State<'_, '_>, args: &[Value]| {
        want_args("adler32sum", args, 1)?;
        let s = string_arg(args, 0)?;
        Ok(Value::from(adler32(s.as_bytes()).to_string()))
    });
    r.add("bcrypt", |_: &State<'_, '_>, args: &[Value]| {
        want_args("bcrypt", args, 1)?;
        let s = string_arg(args, 0)?;
        Ok(Value::from(bcrypt_text(&s)))
    });
    r.add("htpasswd", |_: &State<'_, '_>, args: &[Value]| {
        want_args("htpasswd", args, 2)?;
        let user = string_arg(args, 0)?;
        let password = string_arg(args, 1)?;
        if user.contains(':') {
            return Ok(Value::from(format!("invalid username: {user}")));
        }
        Ok(Value::from(format!("{user}:{}", bcrypt_text(&password))))
    });
    r.add("derivePassword", derive_password);
    r.add("encryptAES", encrypt_aes);
    r.add("decryptAES", decrypt_aes);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(name: &str, args: &[Value], alg: &'static digest::Algorithm) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let s = string_arg(args, 0)?;
    Ok(Value::from(hex(digest::digest(alg, s.as_bytes()).as_ref())))
}

/// Adler-32 of `data` (`hash/adler32`).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

/// Sprig's `bcrypt`: the `$2a$10$` hash, or Sprig's failure text as the result.
fn bcrypt_text(password: &str) -> String {
    if password.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .into();
    }
    match bcrypt::hash_with_result(password, 10) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

/// A Go `uint32` parameter (a template integer that fits).
fn uint32_arg(args: &[Value], i: usize) -> Result<u32, Error> {
    let v = &args[i];
    match value::num(v) {
        Some(Num::Int(n)) => u32::try_from(n).map_err(|_| wrong_type(i, "uint32", v)),
        _ => Err(wrong_type(i, "uint32", v)),
    }
}

/// The Master Password templates Sprig's `derivePassword` uses, by password type.
fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

/// The characters a Master Password template letter stands for.
fn template_characters(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// `derivePassword counter type password user site`: the Master Password algorithm (scrypt
/// key from password and user, HMAC-SHA256 seed from site and counter, then a template).
fn derive_password(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("derivePassword", args, 5)?;
    let counter = uint32_arg(args, 0)?;
    let kind = string_arg(args, 1)?;
    let password = string_arg(args, 2)?;
    let user = string_arg(args, 3)?;
    let site = string_arg(args, 4)?;
    let Some(templates) = password_templates(&kind) else {
        return Ok(Value::from(format!("cannot find password template {kind}")));
    };
    const SEED: &[u8] = b"com.lyndir.masterpassword";
    let mut salt = SEED.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = scrypt::Params::new(15, 8, 2).map_err(|e| go_error(e.to_string()))?;
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return Ok(Value::from(format!("failed to derive password: {e}")));
    }
    let mut message = SEED.to_vec();
    message.extend_from_slice(&(site.len() as u32).to_be_bytes());
    message.extend_from_slice(site.as_bytes());
    message.extend_from_slice(&counter.to_be_bytes());
    let seed = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &message);
    let seed = seed.as_ref();
    let template = templates[usize::from(seed[0]) % templates.len()].as_bytes();
    let out: String = template
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_characters(*c);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect();
    Ok(Value::from(out))
}

/// The AES-256 key Sprig makes of a password: its first 32 bytes, zero-padded.
fn aes_key(password: &str) -> aes::Aes256 {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    aes::Aes256::new(&key.into())
}

/// `encryptAES password text`: base64 of a random IV and the AES-256-CBC ciphertext of the
/// padded text; "" stays "".
fn encrypt_aes(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("encryptAES", args, 2)?;
    let password = string_arg(args, 0)?;
    let text = string_arg(args, 1)?;
    if text.is_empty() {
        return Ok(Value::from(""));
    }
    let cipher = aes_key(&password);
    let mut content = text.into_bytes();
    let pad = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(pad as u8, pad));
    let mut out = vec![0u8; 16];
    rand::rng().fill_bytes(&mut out);
    let mut prev: [u8; 16] = out[..16].try_into().unwrap_or_default();
    for block in content.chunks(16) {
        let mut b = [0u8; 16];
        for (i, x) in block.iter().enumerate() {
            b[i] = x ^ prev[i];
        }
        let mut arr = b.into();
        cipher.encrypt_block(&mut arr);
        prev = arr.into();
        out.extend_from_slice(&prev);
    }
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(out),
    ))
}

/// `decryptAES password b64`: the inverse of `encryptAES`, with Go's failures for input that
/// is too short, not whole blocks, or wrongly padded.
fn decrypt_aes(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("decryptAES", args, 2)?;
    let password = string_arg(args, 0)?;
    let text = string_arg(args, 1)?;
    if text.is_empty() {
        return Ok(Value::from(""));
    }
    let data = crate::encodings::base64_decode(text.as_bytes())
        .map_err(|at| go_error(format!("illegal base64 data at input byte {at}")))?;
    if data.len() < 16 {
        // The decoded slice's capacity is base64's DecodedLen of the text.
        return Err(go_error(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            text.len() / 4 * 3
        )));
    }
    let (iv, body) = data.split_at(16);
    if body.len() % 16 != 0 {
        return Err(go_error("crypto/cipher: input not full blocks"));
    }
    let cipher = aes_key(&password);
    let mut prev: [u8; 16] = iv.try_into().unwrap_or_default();
    let mut plain = Vec::with_capacity(body.len());
    for block in body.chunks(16) {
        let cur: [u8; 16] = block.try_into().unwrap_or_default();
        let mut arr = cur.into();
        cipher.decrypt_block(&mut arr);
        let b: [u8; 16] = arr.into();
        plain.extend(b.iter().zip(prev).map(|(x, p)| x ^ p));
        prev = cur;
    }
    let Some(&last) = plain.last() else {
        return Err(go_error("runtime error: index out of range [-1]"));
    };
    let keep = plain.len() as i64 - i64::from(last);
    if keep < 0 {
        return Err(go_error(format!(
            "runtime error: slice bounds out of range [:{keep}]"
        )));
    }
    plain.truncate(keep as usize);
    Ok(Value::from(String::from_utf8_lossy(&plain).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::int;
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

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn hashes_are_hex_as_sprig_prints_them() {
        assert_eq!(
            call("sha256sum", &[s("abc")]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            call("sha1sum", &[s("abc")]).unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            call("sha512sum", &[s("abc")]).unwrap(),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(call("adler32sum", &[s("abc")]).unwrap(), "38600999");
        assert_eq!(call("adler32sum", &[s("")]).unwrap(), "1");
        assert_eq!(
            call("sha256sum", &[Value::from(1.5)]).unwrap_err(),
            "wrong type for value; expected string; got float64"
        );
        assert_eq!(
            call("sha256sum", &[value::nil()]).unwrap_err(),
            "wrong type for value; expected string; got interface {}"
        );
    }

    #[test]
    fn bcrypt_and_htpasswd() {
        let h = call("htpasswd", &[s("user"), s("p")]).unwrap();
        assert_eq!(h.len(), 65);
        let hash = h.strip_prefix("user:").unwrap();
        assert!(hash.starts_with("$2a$10$"), "{hash}");
        assert!(bcrypt::verify("p", hash).unwrap());
        assert_eq!(
            call("htpasswd", &[s("a:b"), s("p")]).unwrap(),
            "invalid username: a:b"
        );
        assert_eq!(
            call("bcrypt", &[s(&"x".repeat(73))]).unwrap(),
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
        );
    }

    #[test]
    fn derive_password_matches_sprig() {
        let derive = |c: i64, t: &str, p: &str, u: &str, site: &str| {
            call("derivePassword", &[int(c), s(t), s(p), s(u), s(site)]).unwrap()
        };
        assert_eq!(
            derive(1, "long", "password", "user", "example.com"),
            "ZedaFaxcZaso9*"
        );
        assert_eq!(
            derive(1, "nope", "p", "u", "s"),
            "cannot find password template nope"
        );
        assert_eq!(
            derive(3, "maximum", "pw", "üser", "site"),
            "J0-qu4To5vwaP$oWhj#V"
        );
    }

    #[test]
    fn aes_round_trips_and_fails_as_go() {
        let enc = call("encryptAES", &[s("secretkey"), s("plaintext")]).unwrap();
        assert_eq!(enc.len(), 44);
        assert_eq!(
            call("decryptAES", &[s("secretkey"), s(&enc)]).unwrap(),
            "plaintext"
        );
        let enc = call("encryptAES", &[s(&"k".repeat(40)), s(&"x".repeat(16))]).unwrap();
        assert_eq!(
            call("decryptAES", &[s(&"k".repeat(40)), s(&enc)]).unwrap(),
            "x".repeat(16)
        );
        // texts Sprig encrypted
        assert_eq!(
            call(
                "decryptAES",
                &[
                    s("secretkey"),
                    s("ls4oOTtkcj42IPlbRbk1PuRRpTZFhLPFLIfTRZuLoAQ=")
                ]
            )
            .unwrap(),
            "plaintext"
        );
        assert_eq!(
            call(
                "decryptAES",
                &[
                    s("a-very-long-password-longer-than-32-bytes!!"),
                    s("Di6P73jiDTFE2kvnWMnUJC0bwpVu8GGl+z5WLSi3Vi+Z5mnUPSdFAD0nf00UA32e")
                ]
            )
            .unwrap(),
            "sixteen byte msg"
        );
        assert_eq!(call("encryptAES", &[s("k"), s("")]).unwrap(), "");
        assert_eq!(call("decryptAES", &[s("k"), s("")]).unwrap(), "");
        assert_eq!(
            call("decryptAES", &[s("k"), s("!!")]).unwrap_err(),
            "illegal base64 data at input byte 0"
        );
        assert_eq!(
            call("decryptAES", &[s("k"), s("YWJj")]).unwrap_err(),
            "runtime error: slice bounds out of range [:16] with capacity 3"
        );
        assert_eq!(
            call("decryptAES", &[s("k"), s("YWJjYWJjYWJjYWJjYQ==")]).unwrap_err(),
            "runtime error: slice bounds out of range [:16] with capacity 15"
        );
    }
}
